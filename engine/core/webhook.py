"""Webhook bodies -> typed events, without ever raising.

:func:`parse_webhook` walks every ``entry[] / changes[]`` and every ``statuses[]``,
``messages[]``, ``user_preferences[]`` and ``errors[]`` inside, and returns a
:class:`ParseResult` of events plus human-readable ``problems`` (what was skipped and
where). Anything it cannot use becomes a problem or an :class:`Unrecognized` event; the
receiver has already stored the raw body, so nothing is lost by skipping.

Tolerated on purpose: timestamps as int or string (a missing/bad one becomes ``0`` with a
problem), missing ``pricing``/``conversation``/``recipient_id`` (BSUID-only users, §8),
unknown statuses (kept; ``core.merge`` ignores them), unknown fields, a flat body with
``statuses``/``messages`` at the top level (no ``entry``).

Opt-out detection (:func:`is_opt_out`) lives in ``core.optout``; it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson

from engine.core.optout import DEFAULT_OPT_OUT_TOKENS, is_opt_out, normalize_reply

__all__ = [
    "DEFAULT_OPT_OUT_TOKENS",
    "AccountUpdate",
    "CapabilityUpdate",
    "ErrorDetail",
    "Event",
    "InboundMessage",
    "ParseResult",
    "QualityUpdate",
    "StatusEvent",
    "TemplateStatusUpdate",
    "Unrecognized",
    "UserPreference",
    "WebhookErrors",
    "is_opt_out",
    "normalize_reply",
    "parse_webhook",
]


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One ``errors[]`` item: Meta code, title (or message), ``error_data.details``."""

    code: int | None
    title: str | None
    details: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEvent:
    """``statuses[]``: ``status`` lower-cased (sent | delivered | read | failed | ...);
    ``timestamp`` epoch seconds (0 = missing); ``callback_data`` = our
    ``biz_opaque_callback_data``; ``phone_number_id`` from ``value.metadata``."""

    wamid: str
    status: str
    timestamp: int
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    callback_data: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    pricing_category: str | None = None
    pricing_type: str | None = None
    billable: bool | None = None
    conversation_origin: str | None = None
    phone_number_id: str | None = None

    @property
    def error_code(self) -> int | None:
        """Code of the first error (the one a failed status is classified by)."""
        return self.errors[0].code if self.errors else None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """``messages[]`` from a user. ``text``: body of a text, or the tapped button's label;
    ``button_payload``: quick-reply payload or interactive reply id; ``context_wamid``: the
    wamid of the message replied to (joins back to a campaign)."""

    wamid: str | None
    from_phone: str | None
    user_id: str | None
    type: str
    text: str | None
    button_payload: str | None
    context_wamid: str | None
    timestamp: int
    phone_number_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPreference:
    """``user_preferences[]``: ``value`` is ``stop`` or ``resume`` (others are skipped)."""

    wa_id: str | None
    user_id: str | None
    category: str | None
    value: str
    timestamp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateStatusUpdate:
    """``message_template_status_update``: ``event`` upper-cased (PAUSED, REINSTATED, ...);
    ``title`` = ``other_info.title`` (FIRST_PAUSE, SECOND_PAUSE, UNPAUSE, ...)."""

    event: str
    template_name: str | None
    language: str | None
    template_id: str | None
    reason: str | None
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityUpdate:
    """``phone_number_quality_update``; ``limit_str`` is the raw tier (``TIER_2K``, ``2000``)
    for ``core.budget.parse_tier``."""

    display_phone_number: str | None
    event: str | None
    limit_str: str | None
    rating: str | None = None  # a quality rating if the body carries one (GREEN/YELLOW/RED)


