"""Response and error bodies exactly as Meta (via 360dialog) shapes them.

Two families:
- Meta Graph errors, synchronous (``{"error": {message, type, code, error_data{details},
  fbtrace_id}}``) and asynchronous (``statuses[].errors[]``: code, title, message,
  error_data{details}, href);
- 360dialog's own gateway errors (auth, capacity), which use 360dialog's ``meta`` envelope:
  ``{"meta": {"success": false, "http_code": N, "developer_message": "..."}}``.
All builders return ``bytes`` (orjson) or plain dicts; none raise.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

#: Meta error code -> title (the ``message`` is ``"(#code) title"``).
TITLES: Final[dict[int, str]] = {
    100: "Invalid parameter",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business.",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Business Account is in maintenance mode",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is Paused",
    132016: "Template is Disabled",
}

#: Default ``error_data.details`` for codes raised without a request-specific detail.
DETAILS: Final[dict[int, str]] = {
    130429: "Cloud API message throughput has been reached.",
    131000: "Something went wrong. Please retry later.",
    131026: "Message could not be delivered: the recipient may not be a WhatsApp user, may "
    "not have accepted the latest terms, or uses an old WhatsApp version.",
    131048: "Message failed to send because there are restrictions on how many messages can "
    "be sent from this phone number: the business messaging limit for unique recipients in "
    "a rolling 24 hours was reached.",
    131049: "In order to maintain a healthy ecosystem engagement, the message failed to be "
    "delivered.",
    131050: "The recipient has stopped marketing messages from this business.",
    131056: "Too many messages sent from this phone number to the same phone number in a "
    "short period of time.",
    131057: "The WhatsApp Business Account is in maintenance mode, e.g. while its throughput "
    "is being upgraded.",
    132015: "Template is paused due to low quality so it cannot be sent in a template message.",
    132016: "Template has been paused too many times due to low quality and is now "
    "permanently disabled.",
}

ERROR_HREF: Final = "/documentation/business-messaging/whatsapp/support/error-codes"

_GATEWAY_MESSAGES: Final[dict[int, str]] = {
    401: "Invalid api_key",
    429: "Too many requests. You have exceeded the endpoint rate limit.",
    503: "Service temporarily unavailable. The concurrency limit was reached; retry later.",
}


def meta_error_body(code: int, details: str | None, fbtrace_id: str) -> bytes:
    """A synchronous Graph error (what ``POST /messages`` answers on a rejection)."""
    return orjson.dumps(
        {
            "error": {
                "message": f"(#{code}) {TITLES.get(code, 'Unknown error')}",
                "type": "OAuthException",
                "code": code,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": details if details is not None else DETAILS.get(code, ""),
                },
                "fbtrace_id": fbtrace_id,
            }
        }
    )


def status_error(code: int) -> dict[str, Any]:
    """One ``errors[]`` entry of a ``failed`` status webhook."""
    title = TITLES.get(code, "Unknown error")
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": DETAILS.get(code, title)},
        "href": ERROR_HREF,
    }


def gateway_error_body(http_code: int, message: str | None = None) -> bytes:
    """360dialog's own error envelope (auth failures, gateway capacity, bad webhook config)."""
    return orjson.dumps(
        {
            "meta": {
                "success": False,
                "http_code": http_code,
                "developer_message": message or _GATEWAY_MESSAGES.get(http_code, "Error"),
            }
        }
    )


def accepted_body(to: str, wa_id: str, wamid: str, message_status: str) -> bytes:
    """The 200 answer to an accepted send (``message_status`` accepted or held)."""
    return orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": wa_id}],
            "messages": [{"id": wamid, "message_status": message_status}],
        }
    )


def health_body(value: str, phone_number_id: str, waba_id: str) -> bytes:
    """``GET /health_status``: overall value plus the per-entity breakdown Meta returns."""
    waba: dict[str, Any] = {"entity_type": "WABA", "id": waba_id, "can_send_message": value}
    if value != "AVAILABLE":
        waba["errors"] = [
            {
                "error_code": 141006,
                "error_description": "The business has messaging restrictions"
                if value == "LIMITED"
                else "The business is blocked from sending messages",
                "possible_solution": "Review the account's status in WhatsApp Manager",
            }
        ]
    return orjson.dumps(
        {
            "health_status": {
                "can_send_message": value,
                "entities": [
                    {
                        "entity_type": "PHONE_NUMBER",
                        "id": phone_number_id,
                        "can_send_message": value,
                    },
                    waba,
                    {"entity_type": "BUSINESS", "id": waba_id[::-1], "can_send_message": value},
                    {"entity_type": "APP", "id": "360dialog-sandbox", "can_send_message": value},
                ],
            }
        }
    )
