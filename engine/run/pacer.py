"""One pacing task per channel that releases send permits in small batches.

Workers ``await pacer.acquire()``; the pacing task takes tokens from an
``aiolimiter.AsyncLimiter`` for a *batch* of waiting workers at a time (about
``GRANT_WINDOW_S`` worth of rate) and releases them together.

Two traps, both measured on uvloop:

- Acquiring per message arms one sub-millisecond timer per message; uvloop rounds timers to
  whole milliseconds and fires them at once, so the loop spins.
- Even per batch, ``AsyncLimiter.acquire`` waiting for capacity re-arms its own short timer
  until the bucket has leaked enough, dozens of wake-ups per permit at 80/s. So the pacing
  task asks ``has_capacity`` first and, when the bucket is not ready, sleeps for the batch's
  refill time itself (never under ``MIN_SLEEP_S``); ``acquire`` then returns at once and
  aiolimiter stays the one authority on the rate.

Burst: aiolimiter lets ``max_rate`` through at once (its bucket capacity) and leaks at
``max_rate / time_period``. So the limiter is built as ``AsyncLimiter(capacity, capacity /
rate)``: capacity = the profile's ``burst``, never below two grant batches (a wake-up up to
a millisecond late then loses no throughput: the tokens wait in the bucket) and never above
one second's worth. ``AsyncLimiter(rate, 1.0)`` would let twice the rate through in the
first second. ``rate_per_s=None`` means no artificial cap (sandbox benchmarks).
"""

from __future__ import annotations

import asyncio
import collections
import math

from aiolimiter import AsyncLimiter

GRANT_WINDOW_S = 0.01  # a wake-up releases about this much of a second's rate
MIN_SLEEP_S = 0.001  # uvloop's timer resolution: shorter sleeps fire at once and spin
DEFAULT_BURST_S = 0.02  # burst as a fraction of a second's worth, when none is given


class Pacer:
    def __init__(self, rate_per_s: float | None, *, burst: float | None = None) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._wake = asyncio.Event()
        self._limiter: AsyncLimiter | None = None
        self._grant = 1
        self.rate_per_s: float | None = None
        self.burst = burst
        self.granted = 0
        self.wakeups = 0
        self.set_rate(rate_per_s)

    def __repr__(self) -> str:
        return (
            f"Pacer(rate_per_s={self.rate_per_s}, waiting={len(self._waiters)}, "
            f"granted={self.granted}, wakeups={self.wakeups})"
        )

    def set_rate(self, rate_per_s: float | None) -> None:
        """Change the rate now (AIMD); the new limiter starts with an empty bucket level,
        i.e. at most one ``capacity`` burst."""
        if rate_per_s is not None and rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0 or None")
        self.rate_per_s = rate_per_s
        if rate_per_s is None:
            self._limiter = None
            return
        self._grant = max(1, math.floor(rate_per_s * GRANT_WINDOW_S))
        burst = self.burst if self.burst is not None else rate_per_s * DEFAULT_BURST_S
        capacity = max(2.0 * self._grant, min(burst, rate_per_s))
        self._limiter = AsyncLimiter(capacity, capacity / rate_per_s)

    async def acquire(self) -> None:
        """Wait for one send permit."""
        if self._limiter is None:
            self.granted += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        await fut

    async def run(self) -> None:
        """The pacing task: runs until cancelled."""
        waiters = self._waiters
        while True:
            while waiters and waiters[0].done():  # cancelled while waiting
                waiters.popleft()
            if not waiters:
                self._wake.clear()
                await self._wake.wait()
                continue
            self.wakeups += 1
            limiter, rate = self._limiter, self.rate_per_s
            if limiter is None or rate is None:
                self._release(len(waiters))
                continue
            n = min(len(waiters), self._grant)
            if not limiter.has_capacity(n):
                await asyncio.sleep(max(MIN_SLEEP_S, n / rate))
                continue
            await limiter.acquire(n)  # has capacity: returns without waiting
            self._release(n)

    def _release(self, n: int) -> int:
        released = 0
        waiters = self._waiters
        while released < n and waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                released += 1
        self.granted += released
        return released
