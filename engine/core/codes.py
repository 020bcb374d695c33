"""The error registry: every WhatsApp / 360dialog error we know, mapped to one action.

One table, keyed on Meta's ``error.code`` (never on message text, never on the HTTP
status when a code is present). 360dialog's own gateway errors carry no code; they are
recognised by three fixed phrases (:data:`GATEWAY_TEXT_RULES`) and, failing that, by HTTP
status (:data:`HTTP_RULES`). Source of every row: ``reference/whatsapp-cloud-api.md`` §4.

What each :class:`Action` asks of the runtime (sync path = the POST answer):

``RETRY``           transient; requeue with exponential backoff (``core.retry``), counting
                    an attempt; give up (fail) after the policy's or the rule's max attempts.
``RETRY_RECIPIENT`` 131056 pair limit: requeue only this recipient on the 1, 4, 16, 64 s
                    schedule; do not slow the channel.
``THROTTLE``        rate limited: requeue with backoff **and** tell the pacer (AIMD decrease).
``FAIL_RECIPIENT``  permanent for this recipient: mark failed with the code (``suppress``
                    adds a suppression, e.g. 131050 marketing opt-out).
``FAIL_PAYLOAD``    the request itself is wrong: mark failed; a run of these means a payload
                    or template bug, so the runtime's error threshold should pause the campaign.
``PAUSE``           the sender cannot send (account, billing, template, ...): requeue the
                    message without counting an attempt and pause ``scope``; ``pause_s`` set =
                    timed (resume by itself), ``None`` = until an operator or a webhook
                    (e.g. template ``REINSTATED``) resumes it.
``UNKNOWN``         the request may have been accepted: row -> ``unknown``; the status
                    webhook carrying ``biz_opaque_callback_data`` settles it.

Async path (a ``failed`` status webhook): the message is already accepted, so it always
ends ``failed`` with the code; the action only drives side effects (pause, suppress, pacer).

Scopes: a WABA-level problem maps to ``PORTFOLIO`` (we do not model WABAs separately; the
wider pause is the safe side). Choices that go beyond the reference are marked "choice".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "DAY_S",
    "GATEWAY_TEXT_RULES",
    "HTTP_RULES",
    "REGISTRY",
    "Action",
    "PauseScope",
    "Rule",
    "rule_for_code",
]

DAY_S: Final = 86_400.0


class Action(StrEnum):
    """What the runtime must do with a message after an error (see module docstring)."""

    RETRY = "retry"
    RETRY_RECIPIENT = "retry_recipient"
    THROTTLE = "throttle"
    FAIL_RECIPIENT = "fail_recipient"
    FAIL_PAYLOAD = "fail_payload"
    PAUSE = "pause"
    UNKNOWN = "unknown"


class PauseScope(StrEnum):
    """What a ``PAUSE`` stops: one number, every number of the portfolio, every campaign
    using the template, or just this campaign."""

    CHANNEL = "channel"
    PORTFOLIO = "portfolio"
    TEMPLATE = "template"
    CAMPAIGN = "campaign"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One registry row.

    ``pause_s``: seconds a timed ``PAUSE`` lasts (``None`` = untimed).
    ``retry_after_min_s``: never resend this recipient sooner (131049: 24 h).
    ``max_attempts``: cap on total attempts for this code, below the policy's cap.
    ``where``: typical path, ``"S"`` sync, ``"A"`` async webhook, ``"SA"`` either.
    """

    action: Action
    title: str
    scope: PauseScope | None = None
    pause_s: float | None = None
    suppress: bool = False
    retry_after_min_s: float = 0.0
    max_attempts: int | None = None
    where: str = "S"

    def __post_init__(self) -> None:
        if (self.action is Action.PAUSE) != (self.scope is not None):
            raise ValueError(f"{self.title}: scope is required for PAUSE and only for PAUSE")
        if self.pause_s is not None and self.action is not Action.PAUSE:
            raise ValueError(f"{self.title}: pause_s only applies to PAUSE")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"{self.title}: max_attempts must be >= 1")


def _retry(title: str, *, max_attempts: int | None = None, after_s: float = 0.0) -> Rule:
    return Rule(
        action=Action.RETRY, title=title, max_attempts=max_attempts, retry_after_min_s=after_s
    )


def _pause(
    scope: PauseScope, title: str, *, pause_s: float | None = None, where: str = "S"
) -> Rule:
    return Rule(action=Action.PAUSE, title=title, scope=scope, pause_s=pause_s, where=where)


def _recipient(
    title: str, *, where: str = "S", suppress: bool = False, retry_after_min_s: float = 0.0
) -> Rule:
    return Rule(
        action=Action.FAIL_RECIPIENT,
        title=title,
        where=where,
        suppress=suppress,
        retry_after_min_s=retry_after_min_s,
    )


def _payload(title: str, *, where: str = "S") -> Rule:
    return Rule(action=Action.FAIL_PAYLOAD, title=title, where=where)


_CH, _PF, _TP, _CP = (
    PauseScope.CHANNEL,
    PauseScope.PORTFOLIO,
    PauseScope.TEMPLATE,
    PauseScope.CAMPAIGN,
)
_PERMISSION = _pause(_CH, "permission or capability missing for this number")

