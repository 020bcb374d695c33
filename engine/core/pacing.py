"""Pacing: adaptive rate (AIMD), token bucket refill math, circuit breaker.

All three are frozen values; every function takes the old value and ``now`` and returns
the new one, so the runtime's single pacing task owns the only mutable reference.
``now`` is the runtime clock in seconds (``loop.time()``: monotonic); functions tolerate
a ``now`` that goes backwards by treating it as "no time passed".

How the runtime uses them (per channel)::

    aimd = Aimd.start(ceiling_per_s=profile.rate)       # on 130429/429/503: on_throttle
    bucket = TokenBucket.full(rate_per_s=aimd.rate_per_s, burst=profile.burst, now=now)
    every ~10 ms:  bucket, n, wait_s = take(bucket, waiting_workers, now)   # release n
    after AIMD changes the rate:  bucket = set_rate(bucket, aimd.rate_per_s, now)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "Aimd",
    "BreakerState",
    "CircuitBreaker",
    "TokenBucket",
    "allow",
    "on_result",
    "on_success",
    "on_throttle",
    "refill",
    "retry_in",
    "set_rate",
    "take",
    "with_ceiling",
]


# --- AIMD ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Aimd:
    """Additive-increase / multiplicative-decrease send rate, in messages per second.

    ``decrease_factor``: rate multiplier on a throttle signal (at most once per
    ``cooldown_s``, so a storm of 429s answering one burst counts once).
    ``increase_per_s``: mps added per second of quiet, once ``quiet_s`` have passed since
    the last throttle signal. The rate stays within ``[floor_per_s, ceiling_per_s]``; the
    ceiling is the profile rate (never exceeded by design).
    """

    rate_per_s: float
    floor_per_s: float
    ceiling_per_s: float
    decrease_factor: float = 0.5
    increase_per_s: float = 2.0
    quiet_s: float = 5.0
    cooldown_s: float = 1.0
    last_throttle_at: float | None = None
    last_decrease_at: float | None = None
    credited_until: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.floor_per_s <= self.ceiling_per_s:
            raise ValueError("Aimd: need 0 < floor_per_s <= ceiling_per_s")
        if not 0 < self.decrease_factor < 1:
            raise ValueError("Aimd: decrease_factor must be within (0, 1)")
        if self.increase_per_s < 0 or self.quiet_s < 0 or self.cooldown_s < 0:
            raise ValueError("Aimd: increase_per_s, quiet_s and cooldown_s must be >= 0")

    @classmethod
    def start(
        cls,
        ceiling_per_s: float,
        *,
        floor_per_s: float = 1.0,
        initial_per_s: float | None = None,
        **tuning: float,
    ) -> Aimd:
        """A fresh state at ``initial_per_s`` (default: the ceiling)."""
        floor = min(floor_per_s, ceiling_per_s)
        rate = ceiling_per_s if initial_per_s is None else initial_per_s
        return cls(
            rate_per_s=min(max(rate, floor), ceiling_per_s),
            floor_per_s=floor,
            ceiling_per_s=ceiling_per_s,
            **tuning,
        )


def on_throttle(state: Aimd, now: float) -> Aimd:
    """A throttle signal (130429, gateway 429/503, "endpoint rate limit") at ``now``."""
    decrease = state.last_decrease_at is None or now - state.last_decrease_at >= state.cooldown_s
    rate = state.rate_per_s
    if decrease:
        rate = max(state.floor_per_s, rate * state.decrease_factor)
    return replace(
        state,
        rate_per_s=rate,
        last_throttle_at=now,
        last_decrease_at=now if decrease else state.last_decrease_at,
        credited_until=now,
    )


def on_success(state: Aimd, now: float) -> Aimd:
    """A send accepted at ``now``: grow the rate by ``increase_per_s`` per quiet second.

    Quiet time is credited once: from the later of the last credit and the end of the
    ``quiet_s`` period after the last throttle. Returns ``state`` itself when nothing
    changes (the common case at the ceiling), so the hot path does not allocate.
    """
    if state.rate_per_s >= state.ceiling_per_s:
        return state
    if state.credited_until is None:
        return replace(state, credited_until=now)
    start = state.credited_until
    if state.last_throttle_at is not None:
        start = max(start, state.last_throttle_at + state.quiet_s)
    if now <= start:
        return state
    rate = min(state.ceiling_per_s, state.rate_per_s + state.increase_per_s * (now - start))
    return replace(state, rate_per_s=rate, credited_until=now)


def with_ceiling(state: Aimd, ceiling_per_s: float) -> Aimd:
    """New ceiling (profile change, throughput upgrade); the rate is clamped into range."""
    floor = min(state.floor_per_s, ceiling_per_s)
    rate = min(max(state.rate_per_s, floor), ceiling_per_s)
    return replace(state, ceiling_per_s=ceiling_per_s, floor_per_s=floor, rate_per_s=rate)


# --- token bucket -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenBucket:
    """Tokens refill at ``rate_per_s`` up to ``burst``; one token = one send.

    Guarantee (tested by property): over any window of length ``T`` the tokens granted
    are at most ``rate_per_s * T + burst`` (with the highest rate in effect in the window).
    """

    rate_per_s: float
    burst: float
    tokens: float
    updated_at: float

    def __post_init__(self) -> None:
        if self.rate_per_s < 0 or self.burst < 1:
            raise ValueError("TokenBucket: need rate_per_s >= 0 and burst >= 1")
        if not 0 <= self.tokens <= self.burst:
            raise ValueError("TokenBucket: tokens must be within [0, burst]")

    @classmethod
    def full(cls, *, rate_per_s: float, burst: float, now: float) -> TokenBucket:
        return cls(rate_per_s=rate_per_s, burst=burst, tokens=burst, updated_at=now)

    @classmethod
    def empty(cls, *, rate_per_s: float, burst: float, now: float) -> TokenBucket:
        return cls(rate_per_s=rate_per_s, burst=burst, tokens=0.0, updated_at=now)


def refill(bucket: TokenBucket, now: float) -> TokenBucket:
    """Credit the tokens earned since ``updated_at`` (capped at ``burst``)."""
    if now <= bucket.updated_at:
        return bucket
    tokens = min(bucket.burst, bucket.tokens + (now - bucket.updated_at) * bucket.rate_per_s)
    return replace(bucket, tokens=tokens, updated_at=now)


def take(bucket: TokenBucket, n: int, now: float) -> tuple[TokenBucket, int, float]:
    """Grant up to ``n`` whole tokens at ``now``.

    Returns ``(bucket, granted, wait_s)``: ``wait_s`` is 0 when all ``n`` were granted,
    else the seconds until the next whole token (``inf`` at rate 0). Rounding always
    favours granting fewer.
    """
    bucket = refill(bucket, now)
    if n <= 0:
        return bucket, 0, 0.0
    granted = min(n, math.floor(bucket.tokens))
    tokens = bucket.tokens - granted
    if granted:
        bucket = replace(bucket, tokens=tokens)
    if granted == n:
        return bucket, granted, 0.0
    wait_s = math.inf if bucket.rate_per_s <= 0 else (1.0 - tokens) / bucket.rate_per_s
    return bucket, granted, wait_s


def set_rate(bucket: TokenBucket, rate_per_s: float, now: float) -> TokenBucket:
    """Change the refill rate at ``now`` (tokens earned so far keep the old rate)."""
    bucket = refill(bucket, now)
    return replace(bucket, rate_per_s=rate_per_s)


# --- circuit breaker ----------------------------------------------------------------------


class BreakerState(StrEnum):
    CLOSED = "closed"  # sending normally
    OPEN = "open"  # sends refused until open_s has passed
    HALF_OPEN = "half_open"  # one probe allowed; its result closes or re-opens


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures (the runtime decides what
    counts: 5xx, code 2, connect failures), stays open ``open_s``, then lets one probe
    through."""

    failure_threshold: int = 5
    open_s: float = 30.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float | None = None
    probe_in_flight: bool = False

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_s < 0:
            raise ValueError("CircuitBreaker: need failure_threshold >= 1 and open_s >= 0")


