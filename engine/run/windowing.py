"""Send windows applied to claimed rows: which go out now, which wait for their hours.

The decision is the pure ``engine.core.windows.next_allowed``; the recipient's zone comes
from the phone number (``engine.core.phones.timezone_for``), and a number whose country
spans several zones uses the spec's ``fallback_timezone``.
"""

from __future__ import annotations

from datetime import datetime

from engine.config.spec import WindowSpec
from engine.core.phones import timezone_for
from engine.core.windows import SendWindow, next_allowed
from engine.db.outbox import ClaimedRow


def build_window(spec: WindowSpec | None) -> SendWindow | None:
    if spec is None:
        return None
    return SendWindow(
        start=spec.from_time,
        end=spec.to_time,
        timezone=spec.timezone,
        fallback=spec.fallback_timezone or "UTC",
    )


def recipient_zone(phone: str) -> str | None:
    """The recipient's IANA zone when the number maps to exactly one, else None."""
    zones = timezone_for(phone)
    return zones[0] if len(zones) == 1 else None


def split_by_window(
    window: SendWindow, rows: list[ClaimedRow], now_utc: datetime
) -> tuple[list[ClaimedRow], list[tuple[int, datetime]]]:
    """``(send_now, deferred)``; deferred rows carry the UTC time their window opens."""
    send: list[ClaimedRow] = []
    deferred: list[tuple[int, datetime]] = []
    for row in rows:
        opens = next_allowed(window, recipient_zone(row.phone), now_utc)
        if opens is None:
            send.append(row)
        else:
            deferred.append((row.id, opens))
    return send, deferred
