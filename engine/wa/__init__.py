"""360dialog Cloud API (waba-v2) HTTP adapter."""
