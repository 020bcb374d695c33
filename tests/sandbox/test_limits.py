"""Token bucket, pair limiter, tier window and the 1 s peak counter, with injected time."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sandbox.limits import PairLimiter, TierWindow, TokenBucket
from engine.sandbox.stats import RateWindow


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(rate_per_s=10.0, capacity=10.0, now=0.0)
    assert sum(bucket.try_take(0.0) for _ in range(15)) == 10
    assert not bucket.try_take(0.05)  # half a token refilled
    assert bucket.try_take(0.1)
    assert not bucket.try_take(0.1)
    # a long pause refills to capacity, not beyond
    assert sum(bucket.try_take(100.0) for _ in range(50)) == 10


@given(
    rate=st.integers(min_value=1, max_value=2000),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.05), min_size=1, max_size=400),
)
@settings(max_examples=60, deadline=None)
def test_token_bucket_never_exceeds_capacity_plus_rate(rate: int, gaps: list[float]) -> None:
    """In any window of length w, admitted <= capacity + rate * w (the bucket's contract)."""
    bucket = TokenBucket(rate_per_s=float(rate), capacity=float(rate), now=0.0)
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if bucket.try_take(now):
            admitted.append(now)
    for i, start in enumerate(admitted):
        j = bisect.bisect_right(admitted, start + 1.0)
        assert j - i <= 2 * rate + 1e-9


def test_pair_limiter_spacing() -> None:
    pairs = PairLimiter(6.0)
    assert pairs.allowed("a", 0.0)
    pairs.record("a", 0.0)
    assert not pairs.allowed("a", 5.999)
    assert pairs.allowed("b", 1.0)
    assert pairs.allowed("a", 6.0)
    pairs.record("a", 6.0)
    assert not pairs.allowed("a", 11.0)
    assert pairs.allowed("a", 12.5)
    assert len(pairs._last) <= 1  # old entries are forgotten


def test_pair_limiter_disabled() -> None:
    pairs = PairLimiter(0.0)
    pairs.record("a", 0.0)
    assert pairs.allowed("a", 0.0)


def test_tier_window_counts_unique_recipients_per_rolling_day() -> None:
    tier = TierWindow(2, window_s=86_400.0)
    assert tier.admit("a", 0.0)
    assert tier.admit("a", 10.0)  # already counted: no new slot used
    assert tier.admit("b", 20.0)
    assert not tier.admit("c", 30.0)  # third unique recipient
    assert tier.count(30.0) == 2
    assert tier.admit("b", 50_000.0)  # b's window extends to 136,400
    assert not tier.admit("c", 86_409.0)  # a still counted until 86,410 (last send at 10)
    assert tier.admit("c", 86_410.0)
    assert tier.count(86_410.0) == 2


def test_tier_window_unlimited_tracks_nothing() -> None:
    tier = TierWindow(None)
    assert all(tier.admit(str(i), 0.0) for i in range(1000))
    assert tier.count(0.0) == 0


@given(st.lists(st.floats(min_value=0.0, max_value=0.7), min_size=1, max_size=300))
@settings(max_examples=80, deadline=None)
def test_rate_window_peak_is_exact(gaps: list[float]) -> None:
    times, now = [], 0.0
    for gap in gaps:
        now += gap
        times.append(now)
    window = RateWindow()
    for t in times:
        window.record(t)
    brute = max(sum(1 for s in times if t - 1.0 < s <= t) for t in times)
    assert window.peak == brute
