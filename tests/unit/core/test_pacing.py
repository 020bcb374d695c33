from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.pacing import (
    Aimd,
    BreakerState,
    CircuitBreaker,
    TokenBucket,
    allow,
    on_result,
    on_success,
    on_throttle,
    refill,
    retry_in,
    set_rate,
    take,
    with_ceiling,
)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


# --- AIMD ---------------------------------------------------------------------------------


def test_aimd_starts_at_ceiling_and_clamps() -> None:
    assert Aimd.start(80.0).rate_per_s == 80.0
    assert Aimd.start(80.0, initial_per_s=500.0).rate_per_s == 80.0
    assert Aimd.start(80.0, initial_per_s=0.1, floor_per_s=2.0).rate_per_s == 2.0
    assert Aimd.start(0.5).floor_per_s == 0.5  # floor never above the ceiling


def test_storm_of_429s_in_one_burst_counts_once() -> None:
    clock = FakeClock()
    state = Aimd.start(80.0)
    for _ in range(50):
        state = on_throttle(state, clock.advance(0.01))
    assert state.rate_per_s == 40.0
    state = on_throttle(state, clock.advance(1.0))
    assert state.rate_per_s == 20.0


def test_decrease_stops_at_floor() -> None:
    clock = FakeClock()
    state = Aimd.start(80.0, floor_per_s=5.0)
    for _ in range(20):
        state = on_throttle(state, clock.advance(2.0))
    assert state.rate_per_s == 5.0


def test_additive_increase_after_quiet_period() -> None:
    clock = FakeClock()
    state = Aimd.start(80.0, increase_per_s=2.0, quiet_s=5.0)
    state = on_throttle(state, clock.t)  # 40 mps
    state = on_success(state, clock.advance(3.0))
    assert state.rate_per_s == 40.0  # still quiet period
    state = on_success(state, clock.advance(2.0))  # exactly quiet_s later
    assert state.rate_per_s == 40.0
    state = on_success(state, clock.advance(1.0))
    assert state.rate_per_s == pytest.approx(42.0)
    for _ in range(10):
        state = on_success(state, clock.advance(0.1))
    assert state.rate_per_s == pytest.approx(44.0)  # credited once per second of quiet
    state = on_success(state, clock.advance(1000.0))
    assert state.rate_per_s == 80.0  # never above the ceiling


def test_throttle_restarts_the_quiet_period() -> None:
    clock = FakeClock()
    state = on_throttle(Aimd.start(80.0, quiet_s=5.0), clock.t)
    state = on_success(state, clock.advance(10.0))
    grown = state.rate_per_s
    state = on_throttle(state, clock.advance(0.5))  # cooldown long past: decreases again
    state = on_success(state, clock.advance(4.0))
    assert state.rate_per_s <= grown


def test_success_at_ceiling_returns_the_same_object() -> None:
    state = Aimd.start(80.0)
    assert on_success(state, 5.0) is state


def test_slow_start_from_below_ceiling() -> None:
    state = Aimd.start(80.0, initial_per_s=10.0, increase_per_s=5.0)
    state = on_success(state, 0.0)
    state = on_success(state, 2.0)
    assert state.rate_per_s == pytest.approx(20.0)


def test_with_ceiling() -> None:
    state = Aimd.start(80.0)
    assert with_ceiling(state, 20.0).rate_per_s == 20.0
    up = with_ceiling(on_throttle(state, 0.0), 1000.0)
    assert (up.rate_per_s, up.ceiling_per_s) == (40.0, 1000.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"floor_per_s": 0.0},
        {"decrease_factor": 1.0},
        {"decrease_factor": 0.0},
        {"increase_per_s": -1.0},
    ],
)
def test_aimd_validation(kwargs: dict[str, float]) -> None:
    base = {"rate_per_s": 10.0, "floor_per_s": 1.0, "ceiling_per_s": 10.0}
    with pytest.raises(ValueError):
        Aimd(**{**base, **kwargs})  # type: ignore[arg-type]


# --- token bucket -------------------------------------------------------------------------


def test_bucket_grants_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket.full(rate_per_s=80.0, burst=10.0, now=clock.t)
    bucket, granted, wait = take(bucket, 25, clock.t)
    assert (granted, wait) == (10, pytest.approx(1 / 80))
    bucket, granted, wait = take(bucket, 25, clock.advance(0.1))
    assert granted == 8 and wait > 0
    bucket, granted, wait = take(bucket, 1, clock.advance(10.0))
    assert (granted, wait, bucket.tokens) == (1, 0.0, 9.0)  # refill capped at burst


def test_wait_is_time_to_next_whole_token() -> None:
    bucket = TokenBucket.empty(rate_per_s=4.0, burst=4.0, now=0.0)
    bucket, granted, wait = take(bucket, 1, 0.125)  # half a token earned
    assert granted == 0 and wait == pytest.approx(0.125)
    bucket, granted, wait = take(bucket, 1, 0.25)
    assert granted == 1 and wait == 0.0


def test_zero_rate_waits_forever_and_zero_request() -> None:
    bucket = TokenBucket.empty(rate_per_s=0.0, burst=1.0, now=0.0)
    assert take(bucket, 1, 100.0)[1:] == (0, math.inf)
    assert take(bucket, 0, 100.0)[1:] == (0, 0.0)


def test_clock_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket.empty(rate_per_s=10.0, burst=10.0, now=100.0)
    assert refill(bucket, 50.0) is bucket


