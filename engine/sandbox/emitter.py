"""The webhook emitter: timed statuses and events, batched POSTs, retries, bounded memory.

Shape: ``offer_*`` (sync, called on the send path) pushes entries on a heap ordered by due
time and returns at once; a pump task pops what is due every ``batch_window_ms``, groups
statuses by API key into batches of at most ``batch_max`` and hands them to ``concurrency``
worker tasks sharing one ``aiohttp.ClientSession``. A POST not answered 200 within
``request_timeout_ms`` is retried with doubling backoff until ``retry_horizon_s`` after its
first attempt, then abandoned. At most ``queue_size`` statuses/events are pending (heap +
ready + in flight); offers beyond that are dropped and counted, so a slow receiver can
never slow the send path or grow memory without bound.

Destinations are resolved when a batch is first posted (a key may configure its webhook
after its first sends). ``reset()`` forgets everything pending; batches in flight finish
without touching the new counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import itertools
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import aiohttp
import orjson

from engine.sandbox import payloads
from engine.sandbox.accounts import Channel
from engine.sandbox.config import DeliveryConfig
from engine.sandbox.lifecycle import Planned
from engine.sandbox.replies import status_error
from engine.sandbox.stats import SandboxStats
from engine.sandbox.subscriptions import Destination, Subscriptions

_MAX_POP_PER_TICK = 20_000
SIGNATURE_HEADER = "x-360dialog-signature"


class _Message(NamedTuple):
    """What every status of one accepted message shares."""

    channel: Channel
    wamid: str
    wa_id: str
    callback: str | None
    category: str


class _Status(NamedTuple):
    """A planned status waiting on the heap (``ts``: its webhook timestamp, Unix s)."""

    message: _Message
    entry: Planned
    ts: int


class _Batch:
    """One webhook POST: statuses of one key, or one prebuilt event body."""

    __slots__ = (
        "api_key",
        "attempt",
        "body",
        "channel",
        "dest",
        "epoch",
        "first_at",
        "label",
        "n",
        "statuses",
    )

    def __init__(
        self,
        *,
        api_key: str | None,
        channel: Channel | None,
        statuses: list[_Status],
        body: bytes | None,
        label: str,
        epoch: int,
    ) -> None:
        self.api_key = api_key
        self.channel = channel
        self.statuses = statuses
        self.body = body
        self.label = label
        self.n = len(statuses) or 1
        self.dest: Destination | None = None
        self.attempt = 0
        self.first_at = 0.0
        self.epoch = epoch


class Emitter:
    """Owns the pump and worker tasks (``start``/``stop``) and the pending-entry budget."""

    def __init__(
        self,
        config: DeliveryConfig,
        subscriptions: Subscriptions,
        stats: SandboxStats,
        *,
        signing_secret: str | None = None,
    ) -> None:
        self._config = config
        self._secret = signing_secret.encode() if signing_secret else None
        self._subs = subscriptions
        self._stats = stats
        self._heap: list[tuple[float, int, _Status | _Batch]] = []
        self._seq = itertools.count()
        self._ready: asyncio.Queue[_Batch] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._target = math.inf
        self._pending = 0
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return (
            f"<Emitter pending={self._pending} heap={len(self._heap)} "
            f"ready={self._ready.qsize()} tasks={len(self._tasks)}>"
        )

    @property
    def pending(self) -> int:
        """Statuses and events accepted for emission and not yet settled."""
        return self._pending

    async def start(self) -> None:
        """Open the HTTP session and start the pump and the workers."""
        self._loop = asyncio.get_running_loop()
        cfg = self._config
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=cfg.concurrency),
            timeout=aiohttp.ClientTimeout(total=cfg.request_timeout_ms / 1000.0),
        )
        self._tasks.append(asyncio.create_task(self._pump(), name="sandbox-emitter-pump"))
        for i in range(cfg.concurrency):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"sandbox-emitter-{i}"))

    async def stop(self) -> None:
        """Cancel the tasks (pending webhooks are lost) and close the session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reset(self) -> None:
        """Forget all pending entries; in-flight POSTs finish without counting."""
        self._epoch += 1
        self._heap.clear()
        while not self._ready.empty():
            self._ready.get_nowait()
        self._pending = 0

    def _admit(self, n: int) -> bool:
        if self._loop is None or self._pending + n > self._config.queue_size:
            self._stats.webhook_drops += n
            return False
        self._pending += n
        return True

    def _push(self, due: float, item: _Status | _Batch) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), item))
        if due < self._target:
            self._target = due
            self._wake.set()

    def offer_statuses(
        self,
        channel: Channel,
        *,
        wamid: str,
        wa_id: str,
        callback: str | None,
        category: str,
        plan: Iterable[Planned],
        accepted_at_s: float,
    ) -> bool:
        """Schedule a message's planned statuses; False (all dropped) when the queue is full."""
        entries = list(plan)
        if not entries or not self._admit(len(entries)):
            return False
        assert self._loop is not None
        base = self._loop.time()
        message = _Message(channel, wamid, wa_id, callback, category)
        for entry in entries:
            item = _Status(message, entry, int(accepted_at_s + entry.offset_s))
            self._push(base + entry.offset_s, item)
        return True

    def offer_event(self, api_key: str | None, label: str, payload: dict[str, Any]) -> bool:
        """Schedule one prebuilt notification now; False when the queue is full."""
        if not self._admit(1):
            return False
        assert self._loop is not None
        batch = _Batch(
            api_key=api_key,
            channel=None,
            statuses=[],
            body=orjson.dumps(payload),
            label=label,
            epoch=self._epoch,
        )
        self._push(self._loop.time(), batch)
        return True

    async def _pump(self) -> None:
        assert self._loop is not None
        loop, heap = self._loop, self._heap
        window_s = self._config.batch_window_ms / 1000.0
        while True:
            if not heap:
                self._target = math.inf
                self._wake.clear()
                await self._wake.wait()
                continue
            now = loop.time()
            due = heap[0][0]
            if due > now:
                self._target = due
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(due - now):
                        await self._wake.wait()
                continue
            self._target = -math.inf  # collecting: new offers wait for the next tick
            self._dispatch_due(now)
            await asyncio.sleep(window_s)

    def _dispatch_due(self, now: float) -> None:
        heap, ready, batch_max = self._heap, self._ready, self._config.batch_max
        groups: dict[str, list[_Status]] = {}
        popped = 0
        while heap and heap[0][0] <= now and popped < _MAX_POP_PER_TICK:
            item = heapq.heappop(heap)[2]
            popped += 1
            if isinstance(item, _Batch):
                ready.put_nowait(item)
            else:
                groups.setdefault(item.message.channel.api_key, []).append(item)
        for api_key, items in groups.items():
            channel = items[0].message.channel
            for i in range(0, len(items), batch_max):
                ready.put_nowait(
                    _Batch(
                        api_key=api_key,
                        channel=channel,
                        statuses=items[i : i + batch_max],
                        body=None,
                        label="statuses",
                        epoch=self._epoch,
                    )
                )

    def _render(self, batch: _Batch, dest: Destination) -> bytes:
        """Body of a status batch; counts each distinct status once (first attempt)."""
        assert batch.channel is not None
        stats = self._stats
        objs = []
        for message, entry, ts in batch.statuses:
            if not entry.duplicate:
                stats.emitted(entry.status, entry.error_code)
            objs.append(
                payloads.status_object(
                    wamid=message.wamid,
                    status=entry.status,
                    timestamp_s=ts,
                    recipient_id=message.wa_id,
                    callback_data=message.callback,
                    category=message.category,
                    priced=entry.priced,
                    error=status_error(entry.error_code) if entry.error_code else None,
                )
            )
        channel = batch.channel
        return orjson.dumps(
            payloads.messages_envelope(
                waba_id=channel.waba_id,
                phone_number=channel.phone_number,
                phone_number_id=channel.phone_number_id,
                value={"statuses": objs},
            )
        )

    async def _worker(self) -> None:
        assert self._loop is not None
        loop, stats = self._loop, self._stats
        while True:
            batch = await self._ready.get()
            if batch.epoch != self._epoch:
                continue
            if batch.dest is None:
                dest = self._subs.get(batch.api_key)
                if dest is None:
                    stats.webhooks_unrouted += batch.n
                    self._pending -= batch.n
                    continue
                batch.dest = dest
                batch.first_at = loop.time()
                if batch.body is None:
                    batch.body = self._render(batch, dest)
                else:
                    stats.events_emitted[batch.label] = stats.events_emitted.get(batch.label, 0) + 1
            ok = await self._post(batch.dest, batch.body or b"")
            if batch.epoch != self._epoch:
                continue
            if ok:
                stats.webhooks_sent += 1
                stats.webhook_statuses_sent += len(batch.statuses)
                self._pending -= batch.n
                continue
            stats.webhook_attempts_failed += 1
            batch.attempt += 1
            cfg = self._config
            backoff_s = (
                min(cfg.retry_initial_ms * 2 ** (batch.attempt - 1), cfg.retry_max_ms) / 1000.0
            )
            now = loop.time()
            if now + backoff_s - batch.first_at > cfg.retry_horizon_s:
                stats.webhooks_abandoned += batch.n
                self._pending -= batch.n
            else:
                self._push(now + backoff_s, batch)

    async def _post(self, dest: Destination, body: bytes) -> bool:
        """One attempt: True only for a 200 answer."""
        assert self._session is not None
        headers = {"Content-Type": "application/json", **dest.headers}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        try:
            async with self._session.post(dest.url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return False
