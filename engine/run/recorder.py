"""Batches send outcomes into the outbox: one round trip per batch.

The same statement refreshes the portfolio's rolling-24 h recipient ledger for the accepted
sends (``outbox.record``), so the messaging-limit count costs no extra round trip.

Flushes when ``batch`` outcomes are waiting or ``flush_s`` after the first one, whichever
comes first, and once more on close. A flush runs under ``asyncio.shield`` so a cancelled
job still lands its outcomes; a failed write is retried (the rows stay buffered) rather
than dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg

from engine.db import outbox
from engine.db.outbox import OutcomeRow
from engine.logs import get_logger

log = get_logger("engine.recorder")


class Recorder:
    def __init__(
        self,
        pool: asyncpg.Pool,
        token: uuid.UUID,
        *,
        flush_s: float,
        batch: int,
        portfolio: str | None = None,
    ) -> None:
        self._pool = pool
        self._portfolio = portfolio
        self._token = token
        self._flush_s = flush_s
        self._batch = batch
        self._buffer: list[OutcomeRow] = []
        self._kick = asyncio.Event()
        self._lock = asyncio.Lock()
        self.written = 0
        self.by_state: Counter[str] = Counter()
        self.flushes = 0

    def __repr__(self) -> str:
        return f"Recorder(buffered={len(self._buffer)}, written={self.written})"

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def put(self, row: OutcomeRow) -> None:
        self._buffer.append(row)
        if len(self._buffer) == 1 or len(self._buffer) >= self._batch:
            self._kick.set()

    async def run(self) -> None:
        """Flush loop; runs until cancelled (then ``close`` writes the rest)."""
        while True:
            await self._kick.wait()
            if len(self._buffer) < self._batch:
                await asyncio.sleep(self._flush_s)
            self._kick.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._buffer:
                rows, self._buffer = self._buffer[: self._batch], self._buffer[self._batch :]
                await asyncio.shield(self._write(rows))

    @contextlib.asynccontextmanager
    async def writes_held(self) -> AsyncIterator[None]:
        """No flush runs inside this block: a caller can read the outbox and ``by_state``
        as one consistent snapshot (outcomes keep buffering meanwhile)."""
        async with self._lock:
            yield

    async def _write(self, rows: list[OutcomeRow]) -> None:
        delay_s = 0.05
        while True:
            try:
                await outbox.record(self._pool, self._token, rows, portfolio=self._portfolio)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(
                    "recorder_write_failed", rows=len(rows), error=str(exc), retry_s=delay_s
                )
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 2.0)
                continue
            self.written += len(rows)
            self.flushes += 1
            self.by_state.update(r.state for r in rows)
            return

    async def close(self) -> None:
        await asyncio.shield(self.flush())