def allow(cb: CircuitBreaker, now: float) -> tuple[CircuitBreaker, bool]:
    """May a request go out at ``now``? Taking the half-open probe is recorded."""
    if cb.state is BreakerState.CLOSED:
        return cb, True
    if cb.state is BreakerState.OPEN:
        if retry_in(cb, now) > 0:
            return cb, False
        return replace(cb, state=BreakerState.HALF_OPEN, probe_in_flight=True), True
    if cb.probe_in_flight:
        return cb, False
    return replace(cb, probe_in_flight=True), True


def on_result(cb: CircuitBreaker, ok: bool, now: float) -> CircuitBreaker:
    """Record a request's result. Results arriving while open (requests that left before
    it opened) are ignored."""
    if cb.state is BreakerState.OPEN:
        return cb
    if ok:
        if cb.state is BreakerState.CLOSED and cb.failures == 0:
            return cb
        return replace(cb, state=BreakerState.CLOSED, failures=0, probe_in_flight=False)
    failures = cb.failures + 1
    if cb.state is BreakerState.HALF_OPEN or failures >= cb.failure_threshold:
        return replace(
            cb, state=BreakerState.OPEN, failures=0, opened_at=now, probe_in_flight=False
        )
    return replace(cb, failures=failures)


def retry_in(cb: CircuitBreaker, now: float) -> float:
    """Seconds until :func:`allow` would let a probe through (0 when not open)."""
    if cb.state is not BreakerState.OPEN or cb.opened_at is None:
        return 0.0
    return max(0.0, cb.opened_at + cb.open_s - now)
