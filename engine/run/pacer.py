"""One pacing task per channel that releases send permits in small batches.

Workers ``await pacer.acquire()``; the pacing task takes tokens from an
``aiolimiter.AsyncLimiter`` for a *batch* of waiting workers at a time (about 10 ms worth
of rate), then releases them together. Acquiring per message would arm one sub-millisecond
timer per message, which uvloop rounds to whole milliseconds and spins on.

Burst: aiolimiter lets ``max_rate`` through at once (its bucket capacity) and leaks at
``max_rate / time_period``. So the limiter is built as ``AsyncLimiter(capacity, capacity /
rate)``: capacity = the profile's ``burst`` (never below one grant batch), period =
``burst / rate``. ``AsyncLimiter(rate, 1.0)`` would let twice the rate through in the first
second. ``rate_per_s=None`` means no artificial cap (sandbox benchmarks).
"""

from __future__ import annotations

import asyncio
import collections
import math

from aiolimiter import AsyncLimiter

GRANT_WINDOW_S = 0.01
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
        self.set_rate(rate_per_s)

    def __repr__(self) -> str:
        return (
            f"Pacer(rate_per_s={self.rate_per_s}, waiting={len(self._waiters)}, "
            f"granted={self.granted})"
        )

    def set_rate(self, rate_per_s: float | None) -> None:
        """Change the rate now (AIMD); in-progress acquisitions finish at the old rate."""
        if rate_per_s is not None and rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0 or None")
        self.rate_per_s = rate_per_s
        if rate_per_s is None:
            self._limiter = None
            self._grant = 1 << 30
            return
        self._grant = max(1, math.floor(rate_per_s * GRANT_WINDOW_S))
        burst = self.burst if self.burst is not None else rate_per_s * DEFAULT_BURST_S
        # At least two grant batches: the pacing task's timer fires late by up to a
        # millisecond (uvloop rounds), and with room for only one batch every late wake-up
        # would be lost throughput; with two, the bucket absorbs it and the rate holds.
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
        while True:
            if not self._waiters:
                self._wake.clear()
                await self._wake.wait()
                continue
            limiter = self._limiter
            if limiter is None:
                n = len(self._waiters)
            else:
                n = min(len(self._waiters), self._grant)
                await limiter.acquire(n)
            released = 0
            while released < n and self._waiters:
                fut = self._waiters.popleft()
                if not fut.done():
                    fut.set_result(None)
                    released += 1
            self.granted += released