def test_set_rate_keeps_tokens_earned_at_the_old_rate() -> None:
    bucket = TokenBucket.empty(rate_per_s=10.0, burst=100.0, now=0.0)
    bucket = set_rate(bucket, 1.0, 2.0)
    assert (bucket.tokens, bucket.rate_per_s) == (20.0, 1.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"rate_per_s": -1.0}, {"burst": 0.5}, {"tokens": 11.0}, {"tokens": -0.1}],
)
def test_bucket_validation(kwargs: dict[str, float]) -> None:
    base = {"rate_per_s": 1.0, "burst": 10.0, "tokens": 0.0, "updated_at": 0.0}
    with pytest.raises(ValueError):
        TokenBucket(**{**base, **kwargs})


CALLS = st.lists(
    st.tuples(
        st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.5), st.floats(0.0, 3.0)),
        st.integers(min_value=0, max_value=200),
    ),
    min_size=1,
    max_size=120,
)


def _assert_window_bound(events: list[tuple[float, int]], rate: float, burst: float) -> None:
    for i in range(len(events)):
        total = 0
        for j in range(i, len(events)):
            total += events[j][1]
            span = events[j][0] - events[i][0]
            assert total <= rate * span + burst + 1e-6, (i, j, total, span)


@given(
    rate=st.floats(min_value=0.5, max_value=1000.0),
    burst=st.integers(min_value=1, max_value=200),
    full=st.booleans(),
    calls=CALLS,
)
def test_bucket_never_exceeds_rate_times_window_plus_burst(
    rate: float, burst: int, full: bool, calls: list[tuple[float, int]]
) -> None:
    now = 0.0
    make = TokenBucket.full if full else TokenBucket.empty
    bucket = make(rate_per_s=rate, burst=float(burst), now=now)
    events: list[tuple[float, int]] = []
    for dt, n in calls:
        now += dt
        bucket, granted, wait = take(bucket, n, now)
        assert 0 <= granted <= n
        assert (wait == 0.0) == (granted == n) or n == 0
        events.append((now, granted))
    _assert_window_bound(events, rate, float(burst))
    # and specifically over every 1 s window
    for t0, _ in events:
        in_window = sum(g for t, g in events if t0 <= t <= t0 + 1.0)
        assert in_window <= rate * 1.0 + burst + 1e-6


@given(
    rates=st.lists(st.floats(min_value=1.0, max_value=500.0), min_size=1, max_size=10),
    burst=st.integers(min_value=1, max_value=50),
    calls=CALLS,
)
def test_bound_holds_with_rate_changes(
    rates: list[float], burst: int, calls: list[tuple[float, int]]
) -> None:
    now = 0.0
    bucket = TokenBucket.full(rate_per_s=rates[0], burst=float(burst), now=now)
    events: list[tuple[float, int]] = []
    for k, (dt, n) in enumerate(calls):
        now += dt
        bucket = set_rate(bucket, rates[k % len(rates)], now)
        bucket, granted, _ = take(bucket, n, now)
        events.append((now, granted))
    _assert_window_bound(events, max(rates), float(burst))


@given(rate=st.floats(min_value=1.0, max_value=1000.0), burst=st.integers(1, 100))
def test_waiting_the_advised_time_grants_a_token(rate: float, burst: int) -> None:
    bucket = TokenBucket.full(rate_per_s=rate, burst=float(burst), now=0.0)
    bucket, granted, wait = take(bucket, burst + 1, 0.0)
    assert granted == burst and wait > 0
    _, granted, _ = take(bucket, 1, wait * (1 + 1e-9) + 1e-12)
    assert granted == 1


# --- circuit breaker ----------------------------------------------------------------------


def test_breaker_opens_after_threshold_and_probes() -> None:
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=3, open_s=30.0)
    for _ in range(2):
        cb = on_result(cb, False, clock.advance(1))
    assert cb.state is BreakerState.CLOSED
    cb = on_result(cb, True, clock.advance(1))  # a success resets the count
    for _ in range(3):
        cb = on_result(cb, False, clock.advance(1))
    assert cb.state is BreakerState.OPEN
    cb, ok = allow(cb, clock.advance(10))
    assert not ok and retry_in(cb, clock.t) == pytest.approx(20.0)
    cb, ok = allow(cb, clock.advance(20))
    assert ok and cb.state is BreakerState.HALF_OPEN
    cb, ok = allow(cb, clock.t)
    assert not ok  # only one probe
    cb = on_result(cb, True, clock.advance(1))
    assert cb.state is BreakerState.CLOSED
    assert allow(cb, clock.t)[1]


def test_failed_probe_reopens() -> None:
    cb = CircuitBreaker(failure_threshold=1, open_s=5.0)
    cb = on_result(cb, False, 0.0)
    cb, ok = allow(cb, 5.0)
    assert ok
    cb = on_result(cb, False, 6.0)
    assert cb.state is BreakerState.OPEN and cb.opened_at == 6.0
    assert not allow(cb, 10.0)[1]
    assert allow(cb, 11.0)[1]


def test_results_while_open_are_ignored() -> None:
    cb = on_result(CircuitBreaker(failure_threshold=1), False, 0.0)
    assert on_result(cb, True, 1.0) is cb
    assert retry_in(CircuitBreaker(), 0.0) == 0.0


def test_breaker_validation() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
