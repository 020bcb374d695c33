"""Group commit of webhook bodies into ``webhook_inbox``.

Concurrent requests do not each pay an INSERT and a commit: ``submit`` appends the body to a
shared queue and waits; ``writers`` tasks take everything queued (up to ``max_batch``), write
it with one multi-row INSERT (one round trip, one commit) and resolve the waiting futures.
While one batch commits the next one accumulates, so the number of commits tracks the
database's commit latency, not the request rate.

Contract: ``submit`` returns only after the body is committed; it raises ``InboxUnavailable``
when the write failed (the receiver answers 503 so the sender retries) or the writer is
closed. A caller cancelled while waiting does not cancel the write: the body still lands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from engine.db import webhooks as store
from engine.errors import EngineError
from engine.logs import get_logger

log = get_logger("engine.webhooks.inbox")

_Item = tuple[str, bytes, "asyncio.Future[None]"]


class InboxUnavailable(EngineError):
    """The body could not be stored (database down, writer closed): answer 503."""


class InboxWriter:
    """The group-commit writer; start with ``start()``, stop with ``close()`` (flushes)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch: int = 1000,
        writers: int = 2,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._writers = writers
        self._on_commit = on_commit
        self._queue: list[_Item] = []
        self._ready = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.commits = 0
        self.stored = 0
        self.failed = 0

    def __repr__(self) -> str:
        return (
            f"<InboxWriter queued={len(self._queue)} commits={self.commits} "
            f"stored={self.stored} failed={self.failed} closing={self._closing}>"
        )

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"inbox-writer-{i}") for i in range(self._writers)
        ]

    async def submit(self, channel: str, body: bytes) -> None:
        """Store one body; returns after its commit. ``InboxUnavailable`` on failure."""
        if self._closing:
            raise InboxUnavailable("inbox writer is closed")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._ready:
            self._queue.append((channel, body, fut))
            self._ready.notify()
        # shield: a disconnecting client must not cancel a write others share.
        await asyncio.shield(fut)

    async def close(self) -> None:
        """Refuse new bodies, write everything queued, stop the writer tasks."""
        self._closing = True
        async with self._ready:
            self._ready.notify_all()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info(
            "inbox_writer_stopped", commits=self.commits, stored=self.stored, failed=self.failed
        )

    async def _take(self) -> list[_Item]:
        async with self._ready:
            await self._ready.wait_for(lambda: bool(self._queue) or self._closing)
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            return batch

    async def _run(self) -> None:
        while True:
            batch = await self._take()
            if not batch:
                return  # closing and drained
            await self._write(batch)

    async def _write(self, batch: list[_Item]) -> None:
        channels = [item[0] for item in batch]
        bodies = [item[1] for item in batch]
        try:
            await store.insert_inbox(self._pool, channels, bodies)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            self.failed += len(batch)
            log.error("inbox_write_failed", bodies=len(batch), error=str(exc))
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(InboxUnavailable(f"inbox write failed: {exc}"))
                    fut.exception()  # retrieved here: a cancelled waiter must not leak it
            return
        self.commits += 1
        self.stored += len(batch)
        for _, _, fut in batch:
            if not fut.done():
                fut.set_result(None)
        if self._on_commit is not None:
            self._on_commit()
