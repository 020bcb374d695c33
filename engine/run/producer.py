"""The producer: claims due rows in batches and feeds the bounded queue.

Claimed-but-unsent rows are the window a crash turns into ``unknown`` (a kill -9 cannot tell
them from rows on the wire, and with ``on_unknown: skip`` they are never sent), so the
producer claims only about ``CLAIM_AHEAD_S`` of sends ahead (``ClaimAhead``): it measures
how fast the senders drain the queue, keeps ``ahead`` rows queued (drain rate x
``CLAIM_AHEAD_S``, at least ``MIN_AHEAD``, at most the queue's size), refills when half of
them are gone, and sleeps until then (a timer sized by the rate, not a poll). At 80 msgs/s
that is 50 rows, at 10,000/s about 1,000; never more than ``queue_size`` queued, nor
``claim_batch`` per claim. Besides the queue, each sender worker holds the row it is about
to send (``concurrency`` rows). Memory is bounded by those sizes, never by the audience.

Two gates apply at claim time:
- the portfolio's messaging-limit budget (``BudgetGate``): new recipients are claimed only
  while the portfolio has unique-recipient budget left in the rolling 24 h; when it is spent
  the producer reports ``budget_exhausted`` and the job waits (state ``throttled``);
- the send window: claimed rows outside their recipient's hours go back to ``pending`` with
  ``retry_at`` = the window's next opening, so they never block rows in other zones.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.core.windows import SendWindow
from engine.db import budget, outbox
from engine.db.outbox import ClaimedRow
from engine.run.windowing import split_by_window

IDLE_POLL_S = 0.25
TIER_REFRESH_S = 5.0
CLAIM_AHEAD_S = 0.1  # seconds of sends kept claimed ahead of the senders
MIN_AHEAD = 50  # rows: below this a claim's round trip costs more than it saves
MIN_SLEEP_S = 0.002
UNMEASURED_POLL_S = 0.005  # for the first MEASURE_S, before the drain rate is known


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetGate:
    portfolio: str
    profile_limit: int | None  # None = unlimited (a webhook-learned tier still applies)


class ClaimAhead:
    """How many rows to claim now, or how long to wait: sized by the measured drain rate.

    ``plan`` gets the queue's depth and room and how many rows the senders have taken from
    it so far; it returns ``(rows, 0.0)`` to claim now, or ``(0, sleep_s)``: the time the
    senders need to bring the queue down to the refill point (half of ``ahead``) at the
    measured rate. The caller reports each claim's result with ``claimed``.

    The drain rate is measured over spans of at least ``MEASURE_S``. At each refill,
    ``ahead`` becomes rate x ``CLAIM_AHEAD_S`` (within ``MIN_AHEAD`` and the queue's size),
    shrinking by at most half at a time; a queue found empty after a claim that got every
    row it asked for means the senders starved, and ``ahead`` at least doubles.
    """

    MEASURE_S = 0.05

    def __init__(self, *, capacity: int, batch: int) -> None:
        self.capacity = capacity
        self.batch = batch
        self.ahead = min(capacity, MIN_AHEAD)
        self.drain_per_s: float | None = None  # None until measured
        self._mark: tuple[float, int] | None = None
        self._last_full = False

    def __repr__(self) -> str:
        return f"ClaimAhead(ahead={self.ahead}, drain_per_s={self.drain_per_s})"

    def plan(self, *, queued: int, room: int, taken: int, now: float) -> tuple[int, float]:
        if self._mark is None:
            self._mark = (now, taken)
        elif now - self._mark[0] >= self.MEASURE_S:
            self.drain_per_s = max(0.0, (taken - self._mark[1]) / (now - self._mark[0]))
            self._mark = (now, taken)
        if queued <= self.ahead // 2:  # a refill is due: resize first
            ahead = self.ahead
            if self.drain_per_s is not None:
                ahead = max(math.ceil(self.drain_per_s * CLAIM_AHEAD_S), ahead // 2)
            if queued == 0 and self._last_full:
                ahead = max(ahead, 2 * self.ahead)
            self.ahead = min(self.capacity, max(MIN_AHEAD, ahead))
        refill_at = self.ahead // 2
        if queued > refill_at:
            if self.drain_per_s is None:
                return 0, UNMEASURED_POLL_S
            if self.drain_per_s <= 0:  # the senders are held (breaker, pause)
                return 0, IDLE_POLL_S
            wait_s = (queued - refill_at) / self.drain_per_s
            return 0, min(IDLE_POLL_S, max(MIN_SLEEP_S, wait_s))
        return max(1, min(self.batch, room, self.ahead - queued)), 0.0

    def claimed(self, asked: int, got: int) -> None:
        """The database had every row asked for (so an empty queue means too few ahead)."""
        self._last_full = got >= asked


class Producer:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        campaign_id: int,
        token: uuid.UUID,
        queue: asyncio.Queue[ClaimedRow],
        batch: int,
        budget_gate: BudgetGate | None = None,
        window: SendWindow | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._campaign_id = campaign_id
        self._token = token
        self._queue = queue
        self._batch = max(1, min(batch, queue.maxsize))
        self._ahead = ClaimAhead(capacity=queue.maxsize, batch=self._batch)
        self._gate = budget_gate
        self._window = window
        self._clock = clock
        self._tier: int | None = None
        self._tier_at = -1e9
        self.claiming = True
        self.claimed = 0
        self.deferred = 0
        self.budget_exhausted = False
        self.found_nothing = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"Producer(claiming={self.claiming}, claimed={self.claimed}, "
            f"deferred={self.deferred}, budget_exhausted={self.budget_exhausted}, "
            f"{self._ahead!r})"
        )

    @property
    def tier(self) -> int | None:
        return self._tier

    async def run(self) -> None:
        """Claim loop; runs until cancelled."""
        while True:
            if not self.claiming:
                await asyncio.sleep(IDLE_POLL_S)
                continue
            queued = self._queue.qsize()
            limit, wait_s = self._ahead.plan(
                queued=queued,
                room=self._queue.maxsize - queued,
                taken=self.claimed - queued,
                now=time.monotonic(),
            )
            if not limit:
                await asyncio.sleep(wait_s)
                continue
            rows = await self._claim(limit)
            self._ahead.claimed(limit, len(rows))
            if self._window is not None and rows:
                rows, deferred = split_by_window(self._window, rows, self._clock())
                if deferred:
                    self.deferred += await outbox.defer(self._pool, self._token, deferred)
            if not rows:
                self.found_nothing.set()
                await asyncio.sleep(IDLE_POLL_S)
                continue
            self.found_nothing.clear()
            self.claimed += len(rows)
            for row in rows:
                self._queue.put_nowait(row)

    async def _claim(self, limit: int) -> list[ClaimedRow]:
        if self._gate is None:
            return await outbox.claim(self._pool, self._campaign_id, self._token, limit)
        now = time.monotonic()
        if now - self._tier_at >= TIER_REFRESH_S:
            # A tier upgrade learned from a webhook takes effect within TIER_REFRESH_S.
            self._tier = await budget.tier_limit(
                self._pool, self._gate.portfolio, self._gate.profile_limit
            )
            self._tier_at = now
        if self._tier is None:
            self.budget_exhausted = False
            return await outbox.claim(self._pool, self._campaign_id, self._token, limit)
        rows, left = await budget.claim_within_budget(
            self._pool,
            self._campaign_id,
            self._token,
            limit,
            portfolio=self._gate.portfolio,
            tier=self._tier,
        )
        self.budget_exhausted = not rows and left == 0
        return rows
