"""Holds: which scope to stop, for how long, and what ends it (pure decisions).

A *hold* stops sending for everything in its scope (``core.codes.PauseScope``): one
campaign, one channel (phone number), every channel of a portfolio, or one template within
a portfolio. It is either timed (``hold_s``: resumes by itself, e.g. 131057 maintenance) or
untimed (waits for ``campaign resume``, or for the webhook that ends it).

Where holds come from:

- a synchronous error whose registry action is ``PAUSE`` (``source = "send_error"``);
- a burst of failed statuses: N x 132015 for one template, N x 131048 for one channel
  (``"status_burst"``);
- webhooks: template ``PAUSED``/``DISABLED``/``FLAGGED`` (``"template_status"``), number
  quality ``FLAGGED`` or ``RED`` (``"quality"``), account restriction, ban or deletion
  (``"account"``);
- ``GET /health_status`` answering ``BLOCKED`` while a campaign runs (``"health"``).

What lifts them: ``campaign resume`` lifts every untimed hold covering that campaign (the
operator has looked); template ``REINSTATED``/``APPROVED`` lifts the template's holds and
quality ``UNFLAGGED`` (or a GREEN/YELLOW rating) the channel's quality holds, without
resuming anything (resuming stays an operator decision).

Reference: ``whatsapp-cloud-api.md`` §3.3-3.5 (events, UNVERIFIED enums: unknown event
names change nothing) and §4 (codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.core.codes import PauseScope

__all__ = [
    "ACCOUNT_HOLD_EVENTS",
    "QUALITY_HOLD_EVENTS",
    "QUALITY_LIFT_EVENTS",
    "TEMPLATE_HOLD_EVENTS",
    "TEMPLATE_LIFT_EVENTS",
    "HoldKey",
    "Lift",
    "Place",
    "hold_key",
    "on_account_update",
    "on_quality_update",
    "on_template_status",
]

#: ``message_template_status_update`` events that stop a template's campaigns.
TEMPLATE_HOLD_EVENTS: Final = frozenset({"PAUSED", "DISABLED", "FLAGGED"})
#: ... and those that make it sendable again (lift, do not resume).
TEMPLATE_LIFT_EVENTS: Final = frozenset({"REINSTATED", "APPROVED"})
#: ``phone_number_quality_update`` events (or ratings) that stop a number.
QUALITY_HOLD_EVENTS: Final = frozenset({"FLAGGED", "RED"})
QUALITY_LIFT_EVENTS: Final = frozenset({"UNFLAGGED", "GREEN", "YELLOW"})
#: ``account_update`` events that stop the whole portfolio (WABA-level: we do not model
#: WABAs, and the wider stop is the safe side). ``ACCOUNT_VIOLATION`` alone is a warning.
ACCOUNT_HOLD_EVENTS: Final = frozenset(
    {"ACCOUNT_RESTRICTION", "DISABLED_UPDATE", "ACCOUNT_DELETED", "BUSINESS_BANNED"}
)


@dataclass(frozen=True, slots=True)
class HoldKey:
    """What a hold covers: the fields that matter for its scope, the others ``None``."""

    scope: PauseScope
    campaign_id: int | None = None
    channel: str | None = None
    portfolio: str | None = None
    template: str | None = None

    def describe(self) -> str:
        if self.scope is PauseScope.CAMPAIGN:
            return f"campaign #{self.campaign_id}"
        if self.scope is PauseScope.CHANNEL:
            return f"channel {self.channel!r}"
        if self.scope is PauseScope.PORTFOLIO:
            return f"portfolio {self.portfolio!r}"
        where = f" in portfolio {self.portfolio!r}" if self.portfolio else ""
        return f"template {self.template!r}{where}"


def hold_key(
    scope: PauseScope,
    *,
    campaign_id: int | None = None,
    channel: str | None = None,
    portfolio: str | None = None,
    template: str | None = None,
) -> HoldKey:
    """The key of a hold of ``scope`` placed from a campaign's (or an event's) context.

    A scope whose key is unknown widens rather than vanishes: a channel hold without a
    channel name cannot be placed, so it becomes a portfolio hold; a template hold keeps the
    portfolio when known (``None`` = that template in every portfolio).
    """
    if scope is PauseScope.CAMPAIGN:
        if campaign_id is None:
            raise ValueError("a campaign hold needs campaign_id")
        return HoldKey(scope, campaign_id=campaign_id)
    if scope is PauseScope.CHANNEL and channel is not None:
        return HoldKey(scope, channel=channel)
    if scope is PauseScope.TEMPLATE:
        if not template:
            raise ValueError("a template hold needs a template name")
        return HoldKey(scope, portfolio=portfolio, template=template)
    if portfolio is None:
        raise ValueError(f"a {scope} hold needs a channel or a portfolio")
    return HoldKey(PauseScope.PORTFOLIO, portfolio=portfolio)


@dataclass(frozen=True, slots=True)
class Place:
    """Place an untimed (``hold_s`` None) or timed hold of ``scope``."""

    scope: PauseScope
    reason: str
    source: str
    hold_s: float | None = None


@dataclass(frozen=True, slots=True)
class Lift:
    """Lift the active holds of ``scope`` that came from ``source``."""

    scope: PauseScope
    source: str
    reason: str


def on_template_status(event: str | None, template: str, why: str | None) -> Place | Lift | None:
    """``message_template_status_update``."""
    ev = (event or "").upper()
    if ev in TEMPLATE_HOLD_EVENTS:
        return Place(
            PauseScope.TEMPLATE,
            f"template {template} {ev}: {why or 'no reason given'}",
            "template_status",
        )
    if ev in TEMPLATE_LIFT_EVENTS:
        return Lift(PauseScope.TEMPLATE, "template_status", f"template {template} {ev}")
    return None


def on_quality_update(event: str | None, rating: str | None = None) -> Place | Lift | None:
    """``phone_number_quality_update``: FLAGGED (legacy) or a RED rating stops the number;
    UNFLAGGED or a GREEN/YELLOW rating lifts that hold. Tier changes are handled apart."""
    signals = [(event or "").upper(), (rating or "").upper()]
    hit = next((s for s in signals if s in QUALITY_HOLD_EVENTS), None)
    if hit is not None:
        return Place(PauseScope.CHANNEL, f"number quality {hit}", "quality")
    lift = next((s for s in signals if s in QUALITY_LIFT_EVENTS), None)
    if lift is not None:
        return Lift(PauseScope.CHANNEL, "quality", f"number quality {lift}")
    return None


def on_account_update(event: str | None, details: str | None = None) -> Place | None:
    """``account_update``: a restriction, ban or deletion stops the portfolio."""
    ev = (event or "").upper()
    if ev not in ACCOUNT_HOLD_EVENTS:
        return None
    detail = f": {details[:120]}" if details else ""
    return Place(PauseScope.PORTFOLIO, f"account {ev}{detail}", "account")
