"""Small pure helpers at the webhook edge: JSON checks, callback data, identities.

- ``is_json``/``decode_json``: orjson first (fast), the standard library as the fallback
  for valid JSON orjson refuses (integers beyond 64 bits). NaN/Infinity are not JSON.
- ``parse_callback``: the engine sends ``biz_opaque_callback_data = "c{campaign}:m{message}"``;
  anything else (other senders on the same number, tampering) is "not ours" -> ``None``.
- ``e164``: webhook phone numbers come without ``+``; the store keeps ``+E.164``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_CALLBACK = re.compile(r"c([1-9][0-9]{0,18}):m([1-9][0-9]{0,18})")
_BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"\+?([1-9][0-9]{6,14})")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(body: bytes) -> Any:
    """The JSON value of ``body``; ``ValueError`` when it is not JSON (or nests too deep)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc.__class__.__name__}") from exc


def is_json(body: bytes) -> bool:
    """True when ``body`` is one JSON value (UTF-8, RFC 8259)."""
    try:
        decode_json(body)
    except ValueError:
        return False
    return True


def parse_callback(value: object) -> tuple[int, int] | None:
    """``"c42:m9001"`` -> ``(42, 9001)``; anything else -> ``None`` (not ours)."""
    if not isinstance(value, str):
        return None
    match = _CALLBACK.fullmatch(value)
    if match is None:
        return None
    campaign, message = int(match.group(1)), int(match.group(2))
    if campaign > _BIGINT_MAX or message > _BIGINT_MAX:
        return None
    return campaign, message


def format_callback(campaign_id: int, message_id: int) -> str:
    """The callback data the sender puts on a message (the inverse of ``parse_callback``)."""
    return f"c{campaign_id}:m{message_id}"


def e164(value: object) -> str | None:
    """``"16505551234"`` -> ``"+16505551234"``; ``None`` for anything not a phone number."""
    if not isinstance(value, str):
        return None
    match = _DIGITS.fullmatch(value.strip())
    return "+" + match.group(1) if match else None
