"""The sender pool: ``concurrency`` workers sharing one session and one pacer per channel.

A worker takes a claimed row, renders its body (a render error fails the row with no HTTP
call), waits for a pacer permit, POSTs, and hands the decided outcome to the recorder.
A circuit breaker (``engine.core.pacing``) stops the channel after ``circuit.failures``
consecutive 5xx answers or transport failures, for ``circuit.open_s``, then lets one probe
through; rows taken meanwhile wait, they are not failed.
Rows taken while the pool is not sending (pause, drain) are released back to ``pending``:
they were never handed to HTTP, so that is safe. A worker cancelled while its request may
be on the wire records that row ``unknown``; the job cancels workers only after draining.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from engine.core import pacing
from engine.core.classify import Ambiguous
from engine.db.outbox import ClaimedRow, OutcomeRow
from engine.logs import get_logger
from engine.run.decide import Decider, Effect
from engine.run.pacer import Pacer
from engine.run.recorder import Recorder
from engine.wa.client import SendResult, WabaClient

log = get_logger("engine.sender")

BodyBuilder = Callable[[ClaimedRow], "bytes | str"]
CANCELLED_MID_SEND = Ambiguous(reason="cancelled_mid_send", detail="the job stopped mid-request")


class SenderPool:
    def __init__(
        self,
        *,
        queue: asyncio.Queue[ClaimedRow],
        client: WabaClient,
        pacer: Pacer,
        recorder: Recorder,
        decider: Decider,
        build_body: BodyBuilder,
        on_effect: Callable[[Effect], None],
        breaker: pacing.CircuitBreaker,
    ) -> None:
        self._queue = queue
        self._client = client
        self._pacer = pacer
        self._recorder = recorder
        self._decider = decider
        self._build_body = build_body
        self._on_effect = on_effect
        self.sending = True
        self.breaker = breaker
        self._breaker_logged = False
        self.in_http = 0
        self.holding = 0  # rows taken from the queue whose outcome is not decided yet
        self.released: list[int] = []
        self.sent = 0

    def __repr__(self) -> str:
        return (
            f"SenderPool(sending={self.sending}, holding={self.holding}, in_http={self.in_http}, "
            f"queued={self._queue.qsize()}, sent={self.sent})"
        )

    async def _breaker_allows(self) -> bool:
        """Wait while the circuit is open (5xx/timeouts in a row); False if sending stops."""
        while True:
            now = time.monotonic()
            self.breaker, allowed = pacing.allow(self.breaker, now)
            if allowed:
                return True
            if not self._breaker_logged:
                self._breaker_logged = True
                log.warning("circuit_open", retry_in_s=round(pacing.retry_in(self.breaker, now), 1))
            await asyncio.sleep(max(0.05, min(1.0, pacing.retry_in(self.breaker, now))))
            if not self.sending:
                return False

    def _breaker_result(self, result: SendResult) -> None:
        failed = result.kind != "http" or result.status >= 500
        before = self.breaker.state
        if not failed and before is pacing.BreakerState.CLOSED and not self.breaker.failures:
            return  # nothing to record (hot path)
        self.breaker = pacing.on_result(self.breaker, not failed, time.monotonic())
        if (
            before is not pacing.BreakerState.CLOSED
            and self.breaker.state is pacing.BreakerState.CLOSED
        ):
            self._breaker_logged = False
            log.info("circuit_closed")

    def take_released(self) -> list[int]:
        ids, self.released = self.released, []
        return ids

    async def worker(self) -> None:
        """One worker loop; runs until cancelled (cancellation never loses a row)."""
        while True:
            row = await self._queue.get()
            self.holding += 1
            try:
                await self._handle(row)
            finally:
                self.holding -= 1
                self._queue.task_done()

    async def _handle(self, row: ClaimedRow) -> None:
        if not self.sending:
            self.released.append(row.id)
            return
        built = self._build_body(row)
        if isinstance(built, str):
            now = datetime.now(UTC)
            self._recorder.put(
                OutcomeRow(row.id, "failed", now, error_detail=f"render_error: {built}")
            )
            return
        try:
            await self._pacer.acquire()
            # A closed circuit lets every request through: skip the coroutine (hot path).
            allowed = self.sending and (
                self.breaker.state is pacing.BreakerState.CLOSED or await self._breaker_allows()
            )
        except asyncio.CancelledError:
            self.released.append(row.id)  # never handed to HTTP
            raise
        if not allowed:
            self.released.append(row.id)
            return
        self.in_http += 1
        try:
            result = await self._client.send(built)
        except asyncio.CancelledError:
            # The job drains (waits for ``holding == 0``) before it cancels workers, so this
            # runs only past the drain deadline or when the job itself is cancelled. The
            # request may have left: the row is recorded ``unknown`` (its status webhook
            # settles it), never left to look unsent. This costs nothing per send, unlike
            # shielding every request in a task of its own.
            outcome, _ = self._decider.apply(row, CANCELLED_MID_SEND, datetime.now(UTC))
            self._recorder.put(outcome)
            raise
        finally:
            self.in_http -= 1
        self.sent += 1
        self._breaker_result(result)
        outcome, effects = self._decider.decide(row, result)
        self._recorder.put(outcome)
        for effect in effects:
            self._on_effect(effect)


def dumps_body(body: dict[str, object]) -> bytes:
    return orjson.dumps(body)