#: Meta error code -> rule. Codes 200-299 (permissions) are handled by :func:`rule_for_code`.
REGISTRY: Final[Mapping[int, Rule]] = {
    0: _pause(_CH, "authentication failed (bad or revoked API key)"),
    1: _retry("invalid request or possible server error", max_attempts=3),
    2: _retry("temporary downtime or overload"),
    3: _PERMISSION,
    4: _pause(_CH, "app hit the Graph call rate limit", pause_s=300.0),  # choice: "minutes"
    10: _PERMISSION,
    100: _payload("invalid or misspelled parameter"),
    368: _pause(_PF, "temporarily blocked for policy violations"),
    470: _payload("message expired / outside the 24 h window (On-Premise era; as 131047)"),
    80007: _pause(_CH, "WABA hit its Graph rate limit", pause_s=300.0),
    130403: _recipient("business blocked this user", where="SA"),
    130429: Rule(action=Action.THROTTLE, title="throughput (mps) exceeded"),
    130472: _recipient("user is in a marketing experiment hold-out", where="A"),
    130497: _recipient("business may not message users in this country", where="SA"),
    131000: Rule(action=Action.RETRY, title="unknown send failure", max_attempts=3, where="SA"),
    131005: _PERMISSION,
    131008: _payload("required parameter missing"),
    131009: _payload("parameter value invalid (incl. phone number format)"),
    131016: _retry("service temporarily unavailable"),
    131021: _recipient("sender and recipient are the same number"),
    131026: _recipient("undeliverable: not on WhatsApp, ToS not accepted or old app", where="A"),
    131031: _pause(_PF, "account locked or restricted"),
    131037: _pause(_CH, "number has no approved display name"),
    131042: _pause(_PF, "payment method problem", where="SA"),
    131045: _pause(_CH, "phone number registration error"),
    131047: _payload("outside the 24 h window (not expected for templates)", where="SA"),
    131048: _pause(_CH, "spam rate limit: too many messages blocked or flagged", where="A"),
    131049: _recipient(
        "per-user marketing limit (healthy ecosystem engagement)",
        where="A",
        retry_after_min_s=DAY_S,
    ),
    131050: _recipient(
        "user stopped marketing messages from this business", where="A", suppress=True
    ),
    131051: _payload("unsupported message type"),
    # choice: 131052 concerns media the *user* sent; fail only this message if ever seen
    131052: _recipient("media download error (inbound media)", where="A"),
    # choice: a bad header media affects every send of the template -> stop the bleeding
    131053: _pause(_TP, "media upload error (header media)", where="A"),
    131055: _payload("method not allowed (e.g. non-marketing template on MM API)"),
    131056: Rule(action=Action.RETRY_RECIPIENT, title="pair rate limit (same recipient too fast)"),
    131057: _pause(_CH, "account in maintenance mode (e.g. throughput upgrade)", pause_s=60.0),
    131063: _pause(_CP, "marketing templates disabled on Cloud API for this WABA"),
    131064: _pause(_PF, "messaging limited for template classification violations", where="SA"),
    132000: _payload("template parameter count mismatch"),
    # choice: a missing template fails every send alike -> pause, keep recipients pending
    132001: _pause(_TP, "template does not exist in this language or is not approved"),
    132005: _payload("hydrated template text too long"),
    132007: _pause(_TP, "template content policy violation"),
    132012: _payload("template parameter format mismatch"),
    132015: _pause(_TP, "template paused for low quality (or held message dropped)", where="SA"),
    132016: _pause(_TP, "template disabled (paused too many times)"),
    132018: _payload("template validation error (MM API)"),
    132068: _pause(_CP, "flow is blocked"),
    132069: _pause(_CP, "flow is throttled", pause_s=3600.0),
    133004: _retry("server temporarily unavailable"),
    133010: _pause(_CH, "business phone number not registered"),
    134011: _pause(_CH, "payments terms of service not accepted"),
    134100: _payload("MM API: only marketing templates may be sent"),
    134101: _retry("MM API: template still syncing (wait ~10 min)", after_s=600.0),
    134102: _pause(_CP, "MM API: not eligible"),
    135000: _retry("unknown error with request parameters", max_attempts=2),
}

#: The only message-text matches allowed: 360dialog's own errors have no code. Matched
#: case-insensitively as substrings, in this order, only when no Meta code is present.
GATEWAY_TEXT_RULES: Final[tuple[tuple[str, str, Rule], ...]] = (
    (
        "endpoint rate limit",
        "d360_endpoint_rate_limit",
        Rule(action=Action.THROTTLE, title="360dialog gateway rate limit"),
    ),
    (
        "lack of payment",
        "d360_lack_of_payment",
        _pause(_PF, "360dialog billing block (lack of payment)"),
    ),
    ("disabled", "d360_disabled", _pause(_CH, "WhatsApp Business API disabled on 360dialog")),
)

#: Fallback by HTTP status when the body names no code and no known gateway phrase.
HTTP_RULES: Final[Mapping[int, Rule]] = {
    401: _pause(_CH, "invalid API key"),
    403: _pause(_CH, "endpoint blocked"),
    404: _pause(_CH, "endpoint not found (base URL misconfigured)"),  # choice
    408: _retry("request timeout before processing"),  # choice: the server never read it all
    413: _payload("request body too large"),
    429: Rule(action=Action.THROTTLE, title="gateway request-rate limit"),
    500: _retry("gateway internal error"),
    502: _retry("WhatsApp Business API not available"),
    503: Rule(action=Action.THROTTLE, title="gateway overloaded (concurrency limit)"),
}


def rule_for_code(code: int) -> Rule | None:
    """The registry rule for a Meta error code, ``None`` when the code is not known."""
    rule = REGISTRY.get(code)
    if rule is None and 200 <= code <= 299:
        return _PERMISSION
    return rule
