"""The sender pool: every row taken ends recorded or released, even under cancellation."""

from __future__ import annotations

import asyncio

import pytest

from engine.core import pacing
from engine.db.outbox import ClaimedRow, OutcomeRow
from engine.paths import CAMPAIGNS_DIR
from engine.run.decide import Decider
from engine.run.pacer import Pacer
from engine.run.sender import SenderPool
from engine.run.settings import load_job_settings
from engine.wa.client import SendResult

ATTRS = {
    "first_name": "Ana",
    "code": "X1",
    "price": "€1",
    "amount_1000": "1000",
    "valid_until": "May 1",
}


class FakeClient:
    """Answers ``accepted`` unless ``hang`` is set, then never answers."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.started = asyncio.Event()
        self.calls = 0

    async def send(self, body: bytes) -> SendResult:
        self.calls += 1
        self.started.set()
        if self.hang:
            await asyncio.Event().wait()
        return SendResult(
            "http", 200, {"messages": [{"id": f"wamid.{self.calls}", "message_status": "accepted"}]}
        )


class FakeRecorder:
    def __init__(self) -> None:
        self.rows: list[OutcomeRow] = []

    def put(self, row: OutcomeRow) -> None:
        self.rows.append(row)


def _pool(
    client: FakeClient, recorder: FakeRecorder, pacer: Pacer
) -> tuple[SenderPool, asyncio.Queue[ClaimedRow]]:
    settings = load_job_settings(
        CAMPAIGNS_DIR / "example-sandbox.yaml", profile_override=None, environ={"D360_API_KEY": "k"}
    )
    decider = Decider(settings, campaign_id=7, seed=1)
    queue: asyncio.Queue[ClaimedRow] = asyncio.Queue(maxsize=10)
    pool = SenderPool(
        queue=queue,
        client=client,  # type: ignore[arg-type]
        pacer=pacer,
        recorder=recorder,  # type: ignore[arg-type]
        decider=decider,
        build_body=decider.build_body,
        on_effect=lambda effect: None,
        breaker=pacing.CircuitBreaker(failure_threshold=5, open_s=1.0),
    )
    return pool, queue


def _row(row_id: int) -> ClaimedRow:
    return ClaimedRow(id=row_id, phone="+4915123456789", attempts=1, attrs=ATTRS)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_accepted_send_is_recorded() -> None:
    client, recorder = FakeClient(), FakeRecorder()
    pool, queue = _pool(client, recorder, Pacer(None))
    worker = asyncio.create_task(pool.worker())
    queue.put_nowait(_row(1))
    await asyncio.wait_for(queue.join(), timeout=5)
    await _stop(worker)
    assert [(r.id, r.state, r.wamid) for r in recorder.rows] == [(1, "accepted", "wamid.1")]
    assert pool.sent == 1 and pool.holding == 0 and pool.in_http == 0


async def test_cancelled_mid_request_records_unknown() -> None:
    """The request may have reached 360dialog: the row must not look unsent."""
    client, recorder = FakeClient(hang=True), FakeRecorder()
    pool, queue = _pool(client, recorder, Pacer(None))
    worker = asyncio.create_task(pool.worker())
    queue.put_nowait(_row(2))
    await asyncio.wait_for(client.started.wait(), timeout=5)
    await _stop(worker)
    assert [(r.id, r.state) for r in recorder.rows] == [(2, "unknown")]
    assert "cancelled_mid_send" in (recorder.rows[0].error_detail or "")
    assert pool.released == [] and pool.holding == 0 and pool.in_http == 0


async def test_cancelled_before_the_request_releases_the_row() -> None:
    """Waiting for a permit is not sending: the row goes back to pending."""
    client, recorder = FakeClient(), FakeRecorder()
    pacer = Pacer(1.0, burst=2)
    pool, queue = _pool(client, recorder, pacer)
    pacing_task = asyncio.create_task(pacer.run())
    for _ in range(2):  # spend the bucket: the next permit is a second away
        await pacer.acquire()
    worker = asyncio.create_task(pool.worker())
    queue.put_nowait(_row(3))
    for _ in range(3):  # let the worker take the row and queue for a permit
        await asyncio.sleep(0)
    assert pool.holding == 1
    await _stop(worker)
    await _stop(pacing_task)
    assert recorder.rows == [] and client.calls == 0
    assert pool.take_released() == [3]
