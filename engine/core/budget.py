"""Messaging-limit tiers and the rolling 24 h budget of unique recipients.

Meta's messaging limit caps the **unique** users a business portfolio may message outside
a customer-service window in any moving 24 h (250 / 2K / 10K / 100K / unlimited), shared by
every number of the portfolio. Exceeding it got an organisation suspended for a day, so the
engine checks before every new recipient. The store counts (unique recipients with a send
in the last 24 h, and the oldest such send); this module decides.

Tier values come from config (``2K``, ``2000``, ``"TIER_2K"``, ``unlimited``) and webhooks
(``max_daily_conversations_per_business`` may be a ``TIER_*`` string or an integer such as
``2000``). Unknown or not-set tiers fall back to 250 unless the operator configured one.
Times are epoch seconds (``now``, ``oldest_in_window_ts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_TIER_LIMIT",
    "RECHECK_S",
    "WINDOW_S",
    "Allow",
    "Decision",
    "Wait",
    "budget_decision",
    "parse_tier",
    "parse_tier_strict",
    "remaining_budget",
]

#: Rolling window of the messaging limit.
WINDOW_S: Final = 86_400.0
#: Assumed limit when the tier is unknown (the limit of a new portfolio).
DEFAULT_TIER_LIMIT: Final = 250
#: How long to wait when the counts are inconsistent (over the limit, nothing to expire).
RECHECK_S: Final = 60.0

_NAMED: Final[dict[str, int | None]] = {
    "TIER_50": 50,  # legacy
    "TIER_250": 250,
    "TIER_1K": 1_000,  # legacy (pre-Oct-2025 per-number tier)
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
    "UNLIMITED": None,
}
_NOT_SET: Final = frozenset({"TIER_NOT_SET", "NOT_SET", "UNKNOWN", ""})
_SHORT = re.compile(r"(?:TIER_)?(\d+)(K|M)?")


def parse_tier_strict(value: object) -> int | None:
    """Limit for a tier value; ``None`` = unlimited. Raises ``ValueError`` when the value
    is not a tier (garbage, ``TIER_NOT_SET``, zero or negative, a bool).

    Accepts ints (``2000``), digit strings (``"2000"``), short forms (``"2K"``, ``"100k"``),
    Meta enums (``"TIER_2K"``, also legacy ``TIER_50``/``TIER_1K``) and ``"unlimited"``.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a messaging-limit tier: {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"messaging-limit tier must be positive, got {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a messaging-limit tier: {value!r}")
    key = value.strip().upper().replace(" ", "_")
    if key in _NAMED:
        return _NAMED[key]
    match = _SHORT.fullmatch(key)
    if key in _NOT_SET or match is None:
        raise ValueError(f"not a messaging-limit tier: {value!r}")
    number = int(match.group(1)) * {None: 1, "K": 1_000, "M": 1_000_000}[match.group(2)]
    if number <= 0:
        raise ValueError(f"messaging-limit tier must be positive, got {value!r}")
    return number


def parse_tier(value: object, *, default: int | None = DEFAULT_TIER_LIMIT) -> int | None:
    """Like :func:`parse_tier_strict` but never raises: unknown -> ``default`` (250).

    Use for webhook values, where a new enum member must not stop the engine.
    """
    try:
        return parse_tier_strict(value)
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Allow:
    """Send now."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Do not message a new recipient before ``until`` (epoch seconds)."""

    until: float
    reason: str = "tier_limit_reached"


Decision = Allow | Wait

_ALLOW: Final = Allow()


def remaining_budget(limit: int | None, used_unique_24h: int, *, headroom: int = 0) -> int | None:
    """New unique recipients that may still be messaged now; ``None`` = unlimited.

    ``headroom`` keeps that many slots free (e.g. for other systems sending on the same
    portfolio)."""
    if limit is None:
        return None
    return max(0, limit - headroom - max(0, used_unique_24h))


def budget_decision(
    limit: int | None,
    used_unique_24h: int,
    already_counted: bool,
    oldest_in_window_ts: float | None,
    now: float,
    *,
    headroom: int = 0,
) -> Decision:
    """May one more recipient be messaged at ``now``?

    ``already_counted``: the recipient was already messaged in the window, so this send
    does not use a new slot. When the budget is spent, wait until the oldest counted send
    leaves the window (``oldest_in_window_ts + 24 h``); if that moment has passed or is
    unknown the counts are stale, so re-check after :data:`RECHECK_S`.
    """
    if limit is None or already_counted:
        return _ALLOW
    remaining = remaining_budget(limit, used_unique_24h, headroom=headroom)
    if remaining is None or remaining > 0:
        return _ALLOW
    if oldest_in_window_ts is None:
        return Wait(now + RECHECK_S, "tier_limit_reached_recheck")
    until = oldest_in_window_ts + WINDOW_S
    if until <= now:
        return Wait(now + RECHECK_S, "tier_limit_reached_recheck")
    return Wait(until)
