"""The producer: claims due rows in batches and feeds the bounded queue.

It claims only when the queue has room for a whole batch, so at most ``queue_size +
claim_batch`` rows are claimed-but-unsent at any moment (the window a crash turns into
``unknown``); memory is bounded by those sizes, never by the audience.

Two gates apply at claim time:
- the portfolio's messaging-limit budget (``BudgetGate``): new recipients are claimed only
  while the portfolio has unique-recipient budget left in the rolling 24 h; when it is spent
  the producer reports ``budget_exhausted`` and the job waits (state ``throttled``);
- the send window: claimed rows outside their recipient's hours go back to ``pending`` with
  ``retry_at`` = the window's next opening, so they never block rows in other zones.
"""

from __future__ import annotations

import asyncio
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
ROOM_POLL_S = 0.005
TIER_REFRESH_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetGate:
    portfolio: str
    profile_limit: int | None  # None = unlimited (a webhook-learned tier still applies)


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
            f"deferred={self.deferred}, budget_exhausted={self.budget_exhausted})"
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
            room = self._queue.maxsize - self._queue.qsize()
            if room < self._batch:
                await asyncio.sleep(ROOM_POLL_S)
                continue
            rows = await self._claim()
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

    async def _claim(self) -> list[ClaimedRow]:
        if self._gate is None:
            return await outbox.claim(self._pool, self._campaign_id, self._token, self._batch)
        now = time.monotonic()
        if now - self._tier_at >= TIER_REFRESH_S:
            # A tier upgrade learned from a webhook takes effect within TIER_REFRESH_S.
            self._tier = await budget.tier_limit(
                self._pool, self._gate.portfolio, self._gate.profile_limit
            )
            self._tier_at = now
        if self._tier is None:
            self.budget_exhausted = False
            return await outbox.claim(self._pool, self._campaign_id, self._token, self._batch)
        rows, left = await budget.claim_within_budget(
            self._pool,
            self._campaign_id,
            self._token,
            self._batch,
            portfolio=self._gate.portfolio,
            tier=self._tier,
        )
        self.budget_exhausted = not rows and left == 0
        return rows