@dataclass(frozen=True, slots=True)
class CapabilityUpdate:
    """``business_capability_update``; ``limit`` is the raw tier value as a string."""

    limit: str | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``account_update``; ``details`` is the rest of the value as compact sorted JSON."""

    event: str | None
    details: str


@dataclass(frozen=True, slots=True)
class WebhookErrors:
    """Out-of-band ``value.errors[]`` (not tied to one message)."""

    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class Unrecognized:
    """A change we do not handle (kept so the correlator can count/log it)."""

    field: str
    reason: str


Event = (
    StatusEvent
    | InboundMessage
    | UserPreference
    | TemplateStatusUpdate
    | QualityUpdate
    | CapabilityUpdate
    | AccountUpdate
    | WebhookErrors
    | Unrecognized
)


@dataclass(frozen=True, slots=True)
class ParseResult:
    events: tuple[Event, ...]
    problems: tuple[str, ...]


_OBJECT: Final = "whatsapp_business_account"
_LIMIT_KEYS: Final = (
    "max_daily_conversations_per_business",
    "current_limit",
    "max_daily_conversation_per_phone",
)


def parse_webhook(payload: object) -> ParseResult:
    """Parse a webhook body (raw ``bytes``/``str`` or already-parsed JSON). Never raises."""
    parser = _Parser()
    try:
        parser.body(payload)
    except Exception as exc:  # last resort: a bug here must not lose the rest
        parser.problem("body", f"parser error {type(exc).__name__}")
    return ParseResult(tuple(parser.events), tuple(parser.problems))


class _Parser:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.problems: list[str] = []

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def body(self, payload: object) -> None:
        if isinstance(payload, bytes | bytearray | memoryview | str):
            try:
                payload = orjson.loads(payload)
            except (orjson.JSONDecodeError, TypeError):
                self.problem("body", "not JSON")
                return
        if not isinstance(payload, dict):
            self.problem("body", "not a JSON object")
            return
        if "entry" not in payload and ("statuses" in payload or "messages" in payload):
            self.messages_value("body", payload)
            return
        obj = payload.get("object")
        if obj != _OBJECT:
            self.problem("object", f"unexpected {_short(obj)}")
        entries = payload.get("entry")
        if not isinstance(entries, list):
            self.problem("entry", "missing or not a list")
            return
        for i, entry in enumerate(entries):
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                self.problem(f"entry[{i}]", "no changes list")
                continue
            for j, change in enumerate(changes):
                self.change(f"entry[{i}].changes[{j}]", change)

    def change(self, where: str, change: object) -> None:
        if not isinstance(change, dict):
            self.problem(where, "not an object")
            return
        field = change.get("field")
        value = change.get("value")
        name = field if isinstance(field, str) else ""
        if not isinstance(value, dict):
            self.events.append(Unrecognized(name, "value is not an object"))
            return
        if name == "messages":
            self.messages_value(where, value)
        elif name == "user_preferences":
            self.preferences(where, value)
        elif name == "message_template_status_update":
            self.events.append(_template_status(value))
        elif name == "phone_number_quality_update":
            self.events.append(
                QualityUpdate(
                    display_phone_number=_str(value.get("display_phone_number")),
                    event=_upper(value.get("event")),
                    limit_str=_limit(value),
                    rating=_rating(value),
                )
            )
        elif name == "business_capability_update":
            self.events.append(CapabilityUpdate(_limit(value)))
        elif name == "account_update":
            rest = {k: v for k, v in value.items() if k != "event"}
            self.events.append(AccountUpdate(_upper(value.get("event")), _json(rest)))
        else:
            self.events.append(Unrecognized(name, "unhandled field" if name else "no field"))

    def messages_value(self, where: str, value: Mapping[str, object]) -> None:
        metadata = value.get("metadata")
        phone_number_id = (
            _str(metadata.get("phone_number_id")) if isinstance(metadata, dict) else None
        )
        for i, item in enumerate(_list(value.get("statuses"))):
            self.status(f"{where}.statuses[{i}]", item, phone_number_id)
        contacts = _contacts(value.get("contacts"))
        for i, item in enumerate(_list(value.get("messages"))):
            self.inbound(f"{where}.messages[{i}]", item, contacts, phone_number_id)
        if "user_preferences" in value:
            self.preferences(where, value)
        errors = _errors(value.get("errors"))
        if errors:
            self.events.append(WebhookErrors(errors))

    def status(self, where: str, item: object, phone_number_id: str | None) -> None:
        if not isinstance(item, dict):
            self.problem(where, "not an object")
            return
        wamid, status = _str(item.get("id")), _str(item.get("status"))
        if wamid is None or status is None:
            self.problem(where, "missing id or status")
            return
        pricing = item.get("pricing")
        pricing = pricing if isinstance(pricing, dict) else {}
        conversation = item.get("conversation")
        origin = conversation.get("origin") if isinstance(conversation, dict) else None
        billable = pricing.get("billable")
        self.events.append(
            StatusEvent(
                wamid=wamid,
                status=status.lower(),
                timestamp=self.timestamp(where, item.get("timestamp")),
                recipient_id=_str(item.get("recipient_id")),
                recipient_user_id=_str(item.get("recipient_user_id")),
                callback_data=_str(item.get("biz_opaque_callback_data")),
                errors=_errors(item.get("errors")),
                pricing_category=_str(pricing.get("category")),
                pricing_type=_str(pricing.get("type")),
                billable=billable if isinstance(billable, bool) else None,
                conversation_origin=_str(origin.get("type")) if isinstance(origin, dict) else None,
                phone_number_id=phone_number_id,
            )
        )

    def inbound(
        self,
        where: str,
        item: object,
        contacts: Mapping[str, str | None],
        phone_number_id: str | None,
    ) -> None:
        if not isinstance(item, dict):
            self.problem(where, "not an object")
            return
        kind = _str(item.get("type")) or "unknown"
        from_phone = _str(item.get("from"))
        # BSUID: on the message (from_user_id) or on its contact; a lone contact is the
        # sender even when its wa_id is normalised differently from `from`.
        user_id = _str(item.get("from_user_id"))
        if user_id is None and from_phone is not None and from_phone in contacts:
            user_id = contacts[from_phone]
        elif user_id is None and len(contacts) == 1:
            user_id = next(iter(contacts.values()))
        if from_phone is None and user_id is None:
            self.problem(where, "sender has neither phone nor user_id")
        text, payload = _reply(kind, item)
        context = item.get("context")
        self.events.append(
            InboundMessage(
                wamid=_str(item.get("id")),
                from_phone=from_phone,
                user_id=user_id,
                type=kind,
                text=text,
                button_payload=payload,
                context_wamid=_str(context.get("id")) if isinstance(context, dict) else None,
                timestamp=self.timestamp(where, item.get("timestamp")),
                phone_number_id=phone_number_id,
            )
        )

    def preferences(self, where: str, value: Mapping[str, object]) -> None:
        for i, item in enumerate(_list(value.get("user_preferences"))):
            at = f"{where}.user_preferences[{i}]"
            if not isinstance(item, dict):
                self.problem(at, "not an object")
                continue
            choice = (_str(item.get("value")) or "").lower()
            if choice not in ("stop", "resume"):
                self.problem(at, f"unexpected value {_short(item.get('value'))}")
                continue
            self.events.append(
                UserPreference(
                    wa_id=_str(item.get("wa_id")),
                    user_id=_str(item.get("user_id")),
                    category=_str(item.get("category")),
                    value=choice,
                    timestamp=self.timestamp(at, item.get("timestamp")),
                )
            )

    def timestamp(self, where: str, raw: object) -> int:
        value = _int(raw)
        if value is None or value < 0:
            self.problem(where, f"bad timestamp {_short(raw)}")
            return 0
        return value


def _template_status(value: Mapping[str, object]) -> TemplateStatusUpdate:
    other = value.get("other_info")
    return TemplateStatusUpdate(
        event=_upper(value.get("event")) or "",
        template_name=_str(value.get("message_template_name")),
        language=_str(value.get("message_template_language")),
        template_id=_str(value.get("message_template_id")),
        reason=_str(value.get("reason")),
        title=_str(other.get("title")) if isinstance(other, dict) else None,
    )


def _reply(kind: str, item: Mapping[str, object]) -> tuple[str | None, str | None]:
    """``(text, button_payload)`` for text, quick-reply button and interactive replies."""
    if kind == "text":
        body = item.get("text")
        return (_str(body.get("body")) if isinstance(body, dict) else None), None
    if kind == "button":
        button = item.get("button")
        if isinstance(button, dict):
            return _str(button.get("text")), _str(button.get("payload"))
        return None, None
    if kind == "interactive":
        inter = item.get("interactive")
        if isinstance(inter, dict):
            for key in ("button_reply", "list_reply"):
                reply = inter.get(key)
                if isinstance(reply, dict):
                    return _str(reply.get("title")), _str(reply.get("id"))
    return None, None


def _contacts(raw: object) -> dict[str, str | None]:
    """``wa_id -> user_id`` (BSUID); a contact without ``wa_id`` is keyed by ``""``."""
    out: dict[str, str | None] = {}
    for contact in _list(raw):
        if isinstance(contact, dict):
            out[_str(contact.get("wa_id")) or ""] = _str(contact.get("user_id"))
    return out


def _errors(raw: object) -> tuple[ErrorDetail, ...]:
    out: list[ErrorDetail] = []
    for err in _list(raw):
        if not isinstance(err, dict):
            continue
        data = err.get("error_data")
        details = _str(data.get("details")) if isinstance(data, dict) else None
        out.append(
            ErrorDetail(
                code=_int(err.get("code")),
                title=_str(err.get("title")) or _str(err.get("message")),
                details=details or _str(err.get("message")),
            )
        )
    return tuple(out)


def _limit(value: Mapping[str, object]) -> str | None:
    for key in _LIMIT_KEYS:
        found = _str(value.get(key))
        if found is not None:
            return found
    return None


def _list(raw: object) -> list[object]:
    return raw if isinstance(raw, list) else []


def _str(raw: object) -> str | None:
    """Non-empty strings as-is; integers (ids sent as numbers) as text; else ``None``."""
    if isinstance(raw, str):
        return raw if raw else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return None


def _upper(raw: object) -> str | None:
    text = _str(raw)
    return text.upper() if text is not None else None


_RATING_KEYS: Final = ("quality_rating", "quality_score", "current_quality", "new_quality_score")


def _rating(value: Mapping[str, object]) -> str | None:
    """A quality rating in a ``phone_number_quality_update`` body, if any (field names vary
    between sources: UNVERIFIED in the reference, so every known spelling is read)."""
    for key in _RATING_KEYS:
        raw = value.get(key)
        if isinstance(raw, Mapping):  # e.g. {"score": "RED"}
            raw = raw.get("score")
        rating = _upper(raw)
        if rating is not None:
            return rating
    return None


def _int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 20:
            return int(text)
    return None


def _short(raw: object) -> str:
    """A bounded description for problems: scalars by value, containers by type only
    (``repr`` of a hostile, deeply nested value could recurse without bound)."""
    if raw is None or isinstance(raw, str | int | float | bool):
        text = repr(raw)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type(raw).__name__}>"


def _json(raw: object) -> str:
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _short(raw)
