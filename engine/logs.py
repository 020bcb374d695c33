"""Structured logging: structlog JSON lines on stderr, configured once.

Two safety processors run on every event before rendering:
- redaction: values of secret-looking keys, and any registered secret value found inside
  any string, become ``"[redacted]"``. API keys and webhook secrets are registered the moment
  they are read from the environment (``register_secret``).
- phone masking: values of phone-like keys, and ``+E.164`` numbers inside any other string
  (an error message quoting a row, say), are masked (``+49151*****678``) unless the process
  runs with ``--log-pii``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from engine.core.phones import mask_phone as _mask_phone

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|authorization|signature)", re.I)
_PHONE_KEYS = frozenset(
    {"phone", "phones", "to", "wa_id", "recipient_id", "from_phone", "recipient", "msisdn"}
)
# "+" and 7-15 digits, not glued to other digits or word characters: a phone in free text.
_E164_IN_TEXT = re.compile(r"(?<![\w+])\+[1-9][0-9]{6,14}(?![0-9])")
_secrets: set[str] = set()
_state = {"pii": False, "configured": False, "human": False}


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never appears in a log line (no-op for empty/short values)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def mask_phone(value: str) -> str:
    """``+4915112345678`` -> ``+49151*****678`` (see ``engine.core.phones.mask_phone``)."""
    return _mask_phone(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if not _state["pii"] and "+" in value:
            value = _E164_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), value)
        return value
    if isinstance(value, dict):
        return {k: _scrub_pair(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _scrub_pair(key: Any, value: Any) -> Any:
    if isinstance(key, str) and _SECRET_KEY.search(key) and value not in (None, "", 0):
        return REDACTED
    if isinstance(key, str) and key in _PHONE_KEYS and not _state["pii"]:
        if isinstance(value, str):
            return mask_phone(_scrub(value))
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return [mask_phone(_scrub(v)) for v in value]
    return _scrub(value)


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secrets out, phones masked."""
    for key in list(event):
        event[key] = _scrub_pair(key, event[key])
    return event


def _render_json(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> str:
    return orjson.dumps(event, default=str).decode()


def configure(
    *, level: str = "info", pii: bool = False, stream: TextIO | None = None, human: bool = False
) -> None:
    """Configure structlog once per process (later calls only update ``pii``/level/stream).

    ``human``: render events as ``ts level event key=value`` for a terminal instead of JSON
    (the redaction and masking steps run either way).
    """
    _state["pii"] = pii
    _state["human"] = human
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0) if human else _render_json
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _state["configured"] = True


def get_logger(name: str) -> Any:
    """A bound logger; configures defaults on first use if the CLI did not."""
    if not _state["configured"]:
        configure()
    return structlog.get_logger(name).bind(logger=name)


def is_human() -> bool:
    """True when logs render for a person at a terminal (progress is drawn as a bar)."""
    return bool(_state["human"])
