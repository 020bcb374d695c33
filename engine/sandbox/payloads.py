"""Webhook payloads in Meta's Cloud API shapes, as 360dialog forwards them (pure builders).

- Message-level fields (``statuses``, inbound ``messages``, ``user_preferences``) use the
  ``field: messages``/``user_preferences`` change with ``value.metadata``
  (``display_phone_number``, ``phone_number_id``).
- WABA-level fields (``message_template_status_update``, ``phone_number_quality_update``,
  ``account_update``) have no ``metadata``.
- Timestamps are strings of Unix seconds, as Meta sends them; the envelope ``entry[].time``
  is an integer. ``conversation`` is omitted (Graph v24+ behaviour for template sends).
"""

from __future__ import annotations

from typing import Any


def status_object(
    *,
    wamid: str,
    status: str,
    timestamp_s: int,
    recipient_id: str,
    callback_data: str | None,
    category: str,
    priced: bool,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    """One ``statuses[]`` entry (``errors`` only on failed, ``pricing`` only when priced)."""
    obj: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp_s),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        obj["biz_opaque_callback_data"] = callback_data
    if priced:
        obj["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": category,
        }
    if error is not None:
        obj["errors"] = [error]
    return obj


def _metadata(phone_number: str, phone_number_id: str) -> dict[str, str]:
    return {"display_phone_number": phone_number, "phone_number_id": phone_number_id}


def messages_envelope(
    *,
    waba_id: str,
    phone_number: str,
    phone_number_id: str,
    field: str = "messages",
    value: dict[str, Any],
) -> dict[str, Any]:
    """A number-level notification: ``value`` gets ``messaging_product`` and ``metadata``."""
    full = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(phone_number, phone_number_id),
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": field, "value": full}]}],
    }


def waba_envelope(
    *, waba_id: str, time_s: int, field: str, value: dict[str, Any]
) -> dict[str, Any]:
    """A WABA-level notification (no metadata; ``entry[].time`` in Unix seconds)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "time": time_s, "changes": [{"field": field, "value": value}]}],
    }


def _contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def inbound_text(
    *, wa_id: str, name: str, wamid: str, timestamp_s: int, text: str
) -> dict[str, Any]:
    """``value`` of an inbound text message (``contacts`` + ``messages``)."""
    return {
        "contacts": [_contact(wa_id, name)],
        "messages": [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(timestamp_s),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }


def inbound_button(
    *,
    wa_id: str,
    name: str,
    wamid: str,
    timestamp_s: int,
    payload: str,
    text: str,
    business_number: str,
    context_id: str | None,
) -> dict[str, Any]:
    """``value`` of a template quick-reply tap (``type: button``, ``context`` = replied wamid)."""
    message: dict[str, Any] = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(timestamp_s),
        "type": "button",
        "button": {"payload": payload, "text": text},
    }
    if context_id is not None:
        message = {"context": {"from": business_number, "id": context_id}, **message}
    return {"contacts": [_contact(wa_id, name)], "messages": [message]}


def user_preferences(*, wa_id: str, name: str, value: str, timestamp_s: int) -> dict[str, Any]:
    """``value`` of a ``user_preferences`` change (marketing ``stop`` / ``resume``)."""
    detail = (
        "User requested to stop marketing messages"
        if value == "stop"
        else "User requested to resume marketing messages"
    )
    return {
        "contacts": [_contact(wa_id, name)],
        "user_preferences": [
            {
                "wa_id": wa_id,
                "detail": detail,
                "category": "marketing_messages",
                "value": value,
                "timestamp": timestamp_s,
            }
        ],
    }


def template_status(
    *, event: str, template_id: str, name: str, language: str, reason: str | None
) -> dict[str, Any]:
    """``value`` of ``message_template_status_update``."""
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
    }
    if event == "PAUSED":
        value["other_info"] = {
            "title": "FIRST_PAUSE",
            "description": f"Your {name} template has been paused due to low quality.",
        }
    elif event == "REINSTATED":
        value["other_info"] = {
            "title": "UNPAUSE",
            "description": f"Your {name} template has been unpaused.",
        }
    elif event == "DISABLED":
        value["disable_info"] = {"disable_date": "ASAP"}
    return value


def phone_quality(*, phone_number: str, event: str, limit: str | None) -> dict[str, Any]:
    """``value`` of ``phone_number_quality_update`` (``limit`` e.g. ``TIER_2K``)."""
    value: dict[str, Any] = {"display_phone_number": phone_number, "event": event}
    if limit is not None:
        value["max_daily_conversations_per_business"] = limit
    return value


def account_update(*, phone_number: str, event: str, extra: dict[str, Any]) -> dict[str, Any]:
    """``value`` of ``account_update`` (``extra`` e.g. ``restriction_info``, ``ban_info``)."""
    return {"phone_number": phone_number, "event": event, **extra}
