"""The campaign job: the supervisor that owns every task of one ``campaign run``.

Order of work: open the pool and migrate; check the spec against the database (no such
audience, a changed spec without ``force_new``: refused before any write); upsert
channel/portfolio; find or create the campaign; materialize the outbox once; refuse to
start while an untimed hold covers the campaign; take the channel lease (waiting as a
standby while another live job holds it); mark the previous holder's in-flight rows
``unknown``; then run producer, pacer, sender workers and recorder under a control loop
that polls the campaign's state and the holds covering it (pause/resume/cancel from
another shell, and a hold placed by another job or by a webhook, take effect within
``CONTROL_TICK_S``), renews the lease, logs progress and decides completion: ``completed``,
or ``failed`` (exit 5) when not one send was accepted.

Pauses: a pause-scope error becomes a hold of its scope (``engine.core.holds``): an
untimed one pauses every running campaign it covers, a timed one (131057) makes every job
it covers wait (state ``throttled``) and resume by itself.

SIGINT/SIGTERM: stop claiming, release queued rows, let in-flight requests finish, record
their outcomes, release the lease, leave the campaign ``paused`` (reason ``interrupted``)
and return 0. If any task dies, the job stops loudly (the exception propagates).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine.core import pacing
from engine.core.codes import PauseScope
from engine.core.holds import hold_key
from engine.core.states import CampaignState, final_campaign_state
from engine.db import budget, campaigns, holds, outbox
from engine.db.migrate import migrate
from engine.db.outbox import ClaimedRow
from engine.db.pool import create_pool
from engine.errors import CampaignStateError
from engine.logs import get_logger
from engine.run.decide import Decider, Effect, Pause, Suppress, Throttle
from engine.run.health import check_health
from engine.run.pacer import Pacer
from engine.run.producer import BudgetGate, Producer
from engine.run.progress import ProgressReporter
from engine.run.recorder import Recorder
from engine.run.sender import SenderPool
from engine.run.settings import JobSettings
from engine.run.windowing import build_window
from engine.wa.client import WabaClient

log = get_logger("engine.job")

CONTROL_TICK_S = 0.2
HEALTH_EVERY_S = 300.0
RESUMABLE_REASONS = ("interrupted", "lease lost")


@dataclass(frozen=True, slots=True)
class JobResult:
    campaign_id: int
    state: str
    exit_code: int


class CampaignJob:
    def __init__(
        self,
        settings: JobSettings,
        *,
        dsn: str,
        force_new: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.s = settings
        self._clock = clock or _utcnow
        self._dsn = dsn
        self._force_new = force_new
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token = uuid.uuid4()
        self._stop = asyncio.Event()
        self._stop_reason = "interrupted"
        self._pending_pause: Pause | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._suppress: list[Suppress] = []
        self._client: WabaClient | None = None
        self._aimd = _start_aimd(settings)

    def __repr__(self) -> str:
        return f"CampaignJob(campaign={self.s.name!r}, owner={self.owner!r})"

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    def request_stop(self, reason: str = "interrupted") -> None:
        self._stop_reason = reason
        self._stop.set()

    # ---- setup -------------------------------------------------------------------------

    async def _prepare(self, conn: asyncpg.Connection) -> int:
        """Check the spec against the database, then write: every refusal (no such
        audience, a changed spec without ``force_new``, a changed audience) is raised by
        ``check_run`` before the first row is written, so a refused run changes nothing."""
        await migrate(conn)
        check = await campaigns.check_run(
            conn,
            where=self.s.spec_path,
            name=self.s.name,
            audience=self.s.audience,
            spec_hash=self.s.spec_hash,
            force_new=self._force_new,
        )
        await campaigns.ensure_channel(
            conn,
            name=self.s.channel,
            portfolio=self.s.portfolio,
            base_url=self.s.base_url,
            tier_limit=self.s.tier_limit,
        )
        row = check.existing
        if row is not None and check.replace:
            await campaigns.archive_campaign(conn, row["id"])
            log.info("campaign_archived", campaign=self.s.name, old_id=row["id"])
            row = None
        if row is None:
            campaign_id = await campaigns.create_campaign(
                conn,
                name=self.s.name,
                spec=self.s.spec_json,
                spec_hash=self.s.spec_hash,
                channel=self.s.channel,
                audience_id=check.audience_id,
                template=(self.s.template_name, self.s.template_language),
            )
        else:
            campaign_id = int(row["id"])
        inserted = await campaigns.materialize(conn, campaign_id, check.audience_id)
        if inserted:
            log.info("outbox_materialized", campaign=self.s.name, rows=inserted)
        return campaign_id

    async def _check_startable(self, conn: asyncpg.Connection, campaign_id: int) -> str | None:
        """None when the job should send; else the final state to report."""
        state, reason = await campaigns.get_state(conn, campaign_id)
        if state in (CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED):
            return state
        if state == CampaignState.PAUSED and reason not in RESUMABLE_REASONS:
            raise CampaignStateError(
                f"campaign {self.s.name!r} is paused ({reason}); "
                f"run `campaign resume {self.s.name}` first"
            )
        held = [h for h in await holds.covering(conn, campaign_id) if h.remaining_s is None]
        if held:
            # A channel, portfolio or template hold placed while this campaign was not
            # running (another campaign's error, a quality or account webhook).
            await campaigns.move(conn, campaign_id, CampaignState.PAUSED, held[0].reason)
            raise CampaignStateError(
                f"campaign {self.s.name!r} is held ({held[0].scope}: {held[0].reason}); "
                f"fix the cause, then run `campaign resume {self.s.name}`"
            )
        return None

    async def _acquire_lease(self, pool: asyncpg.Pool) -> bool:
        announced = False
        while not self._stop.is_set():
            if await campaigns.acquire_lease(pool, self.s.channel, self.owner, self.s.lease_ttl_s):
                if announced:
                    log.info("lease_acquired_after_standby", channel=self.s.channel)
                return True
            if not announced:
                log.info("lease_standby", channel=self.s.channel, campaign=self.s.name)
                announced = True
            await self._sleep_unless_stopped(min(1.0, self.s.lease_ttl_s / 3))
        return False

    # ---- run ---------------------------------------------------------------------------

    async def run(self) -> JobResult:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        pool = await create_pool(self._dsn, min_size=2, max_size=4)
        try:
            async with pool.acquire() as conn:
                campaign_id = await self._prepare(conn)
                final = await self._check_startable(conn, campaign_id)
            if final is not None:
                log.info("campaign_already_finished", campaign=self.s.name, state=final)
                return JobResult(campaign_id, final, 0)
            if not await self._acquire_lease(pool):
                return JobResult(campaign_id, "standby_stopped", 0)
            try:
                return await self._run_with_lease(pool, campaign_id)
            finally:
                await asyncio.shield(campaigns.release_lease(pool, self.s.channel, self.owner))
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await pool.close()

    async def _run_with_lease(self, pool: asyncpg.Pool, campaign_id: int) -> JobResult:
        recovered = await outbox.recover_in_flight(pool, campaign_id)
        if recovered:
            log.warning("in_flight_recovered_as_unknown", campaign=self.s.name, rows=recovered)
        client = WabaClient(
            base_url=self.s.base_url,
            api_key=self.s.api_key,
            concurrency=self.s.concurrency,
            connect_timeout_s=self.s.connect_timeout_s,
            request_timeout_s=self.s.request_timeout_s,
        )
        try:
            health = await check_health(client, self.s.name)
            if health.blocked:
                await campaigns.move(pool, campaign_id, CampaignState.PAUSED, health.reason)
                log.error("campaign_refused_health", campaign=self.s.name, reason=health.reason)
                return JobResult(campaign_id, "paused", 4)
            if not await self._wait_for_start():
                return JobResult(campaign_id, "scheduled", 0)
            return await self._send(pool, campaign_id, client)
        finally:
            await client.close()

    async def _wait_for_start(self) -> bool:
        """Sleep until ``options.start_at``; False when told to stop first."""
        start_at = self.s.spec.options.start_at
        if start_at is None:
            return True
        announced = False
        while not self._stop.is_set():
            wait_s = (start_at - self._clock()).total_seconds()
            if wait_s <= 0:
                return True
            if not announced:
                log.info("campaign_scheduled", campaign=self.s.name, start_at=start_at.isoformat())
                announced = True
            await self._sleep_unless_stopped(min(wait_s, 1.0))
        return False

    async def _send(self, pool: asyncpg.Pool, campaign_id: int, client: WabaClient) -> JobResult:
        self._client = client
        await campaigns.move(pool, campaign_id, CampaignState.RUNNING, None)
        log.info(
            "campaign_started",
            campaign=self.s.name,
            campaign_id=campaign_id,
            channel=self.s.channel,
            rate_per_s=self.s.rate_per_s,
            concurrency=self.s.concurrency,
        )
        queue: asyncio.Queue[ClaimedRow] = asyncio.Queue(maxsize=self.s.queue_size)
        pacer = Pacer(self.s.rate_per_s, burst=self.s.spec.profile.burst)
        recorder = Recorder(
            pool,
            self.token,
            flush_s=self.s.flush_s,
            batch=self.s.record_batch,
            portfolio=self.s.portfolio,
        )
        decider = Decider(self.s, campaign_id)
        producer = Producer(
            pool=pool,
            campaign_id=campaign_id,
            token=self.token,
            queue=queue,
            batch=self.s.claim_batch,
            budget_gate=BudgetGate(portfolio=self.s.portfolio, profile_limit=self.s.tier_limit),
            window=build_window(self.s.spec.options.window),
            clock=self._clock,
        )
        sender = SenderPool(
            queue=queue,
            client=client,
            pacer=pacer,
            recorder=recorder,
            decider=decider,
            build_body=decider.build_body,
            on_effect=lambda e: self._on_effect(e, pacer, sender, producer),
            breaker=pacing.CircuitBreaker(
                failure_threshold=self.s.spec.profile.circuit.failures,
                open_s=self.s.spec.profile.circuit.open_s,
            ),
        )
        progress = ProgressReporter(self.s, campaign_id, pool, recorder)
        self._tasks = [
            asyncio.create_task(pacer.run(), name="pacer"),
            asyncio.create_task(recorder.run(), name="recorder"),
            asyncio.create_task(producer.run(), name="producer"),
            *(
                asyncio.create_task(sender.worker(), name=f"sender-{i}")
                for i in range(self.s.concurrency)
            ),
        ]
        try:
            state = await self._control(
                pool, campaign_id, queue, producer, sender, recorder, pacer, progress
            )
        finally:
            producer.claiming = False
            sender.sending = False
            await self._drain(pool, queue, sender, recorder)
            for task in self._tasks:
                task.cancel()
            results = await asyncio.gather(*self._tasks, return_exceptions=True)
            while not queue.empty():
                sender.released.append(queue.get_nowait().id)
            await recorder.close()
            await outbox.release(pool, self.token, sender.take_released())
            for res in results:
                if isinstance(res, BaseException) and not isinstance(res, asyncio.CancelledError):
                    log.error("task_failed", error=repr(res))
        if state == CampaignState.CANCELLED:
            # Rows released during the final drain went back to pending: cancel them too.
            await outbox.cancel_pending(pool, campaign_id)
        summary = await progress.final(state)
        # 5: the campaign failed (every send refused) or the job lost its lease.
        exit_code = 0 if state in ("completed", "paused", "cancelled") else 5
        log.info(f"campaign_{state}" if state != "paused" else "campaign_paused", **summary)
        return JobResult(campaign_id, state, exit_code)

    def _on_effect(
        self, effect: Effect, pacer: Pacer, sender: SenderPool, producer: Producer
    ) -> None:
        if isinstance(effect, Throttle):
            new_rate = self._aimd_throttle()
            if new_rate is not None:
                pacer.set_rate(new_rate)
        elif isinstance(effect, Suppress):
            self._suppress.append(effect)
        elif isinstance(effect, Pause):
            # Stop at once; the control loop writes the pause to the database.
            producer.claiming = False
            sender.sending = False
            if self._pending_pause is None:
                self._pending_pause = effect

    def _aimd_throttle(self) -> float | None:
        if self._aimd is None:
            return None
        before = self._aimd.rate_per_s
        self._aimd = pacing.on_throttle(self._aimd, time.monotonic())
        if self._aimd.rate_per_s != before:
            log.warning(
                "rate_decreased", channel=self.s.channel, rate_per_s=round(self._aimd.rate_per_s, 1)
            )
            return self._aimd.rate_per_s
        return None

    def _aimd_quiet(self, now: float) -> float | None:
        if self._aimd is None:
            return None
        self._aimd = pacing.on_success(self._aimd, now)
        return self._aimd.rate_per_s

    # ---- control loop ------------------------------------------------------------------

    async def _control(
        self,
        pool: asyncpg.Pool,
        campaign_id: int,
        queue: asyncio.Queue[ClaimedRow],
        producer: Producer,
        sender: SenderPool,
        recorder: Recorder,
        pacer: Pacer,
        progress: ProgressReporter,
    ) -> str:
        """Run until the campaign completes, is cancelled, or the job is told to stop."""
        lease_every_s = self.s.lease_ttl_s / 3
        last_lease = last_unknown = time.monotonic()
        paused = throttled = held = False
        last_health = time.monotonic()
        while True:
            dead = [t for t in self._tasks if t.done()]
            if dead:
                exc = dead[0].exception() if not dead[0].cancelled() else None
                raise RuntimeError(f"task {dead[0].get_name()} stopped: {exc!r}") from exc
            now = time.monotonic()
            if self._stop.is_set():
                producer.claiming = sender.sending = False
                await self._drain(pool, queue, sender, recorder)
                await campaigns.move(pool, campaign_id, CampaignState.PAUSED, self._stop_reason)
                return "paused"
            if now - last_lease >= lease_every_s:
                if not await campaigns.acquire_lease(
                    pool, self.s.channel, self.owner, self.s.lease_ttl_s
                ):
                    log.error("lease_lost", channel=self.s.channel, campaign=self.s.name)
                    producer.claiming = sender.sending = False
                    await self._drain(pool, queue, sender, recorder)
                    return "lease_lost"
                last_lease = now
            if now - last_health >= HEALTH_EVERY_S and self._client is not None:
                last_health = now
                health = await check_health(self._client, self.s.name)
                if health.blocked:
                    self._on_effect(
                        Pause("channel", health.reason, source="health"), pacer, sender, producer
                    )
            if self._suppress:
                batch, self._suppress = self._suppress, []
                await campaigns.add_suppressions(
                    pool, [e.phone for e in batch], [e.reason for e in batch], "send_error"
                )
            if self._pending_pause is not None:
                pause, self._pending_pause = self._pending_pause, None
                await self._place_hold(pool, campaign_id, pause)
            state, reason = await campaigns.get_state(pool, campaign_id)
            if state == CampaignState.CANCELLED:
                producer.claiming = sender.sending = False
                await self._drain(pool, queue, sender, recorder)
                cancelled = await outbox.cancel_pending(pool, campaign_id)
                log.info("campaign_cancelled", campaign=self.s.name, rows_cancelled=cancelled)
                return "cancelled"
            if state == CampaignState.PAUSED:
                if not paused:
                    log.info("campaign_paused", campaign=self.s.name, reason=reason)
                    paused = True
                    producer.claiming = sender.sending = False
                    await self._drain(pool, queue, sender, recorder)
            elif paused:
                log.info("campaign_resumed", campaign=self.s.name)
                paused = False
                producer.claiming = sender.sending = True
            if not paused:
                new_held = await self._holds_state(pool, campaign_id, held)
                if new_held != held:
                    held, throttled = new_held, False
                    producer.claiming = sender.sending = not held
                    if held:
                        await self._drain(pool, queue, sender, recorder)
                if held:
                    await progress.maybe_log(now, pacer.rate_per_s)
                    await self._sleep_unless_stopped(CONTROL_TICK_S)
                    continue
                throttled = await self._budget_state(pool, campaign_id, producer, throttled)
                new_rate = self._aimd_quiet(now)
                if new_rate is not None and new_rate != pacer.rate_per_s:
                    pacer.set_rate(new_rate)
                if self.s.on_unknown == "resend" and now - last_unknown >= 1.0:
                    last_unknown = now
                    await outbox.resend_unknown(pool, campaign_id, self.s.unknown_grace_s)
                if await self._finished(pool, campaign_id, queue, producer, sender, recorder):
                    return await self._conclude(pool, campaign_id)
            await progress.maybe_log(now, pacer.rate_per_s)
            await self._sleep_unless_stopped(CONTROL_TICK_S)

    async def _conclude(self, pool: asyncpg.Pool, campaign_id: int) -> str:
        """No row is open: completed, or failed when not one send was accepted."""
        accepted, failed, causes = await campaigns.verdict(pool, campaign_id)
        final = final_campaign_state(accepted=accepted, failed=failed)
        reason = None if final is CampaignState.COMPLETED else f"every send failed: {causes}"
        await campaigns.move(pool, campaign_id, final, reason)
        if reason is not None:
            log.error("campaign_failed_every_send", campaign=self.s.name, reason=reason)
        return final.value

    async def _place_hold(self, pool: asyncpg.Pool, campaign_id: int, pause: Pause) -> None:
        """A pause effect becomes a hold of its scope: an untimed one pauses every running
        campaign it covers (this one included; the state poll then drains), a timed one
        (131057) is waited out by every job it covers."""
        key = hold_key(
            PauseScope(pause.scope),
            campaign_id=campaign_id,
            channel=self.s.channel,
            portfolio=self.s.portfolio,
            template=self.s.template_name,
        )
        placed = await holds.place(
            pool, key, reason=pause.reason, source=pause.source, hold_s=pause.pause_s
        )
        log.warning(
            "hold_placed",
            campaign=self.s.name,
            scope=key.scope.value,
            key=key.describe(),
            reason=pause.reason,
            hold_s=pause.pause_s,
            paused=placed.paused,
        )
        if pause.pause_s is None and not placed.paused:
            # Not running in the database (a race with a state change): pause it directly.
            await campaigns.move(pool, campaign_id, CampaignState.PAUSED, pause.reason)

    async def _holds_state(self, pool: asyncpg.Pool, campaign_id: int, held: bool) -> bool:
        """Apply the holds covering this campaign; True while a timed hold lasts.

        An untimed hold that did not pause the campaign (placed while it was between
        states) pauses it now; the next tick's state poll drains."""
        active = await holds.covering(pool, campaign_id)
        untimed = next((h for h in active if h.remaining_s is None), None)
        if untimed is not None:
            await campaigns.move(pool, campaign_id, CampaignState.PAUSED, untimed.reason)
            return held
        timed = next((h for h in active if h.remaining_s is not None), None)
        if timed is not None and not held:
            await campaigns.move(
                pool,
                campaign_id,
                CampaignState.THROTTLED,
                f"{timed.reason} (held {timed.scope}, resumes by itself)",
            )
            log.warning(
                "campaign_held",
                campaign=self.s.name,
                scope=timed.scope,
                reason=timed.reason,
                hold_s=round(timed.remaining_s or 0.0, 1),
            )
            return True
        if timed is None and held:
            await campaigns.move(pool, campaign_id, CampaignState.RUNNING, None)
            log.info("campaign_hold_ended", campaign=self.s.name)
            return False
        return held

    async def _budget_state(
        self, pool: asyncpg.Pool, campaign_id: int, producer: Producer, throttled: bool
    ) -> bool:
        """Mirror the producer's budget gate in the campaign state (throttled/running)."""
        if producer.budget_exhausted and not throttled:
            free_at = await budget.next_free_at(pool, self.s.portfolio)
            await campaigns.move(
                pool, campaign_id, CampaignState.THROTTLED, "messaging limit reached"
            )
            log.warning(
                "budget_exhausted",
                campaign=self.s.name,
                portfolio=self.s.portfolio,
                tier=producer.tier,
                next_free_at=free_at.isoformat() if free_at else None,
            )
            return True
        if throttled and not producer.budget_exhausted:
            await campaigns.move(pool, campaign_id, CampaignState.RUNNING, None)
            log.info("budget_available", campaign=self.s.name, tier=producer.tier)
            return False
        return throttled

    async def _finished(
        self,
        pool: asyncpg.Pool,
        campaign_id: int,
        queue: asyncio.Queue[ClaimedRow],
        producer: Producer,
        sender: SenderPool,
        recorder: Recorder,
    ) -> bool:
        if not producer.found_nothing.is_set() or queue.qsize() or sender.holding:
            return False
        await recorder.flush()
        left = await outbox.unfinished(pool, campaign_id)
        if left.pending or left.in_flight:
            return False
        return not (self.s.on_unknown == "resend" and left.unknown_unsettled)

    async def _drain(
        self,
        pool: asyncpg.Pool,
        queue: asyncio.Queue[ClaimedRow],
        sender: SenderPool,
        recorder: Recorder,
    ) -> None:
        """Stop sending: queued rows go back to pending, in-flight requests finish and
        their outcomes are recorded. Bounded by the request timeout."""
        deadline = time.monotonic() + self.s.request_timeout_s + 2.0
        # A bounded poll of two counters; an event per counter change would cost more.
        while (queue.qsize() or sender.holding) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await recorder.flush()
        await outbox.release(pool, self.token, sender.take_released())


def _start_aimd(settings: JobSettings) -> pacing.Aimd | None:
    rate = settings.rate_per_s
    if rate is None:
        return None
    a = settings.spec.profile.aimd
    return pacing.Aimd.start(
        rate,
        floor_per_s=a.floor_per_s,
        decrease_factor=a.decrease_factor,
        increase_per_s=a.increase_per_s,
        quiet_s=a.quiet_s,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)
