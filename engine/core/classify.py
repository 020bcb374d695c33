"""Turn what came back from a send (or a failed status webhook) into an outcome.

Three entry points, all pure and total (they never raise on bad input):

- :func:`classify_response` -- an HTTP answer (status + body) from ``POST /messages``.
- :func:`classify_transport` -- the request failed client-side (no HTTP answer).
- :func:`classify_status_error` -- a ``failed`` status webhook's error code (async path).

Outcomes are frozen dataclasses the runtime pattern-matches::

    match classify_response(status, body):
        case Accepted(wamid=wamid, message_status=ms): ...
        case Ambiguous(): ...                       # row -> unknown
        case Refused(action=Action.THROTTLE): ...   # requeue + pacer.on_throttle
        case Refused(action=Action.PAUSE, scope=scope, pause_s=pause_s): ...

Precedence for errors: Meta ``error.code`` (registry, ``core.codes``) > 360dialog gateway
phrase (only "endpoint rate limit", "lack of payment", "disabled"; their errors carry no
code) > HTTP status. An unknown Meta code is conservative: ``FAIL_RECIPIENT`` with
``unknown_code=True`` (so the report counts it under its code and nobody gets a blind
duplicate), except with a 5xx status where it is ``RETRY`` at most 3 attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

from engine.core.codes import (
    GATEWAY_TEXT_RULES,
    HTTP_RULES,
    Action,
    PauseScope,
    Rule,
    rule_for_code,
)

__all__ = [
    "Accepted",
    "Ambiguous",
    "Outcome",
    "Refused",
    "TransportFailure",
    "classify_response",
    "classify_status_error",
    "classify_transport",
]

_DETAIL_MAX: Final = 300
_UNKNOWN_5XX_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class Accepted:
    """HTTP 2xx with ``messages[0].id``. ``message_status`` is Meta's pacing status
    (``accepted`` | ``held_for_quality_assessment`` | ``paused``); ``wa_id`` is
    ``contacts[0].wa_id`` when present (may differ from the input number)."""

    wamid: str
    message_status: str = "accepted"
    wa_id: str | None = None

    @property
    def held(self) -> bool:
        """Meta is holding the message for quality assessment (template/portfolio pacing)."""
        return self.message_status == "held_for_quality_assessment"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ambiguous:
    """The request may have been accepted: the row goes to ``unknown``, never back to
    ``pending`` directly. ``reason`` is a stable snake_case label."""

    reason: str
    http_status: int | None = None
    detail: str = ""

    @property
    def action(self) -> Action:
        return Action.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """The request was not accepted (or, async, the message failed). Fields copy the
    registry rule (see ``core.codes``) plus what identifies the error.

    ``code``: Meta error code, ``None`` for gateway/HTTP/transport errors.
    ``reason``: stable label (``meta_131026``, ``http_503``, ``d360_lack_of_payment``, ...).
    ``unknown_code``: no registry row matched; the conservative default was applied.
    """

    action: Action
    reason: str
    code: int | None = None
    http_status: int | None = None
    detail: str = ""
    scope: PauseScope | None = None
    pause_s: float | None = None
    suppress: bool = False
    retry_after_min_s: float = 0.0
    max_attempts: int | None = None
    unknown_code: bool = False

    @property
    def code_label(self) -> str:
        """Key for ``failed_by_code``: the Meta code as a string, else ``reason``."""
        return str(self.code) if self.code is not None else self.reason


Outcome = Accepted | Ambiguous | Refused


class TransportFailure(StrEnum):
    """Client-side failures, named by whether the request could have reached the API."""

    CONNECT_FAILED = "connect_failed"  # DNS/TCP/TLS failed: nothing was sent
    TIMEOUT_BEFORE_SEND = "timeout_before_send"  # connection-pool / connect timeout
    TIMEOUT_AFTER_SEND = "timeout_after_send"  # request written, no (full) answer
    RESET_AFTER_SEND = "reset_after_send"  # connection dropped after the request left
    PAYLOAD_ERROR = "payload_error"  # the response body could not be read (aiohttp)
    ENCODE_FAILED = "encode_failed"  # our body could not be serialised: never sent


def _refused(
    rule: Rule,
    reason: str,
    *,
    code: int | None = None,
    http_status: int | None = None,
    detail: str = "",
) -> Refused:
    return Refused(
        action=rule.action,
        reason=reason,
        code=code,
        http_status=http_status,
        detail=detail,
        scope=rule.scope,
        pause_s=rule.pause_s,
        suppress=rule.suppress,
        retry_after_min_s=rule.retry_after_min_s,
        max_attempts=rule.max_attempts,
    )


def classify_transport(kind: TransportFailure | str) -> Refused | Ambiguous:
    """Outcome of a request that got no HTTP answer.

    Before the request left (connect failed, pool timeout): safe to ``RETRY``. After it
    left (timeout, reset, unreadable response): ``Ambiguous``. A body we could not encode
    is a ``FAIL_PAYLOAD``. An unrecognised ``kind`` is treated as ambiguous (the safe side:
    no duplicate).
    """
    try:
        k = TransportFailure(kind)
    except ValueError:
        return Ambiguous(reason=f"transport_{kind}", detail="unrecognised transport failure")
    if k in (TransportFailure.CONNECT_FAILED, TransportFailure.TIMEOUT_BEFORE_SEND):
        return Refused(action=Action.RETRY, reason=f"transport_{k.value}")
    if k is TransportFailure.ENCODE_FAILED:
        return Refused(action=Action.FAIL_PAYLOAD, reason=f"transport_{k.value}")
    return Ambiguous(reason=f"transport_{k.value}")


def classify_status_error(
    code: int | str | None, *, http_status: int | None = None, detail: str = ""
) -> Refused:
    """Action for a ``failed`` status webhook's ``errors[0].code`` (async path).

    The message is already accepted, so it ends ``failed`` whatever the action; the
    action drives side effects: ``PAUSE`` scope, ``suppress``, ``THROTTLE`` to the pacer.
    A missing or unknown code gives ``FAIL_RECIPIENT`` with ``unknown_code=True``.
    """
    c = _as_int(code)
    if c is None:
        return Refused(
            action=Action.FAIL_RECIPIENT,
            reason="status_failed_without_code",
            detail=_clip(detail),
            unknown_code=True,
        )
    return _by_code(c, http_status, _clip(detail))


def classify_response(http_status: int, body: object) -> Outcome:
    """Classify an HTTP answer to ``POST /messages``.

    ``body`` may be raw ``bytes``/``str`` (parsed with orjson; unparsable text is kept for
    the detail and the gateway phrases) or an already-parsed object. 2xx with
    ``messages[0].id`` is :class:`Accepted`; 2xx without it is :class:`Ambiguous` (the API
    may have taken it). 504 and unexpected 1xx/3xx are ambiguous too.
    """
    data, raw_text = _load(body)
    if 200 <= http_status <= 299:
        accepted = _accepted(data)
        if accepted is not None:
            return accepted
    code, text = _error_of(data, raw_text)
    detail = _clip(text)
    if code is not None:
        return _by_code(code, http_status, detail)
    if text and http_status >= 400:
        folded = text.casefold()
        for phrase, reason, text_rule in GATEWAY_TEXT_RULES:
            if phrase in folded:
                return _refused(text_rule, reason, http_status=http_status, detail=detail)
    if 200 <= http_status <= 299:
        return Ambiguous(reason="success_without_wamid", http_status=http_status, detail=detail)
    rule = HTTP_RULES.get(http_status)
    if rule is not None:
        return _refused(rule, f"http_{http_status}", http_status=http_status, detail=detail)
    if 500 <= http_status <= 599:
        if http_status == 504:  # the gateway gave up waiting: upstream may have sent it
            return Ambiguous(reason="http_504", http_status=http_status, detail=detail)
        return Refused(
            action=Action.RETRY,
            reason=f"http_{http_status}",
            http_status=http_status,
            detail=detail,
            max_attempts=_UNKNOWN_5XX_ATTEMPTS,
            unknown_code=True,
        )
    if 400 <= http_status <= 499:
        return Refused(
            action=Action.FAIL_PAYLOAD,
            reason=f"http_{http_status}",
            http_status=http_status,
            detail=detail,
            unknown_code=True,
        )
    return Ambiguous(reason=f"http_{http_status}", http_status=http_status, detail=detail)


def _by_code(code: int, http_status: int | None, detail: str) -> Refused:
    rule = rule_for_code(code)
    reason = f"meta_{code}"
    if rule is not None:
        return _refused(rule, reason, code=code, http_status=http_status, detail=detail)
    if http_status is not None and 500 <= http_status <= 599:
        return Refused(
            action=Action.RETRY,
            reason=reason,
            code=code,
            http_status=http_status,
            detail=detail,
            max_attempts=_UNKNOWN_5XX_ATTEMPTS,
            unknown_code=True,
        )
    return Refused(
        action=Action.FAIL_RECIPIENT,
        reason=reason,
        code=code,
        http_status=http_status,
        detail=detail,
        unknown_code=True,
    )


def _load(body: object) -> tuple[object, str | None]:
    """Parse ``body`` if it is raw; return ``(data, raw_text_if_unparsable)``."""
    if isinstance(body, bytes | bytearray | memoryview | str):
        raw = bytes(body) if not isinstance(body, str) else body
        try:
            return orjson.loads(raw), None
        except (orjson.JSONDecodeError, TypeError):
            text = raw if isinstance(raw, str) else raw[:4096].decode("utf-8", "replace")
            return None, text.strip() or None
    return body, None


def _accepted(data: object) -> Accepted | None:
    if not isinstance(data, dict):
        return None
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    if not isinstance(first, dict):
        return None
    wamid = first.get("id")
    if not isinstance(wamid, str) or not wamid:
        return None
    status = first.get("message_status")
    contacts = data.get("contacts")
    contact = contacts[0] if isinstance(contacts, list) and contacts else None
    wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
    return Accepted(
        wamid=wamid,
        message_status=status if isinstance(status, str) and status else "accepted",
        wa_id=wa_id if isinstance(wa_id, str) and wa_id else None,
    )


def _error_of(data: object, raw_text: str | None) -> tuple[int | None, str | None]:
    """``(meta_code, text)`` from the shapes seen in the wild; never raises.

    Meta/Graph ``{"error": {"code", "message", "error_data": {"details"}}}``; 360dialog
    ``{"error": "text"}``, ``{"error": {"message": ...}}``, ``{"meta": {...}}``; On-Premise
    style ``{"errors": [{"code", "title", "details"}]}``; or non-JSON text.
    """
    if not isinstance(data, dict):
        return None, raw_text
    err = data.get("error")
    if isinstance(err, str):
        return None, err
    if isinstance(err, dict):
        return _as_int(err.get("code")), _text_of(err)
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _as_int(errors[0].get("code")), _text_of(errors[0])
    meta = data.get("meta")
    if isinstance(meta, dict):
        return None, _text_of(meta)
    message = data.get("message")
    return None, message if isinstance(message, str) else raw_text


def _text_of(obj: dict[str, object]) -> str | None:
    parts: list[str] = []
    for key in ("message", "title", "developer_message", "details"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    error_data = obj.get("error_data")
    if isinstance(error_data, dict):
        details = error_data.get("details")
        if isinstance(details, str) and details:
            parts.append(details)
    return " | ".join(parts) or None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _clip(text: str | None) -> str:
    if not text:
        return ""
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"
