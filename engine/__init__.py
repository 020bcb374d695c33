"""WhatsApp template campaign engine for 360dialog's Cloud API."""

__version__ = "0.1.0"
