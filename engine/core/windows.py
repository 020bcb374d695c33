"""Send windows: only message a recipient between local ``from`` and ``to``.

Config shape (campaign spec)::

    window: {from: "09:00", to: "20:00", timezone: recipient, fallback: Europe/Berlin}

``timezone`` is ``recipient`` (use each recipient's zone, e.g. guessed from the phone
number by ``core.phones``) or a fixed IANA name; ``fallback`` is used when the recipient's
zone is unknown or invalid. ``from > to`` spans midnight (``22:00``-``06:00``);
``from == to`` means always open. The window is half-open: ``[from, to)``.

:func:`next_allowed` answers "may we send now, and if not, when?" as an aware UTC
datetime. Around DST changes: a ``from`` that occurs twice (clocks back) opens at its
first occurrence; a ``from`` inside a skipped hour (clocks forward) opens at that wall
time shifted by the gap (e.g. 02:30 -> 03:30), late rather than early; if the whole window
lies inside the gap that day, the next day's opening is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "RECIPIENT",
    "SendWindow",
    "is_open",
    "make_window",
    "next_allowed",
    "parse_hhmm",
    "resolve_zone",
]

#: ``timezone`` value meaning "the recipient's own zone".
RECIPIENT: Final = "recipient"
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindow:
    """A validated window. Build it with :func:`make_window`."""

    start: time
    end: time
    timezone: str = RECIPIENT
    fallback: str = "UTC"

    @property
    def always_open(self) -> bool:
        return self.start == self.end

    @property
    def spans_midnight(self) -> bool:
        return self.start > self.end


def parse_hhmm(value: str) -> time:
    """``"09:00"`` -> ``time(9, 0)``; ``"24:00"`` is accepted as end of day (``00:00``).
    Raises ``ValueError`` naming the bad value."""
    text = value.strip() if isinstance(value, str) else ""
    if text == "24:00":
        return time(0, 0)
    match = _HHMM.fullmatch(text)
    if match is None:
        raise ValueError(f"expected HH:MM (00:00-23:59), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return None


def make_window(
    start: str, end: str, *, timezone: str = RECIPIENT, fallback: str = "UTC"
) -> SendWindow:
    """Validate config values into a :class:`SendWindow`.

    Raises ``ValueError`` with the field name (``from``, ``to``, ``timezone``,
    ``fallback``) first, so the config loader can point at it.
    """
    try:
        start_t = parse_hhmm(start)
    except ValueError as exc:
        raise ValueError(f"from: {exc}") from None
    try:
        end_t = parse_hhmm(end)
    except ValueError as exc:
        raise ValueError(f"to: {exc}") from None
    if timezone != RECIPIENT and _zone(timezone) is None:
        raise ValueError(f"timezone: unknown time zone {timezone!r} (IANA name or 'recipient')")
    if _zone(fallback) is None:
        raise ValueError(f"fallback: unknown time zone {fallback!r}")
    return SendWindow(start=start_t, end=end_t, timezone=timezone, fallback=fallback)


def resolve_zone(window: SendWindow, recipient_tz: str | None) -> ZoneInfo:
    """The zone the window is read in for this recipient."""
    fixed = window.timezone != RECIPIENT
    zone = _zone(window.timezone if fixed else recipient_tz or window.fallback)
    if zone is None:
        zone = _zone(window.fallback) or ZoneInfo("UTC")
    return zone


def _inside(window: SendWindow, t: time) -> bool:
    if window.always_open:
        return True
    if window.spans_midnight:
        return t >= window.start or t < window.end
    return window.start <= t < window.end


def is_open(window: SendWindow, recipient_tz: str | None, now_utc: datetime) -> bool:
    """True when ``now_utc`` falls inside the window in the recipient's zone."""
    return next_allowed(window, recipient_tz, now_utc) is None


def next_allowed(
    window: SendWindow, recipient_tz: str | None, now_utc: datetime
) -> datetime | None:
    """``None`` if sending is allowed at ``now_utc``, else the next opening (aware UTC).

    ``recipient_tz``: the recipient's IANA zone or ``None``; only used when the window's
    ``timezone`` is ``recipient``. A naive ``now_utc`` is taken as UTC.
    """
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=UTC)
    zone = resolve_zone(window, recipient_tz)
    local = now_utc.astimezone(zone)
    if _inside(window, local.time()):
        return None
    # Closed: the next opening is today's `start` if still ahead, else tomorrow's; skip a
    # day whose opening falls into a DST gap so far that the window is not open then.
    for day_offset in (0, 1, 2, 3):
        day = local.date() + timedelta(days=day_offset)
        opening = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        if opening > now_utc and _inside(window, opening.astimezone(zone).time()):
            return opening
    return None  # unreachable: DST gaps never cover consecutive days
