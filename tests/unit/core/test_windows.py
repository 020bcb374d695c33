from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.windows import (
    RECIPIENT,
    is_open,
    make_window,
    next_allowed,
    parse_hhmm,
    resolve_zone,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


DAY = make_window("09:00", "20:00", timezone=RECIPIENT, fallback="Europe/Berlin")
NIGHT = make_window("22:00", "06:00", timezone="UTC")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00", time(9)), ("9:05", time(9, 5)), ("23:59", time(23, 59)), ("24:00", time(0))],
)
def test_parse_hhmm(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["", "9", "25:00", "12:60", "noon", "12:00:00"])
def test_parse_hhmm_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": "9am", "end": "20:00"}, "from"),
        ({"start": "09:00", "end": "x"}, "to"),
        ({"start": "09:00", "end": "20:00", "timezone": "Mars/Olympus"}, "timezone"),
        ({"start": "09:00", "end": "20:00", "fallback": "Nowhere"}, "fallback"),
    ],
)
def test_make_window_names_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        make_window(**kwargs)


@pytest.mark.parametrize(
    ("tz", "now", "expected"),
    [
        # Berlin is UTC+2 in June: 09:00 local = 07:00 UTC, 20:00 local = 18:00 UTC
        ("Europe/Berlin", utc(2026, 6, 15, 7, 0), None),
        ("Europe/Berlin", utc(2026, 6, 15, 17, 59), None),
        ("Europe/Berlin", utc(2026, 6, 15, 18, 0), utc(2026, 6, 16, 7, 0)),  # [from, to)
        ("Europe/Berlin", utc(2026, 6, 15, 5, 0), utc(2026, 6, 15, 7, 0)),
        # Sao Paulo is UTC-3: 09:00 local = 12:00 UTC
        ("America/Sao_Paulo", utc(2026, 6, 15, 11, 0), utc(2026, 6, 15, 12, 0)),
        ("America/Sao_Paulo", utc(2026, 6, 15, 12, 0), None),
        # unknown recipient zone -> fallback (Berlin)
        (None, utc(2026, 6, 15, 6, 0), utc(2026, 6, 15, 7, 0)),
        ("Not/AZone", utc(2026, 6, 15, 6, 0), utc(2026, 6, 15, 7, 0)),
        # Tokyo UTC+9: 23:00 UTC = 08:00 next local day
        ("Asia/Tokyo", utc(2026, 6, 15, 23, 0), utc(2026, 6, 16, 0, 0)),
    ],
)
def test_recipient_zone(tz: str | None, now: datetime, expected: datetime | None) -> None:
    assert next_allowed(DAY, tz, now) == expected
    assert is_open(DAY, tz, now) is (expected is None)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 1, 1, 23, 0), None),
        (utc(2026, 1, 1, 22, 0), None),
        (utc(2026, 1, 2, 5, 59), None),
        (utc(2026, 1, 2, 6, 0), utc(2026, 1, 2, 22, 0)),
        (utc(2026, 1, 2, 12, 0), utc(2026, 1, 2, 22, 0)),
    ],
)
def test_window_spanning_midnight(now: datetime, expected: datetime | None) -> None:
    assert NIGHT.spans_midnight
    assert next_allowed(NIGHT, "Asia/Tokyo", now) == expected  # fixed zone ignores recipient


def test_always_open_and_naive_now() -> None:
    always = make_window("00:00", "24:00")
    assert always.always_open
    assert next_allowed(always, None, utc(2026, 3, 1, 3, 0)) is None
    naive = datetime(2026, 1, 2, 12, 0)
    assert next_allowed(NIGHT, None, naive) == utc(2026, 1, 2, 22, 0)


def test_dst_spring_forward_gap() -> None:
    # Berlin 2026-03-29: 02:00 -> 03:00. A window opening at 02:30 opens right after the gap.
    gap = make_window("02:30", "04:00", timezone="Europe/Berlin")
    opening = next_allowed(gap, None, utc(2026, 3, 28, 23, 0))
    # 02:30 does not exist; 03:30 CEST (01:30 UTC) is the opening: late, never early
    assert opening == utc(2026, 3, 29, 1, 30)
    tiny = make_window("02:30", "02:45", timezone="Europe/Berlin")  # wholly inside the gap
    assert next_allowed(tiny, None, utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 30, 0, 30)
    assert resolve_zone(gap, "Asia/Tokyo").key == "Europe/Berlin"


@given(
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    tz=st.sampled_from(
        ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
    ),
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
)
def test_next_opening_is_in_the_future_and_open(
    start: time, end: time, tz: str, now: datetime
) -> None:
    window = make_window(start.strftime("%H:%M"), end.strftime("%H:%M"), timezone=tz)
    now_utc = now.replace(tzinfo=UTC)
    opening = next_allowed(window, None, now_utc)
    if opening is None:
        return
    assert now_utc < opening <= now_utc + timedelta(days=3)
    assert is_open(window, None, opening)
