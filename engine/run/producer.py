"""The producer: claims due rows in batches and feeds the bounded queue.

It claims only when the queue has room for a whole batch, so at most ``queue_size +
claim_batch`` rows are claimed-but-unsent at any moment (the window a crash turns into
``unknown``); memory is bounded by those sizes, never by the audience.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from engine.db import outbox
from engine.db.outbox import ClaimedRow

IDLE_POLL_S = 0.25
ROOM_POLL_S = 0.005


class Producer:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        campaign_id: int,
        token: uuid.UUID,
        queue: asyncio.Queue[ClaimedRow],
        batch: int,
    ) -> None:
        self._pool = pool
        self._campaign_id = campaign_id
        self._token = token
        self._queue = queue
        self._batch = max(1, min(batch, queue.maxsize))
        self.claiming = True
        self.claimed = 0
        self.found_nothing = asyncio.Event()

    def __repr__(self) -> str:
        return f"Producer(claiming={self.claiming}, claimed={self.claimed})"

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
            rows = await outbox.claim(self._pool, self._campaign_id, self._token, self._batch)
            if not rows:
                self.found_nothing.set()
                await asyncio.sleep(IDLE_POLL_S)
                continue
            self.found_nothing.clear()
            self.claimed += len(rows)
            for row in rows:
                self._queue.put_nowait(row)
