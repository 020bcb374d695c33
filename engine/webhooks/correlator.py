"""The correlator: stored webhook bodies -> outbox statuses, suppressions, pauses.

A background task of the receiver process. Each cycle it

1. claims up to ``batch_size`` unprocessed inbox rows (``FOR UPDATE SKIP LOCKED``: several
   receivers split the inbox between them), parses them (``work.collect``), applies the
   batch in one transaction (statuses merged by one statement; opt-outs, 132015 bursts,
   template pauses, governance facts) and marks the rows processed, with a problem text
   for content it could not use;
2. re-checks parked statuses that are due (``pending_statuses``: their wamid or callback
   row was not recorded yet), applies those that now match and backs the others off.

It wakes when the inbox writer commits (same process) and polls every ``idle_poll_s``
otherwise (other receivers' bodies), so a template pause reaches its campaigns well
within a second of the webhook's arrival.

Failure modes: a cycle that raises is logged and retried after ``error_backoff_s``; the
loop never exits on an error. A batch failing for a reason other than the connection is
re-run one row at a time, and a row that still fails on its own is marked processed with
the error as its problem (its raw body stays in the inbox), so one poison body cannot stop
the correlator. Connection-level errors leave the rows for the next cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import time
from dataclasses import asdict
from typing import Any

import asyncpg

from engine.core import holds as decide_hold
from engine.core.budget import parse_tier_strict
from engine.core.codes import PauseScope
from engine.core.holds import HoldKey, Lift, Place, hold_key
from engine.core.webhook import TemplateStatusUpdate
from engine.db import holds
from engine.db import webhooks as store
from engine.logs import get_logger
from engine.webhooks.settings import CorrelatorSettings
from engine.webhooks.work import (
    Governance,
    Work,
    burst_scope,
    clean,
    clean_json,
    collect,
    suppresses,
)

log = get_logger("engine.webhooks.correlator")

_PROGRESS_EVERY_S = 10.0
# The holds an ending event lifts: REINSTATED also ends a 132015 burst hold of the template.
_LIFTED_BY = {"template_status": ("template_status", "status_burst"), "quality": ("quality",)}
# Errors a row's content can cause (bad value, constraint, oversized entry, a parser bug):
# isolate the row. Anything else (connection, schema, permissions) is systemic: back off.
_POISON = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    ArithmeticError,
    AttributeError,
    LookupError,
    TypeError,
    ValueError,
)
_COUNTERS = (
    "bodies", "statuses", "applied", "settled", "unchanged", "parked", "unparked",
    "suppressed", "released", "holds", "lifted", "paused", "problems", "ignored",
    "unrecognized", "quarantined", "shelved", "retries", "errors",
)  # fmt: skip


class Correlator:
    """Owner of the correlator task; ``start()``, ``wake()``, ``close()``."""

    def __init__(self, pool: asyncpg.Pool, settings: CorrelatorSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._extra: list[str] = []
        self._extra_at = float("-inf")
        self._pending_at = float("-inf")
        self.counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.cycles = 0
        self._logged = dict(self.counts)
        self._logged_at = time.monotonic()

    def __repr__(self) -> str:
        busy = {k: v for k, v in self.counts.items() if v}
        return f"<Correlator alive={self.alive} cycles={self.cycles} {busy}>"

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def snapshot(self) -> dict[str, Any]:
        return {"alive": self.alive, "cycles": self.cycles, **self.counts}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-correlator")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Let the cycle under way finish (its transaction commits), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._log_progress(force=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                # another correlator holds rows of this batch: retry soon, nothing lost
                self.counts["retries"] += 1
                await asyncio.sleep(random.uniform(0.005, 0.05))
                continue
            except Exception as exc:
                # never exit: log, back off, try again (rows stay claimable)
                self.counts["errors"] += 1
                log.error("correlator_cycle_failed", error=repr(exc)[:300])
                await asyncio.sleep(self._settings.error_backoff_s)
                continue
            self._log_progress()
            if self._stopping:
                break
            if done == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.idle_poll_s)
            elif done < self._settings.batch_size:
                # a partial batch: let the next one gather a few more bodies (fewer round
                # trips per body under load, at most coalesce_s more lag)
                await asyncio.sleep(self._settings.coalesce_s)

    async def run_once(self) -> int:
        """One cycle: an inbox batch and (every ``pending_every_s``) a re-check of parked
        statuses; returns rows of work done."""
        self.cycles += 1
        done = await self._inbox_cycle()
        now = time.monotonic()
        if now - self._pending_at >= self._settings.pending_every_s:
            self._pending_at = now
            done += await self._pending_cycle()
        return done

    async def _inbox_cycle(self) -> int:
        limit = self._settings.batch_size
        try:
            return await self._inbox_batch(limit)
        except _POISON as exc:
            log.warning("correlator_batch_isolating", error=repr(exc)[:300])
        done = 0
        for inbox_id in await store.unprocessed_ids(self._pool, limit):
            try:  # one row per transaction: find the poison body
                done += await self._inbox_batch(1, only=inbox_id)
            except _POISON as exc:
                problem = clean(f"correlator error: {exc!r}")
                await store.mark_processed(self._pool, [inbox_id], [problem])
                self.counts["quarantined"] += 1
                log.error("correlator_body_quarantined", inbox_id=inbox_id, error=problem)
                done += 1
        return done

    async def _inbox_batch(self, limit: int, only: int | None = None) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await store.claim_inbox(conn, limit, only)
            if not rows:
                return 0
            await self._refresh_payloads(conn)
            work = collect(
                ((r["channel"], r["body"]) for r in rows),
                tokens=self._settings.opt_out_tokens,
                extra_payloads=self._extra,
                now=dt.datetime.now(dt.UTC),
            )
            await self._apply(conn, work)
            await store.mark_processed(conn, [r["id"] for r in rows], work.problems)
        self.counts["bodies"] += len(rows)
        self.counts["problems"] += sum(p is not None for p in work.problems)
        self.counts["ignored"] += work.ignored
        self.counts["unrecognized"] += work.unrecognized
        return len(rows)

    async def _pending_cycle(self) -> int:
        limit = self._settings.pending_batch_size
        try:
            return await self._pending_batch(limit)
        except _POISON as exc:
            log.warning("correlator_pending_isolating", error=repr(exc)[:300])
        done = 0
        for pending_id in await store.due_pending_ids(self._pool, limit):
            try:
                done += await self._pending_batch(1, only=pending_id)
            except _POISON as exc:
                await store.shelve_pending(self._pool, pending_id)
                self.counts["shelved"] += 1
                log.error("pending_status_shelved", pending_id=pending_id, error=repr(exc)[:300])
        return done

    async def _pending_batch(self, limit: int, only: int | None = None) -> int:
        """Apply parked statuses whose row now exists; returns how many were applied."""
        async with self._pool.acquire() as conn, conn.transaction():
            due = await store.claim_due_pending(conn, limit, only)
            if not due:
                return 0
            rows = [row for _, row in due]
            outcome = await store.apply_statuses(conn, rows, park_unmatched=False)
            waiting = set(outcome.unmatched)
            consumed = [pid for i, (pid, _) in enumerate(due) if i not in waiting]
            deferred = [pid for i, (pid, _) in enumerate(due) if i in waiting]
            await store.settle_pending(conn, consumed, deferred)
            await self._after_statuses(conn, rows, outcome)
        self.counts["unparked"] += len(consumed)
        return len(consumed)

    async def _refresh_payloads(self, conn: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._extra_at >= self._settings.opt_out_refresh_s:
            self._extra = await store.opt_out_payloads(conn)
            self._extra_at = now

    async def _apply(self, conn: asyncpg.Connection, work: Work) -> None:
        self.counts["statuses"] += len(work.statuses)
        outcome = await store.apply_statuses(conn, work.statuses, park_unmatched=True)
        self.counts["parked"] += len(outcome.unmatched)
        await self._after_statuses(conn, work.statuses, outcome)
        if work.opt:
            phones, bsuids, adds = work.opt_decisions()
            if phones or bsuids:
                self.counts["released"] += await store.lift_suppressions(conn, phones, bsuids)
            for source, pairs in adds.items():
                self.counts["suppressed"] += await store.add_suppressions(conn, pairs, source)
        for channel, ev in work.templates:
            await self._template(conn, channel, ev)
        for gov in work.governance:
            await self._governance(conn, gov)

    async def _after_statuses(
        self,
        conn: asyncpg.Connection,
        rows: list[store.StatusRow],
        outcome: store.StatusOutcome,
    ) -> None:
        """Counters, 131050 suppressions of matched rows, burst holds (132015, 131048)."""
        self.counts["applied"] += len(outcome.updated)
        self.counts["settled"] += sum(r.settled for r in outcome.updated)
        moved = sum(len(r.ords) for r in outcome.updated)
        self.counts["unchanged"] += max(outcome.matched - moved, 0)
        failed = [r for r in outcome.updated if r.status == "failed"]
        opted = [
            (r.phone, r.bsuid or rows[r.ords[0]].bsuid) for r in failed if suppresses(r.error_code)
        ]
        if opted:
            self.counts["suppressed"] += await store.add_suppressions(conn, opted, "status_131050")
        bursts = [
            (r.campaign_id, r.error_code)
            for r in failed
            if r.error_code is not None and burst_scope(r.error_code) is not None
        ]
        if bursts:
            await self._bursts(conn, bursts)

    async def _bursts(self, conn: asyncpg.Connection, failures: list[tuple[int, int]]) -> None:
        """N failed statuses with a pause code within a window hold the code's scope:
        132015 its template (``template_pause_*``), 131048 its channel (``status_pause_*``)."""
        await store.add_status_failures(conn, failures)
        s = self._settings
        codes = {code for _, code in failures}
        template = sorted(c for c in codes if burst_scope(c) is PauseScope.TEMPLATE)
        other = sorted(codes.difference(template))
        campaign_ids = [c for c, _ in failures]
        for group, threshold, window_s in (
            (template, s.pause_132015_count, s.pause_132015_window_s),
            (other, s.status_pause_count, s.status_pause_window_s),
        ):
            if not group:
                continue
            totals: dict[HoldKey, dict[int, int]] = {}
            for f in await store.recent_status_failures(conn, campaign_ids, group, window_s):
                scope = burst_scope(f.code)
                assert scope is not None
                key = hold_key(
                    scope,
                    campaign_id=f.campaign_id,
                    channel=f.channel,
                    portfolio=f.portfolio,
                    template=f.template,
                )
                by_code = totals.setdefault(key, {})
                by_code[f.code] = by_code.get(f.code, 0) + f.n
            for key, by_code in totals.items():
                if sum(by_code.values()) >= threshold:
                    counted = ", ".join(f"{n} x {code}" for code, n in sorted(by_code.items()))
                    reason = f"{key.describe()}: {counted} within {window_s:g}s"
                    await self._hold(conn, key, reason, "status_burst")

    async def _hold(self, conn: asyncpg.Connection, key: HoldKey, reason: str, source: str) -> None:
        placed = await holds.place(conn, key, reason=reason, source=source)
        if placed.created:
            self.counts["holds"] += 1
            log.warning("hold_placed", scope=key.scope.value, key=key.describe(), reason=reason)
        if placed.paused:
            self.counts["paused"] += len(placed.paused)
            log.warning(
                "campaigns_paused", campaigns=placed.paused, scope=key.scope.value, reason=reason
            )

    async def _decision(
        self, conn: asyncpg.Connection, decision: Place | Lift | None, key: HoldKey
    ) -> None:
        if isinstance(decision, Place):
            await self._hold(conn, key, decision.reason, decision.source)
        elif isinstance(decision, Lift):
            lifted = await holds.lift(conn, key, _LIFTED_BY[decision.source], decision.reason)
            if lifted:
                self.counts["lifted"] += len(lifted)
                log.info("holds_lifted", key=key.describe(), by=decision.reason, holds=lifted)

    async def _template(
        self, conn: asyncpg.Connection, channel: str, ev: TemplateStatusUpdate
    ) -> None:
        """Record the template's status; PAUSED/DISABLED/FLAGGED hold the template in the
        receiving channel's portfolio (every language: the safe side), REINSTATED lifts."""
        template = clean(ev.template_name, 512) or ""
        reason_text = clean(ev.reason or ev.title, 300)
        await store.record_template_status(
            conn,
            channel=channel,
            template=template,
            language=clean(ev.language, 32),
            status=clean(ev.event, 64) or "UNKNOWN",
            reason=reason_text,
            event=clean_json(asdict(ev)),
        )
        decision = decide_hold.on_template_status(ev.event, template, reason_text)
        if decision is not None and template:
            found = await store.find_channel(conn, None, channel)
            key = hold_key(
                PauseScope.TEMPLATE, template=template, portfolio=found[1] if found else None
            )
            await self._decision(conn, decision, key)

    async def _governance(self, conn: asyncpg.Connection, gov: Governance) -> None:
        """Keep quality/capability/account events; a tier value updates the portfolio; a
        FLAGGED/RED number holds its channel, an account restriction its portfolio."""
        found = await store.find_channel(conn, clean(gov.display_phone, 32), gov.channel)
        tier: int | None = None
        if gov.tier is not None:
            try:
                tier = parse_tier_strict(gov.tier) or store.UNLIMITED_TIER
            except ValueError:
                tier = None
        await store.record_governance(
            conn,
            channel=found[0] if found else gov.channel,
            field=gov.field,
            event=clean(gov.event, 64),
            payload=gov.payload,
            portfolio=found[1] if found else None,
            tier_limit=tier,
        )
        if found is None:
            return  # a channel we never sent from: nothing to hold
        decision: Place | Lift | None = None
        if gov.field == "phone_number_quality_update":
            decision = decide_hold.on_quality_update(gov.event, gov.rating)
        elif gov.field == "account_update":
            details = gov.payload.get("details")
            decision = decide_hold.on_account_update(
                gov.event, details if isinstance(details, str) else None
            )
        if decision is not None:
            key = hold_key(decision.scope, channel=found[0], portfolio=found[1])
            await self._decision(conn, decision, key)

    def _log_progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._logged_at < _PROGRESS_EVERY_S:
            return
        delta = {k: v - self._logged[k] for k, v in self.counts.items() if v != self._logged[k]}
        if delta or force:
            per_s = delta.get("bodies", 0) / max(now - self._logged_at, 1e-9)
            log.info("correlator_progress", bodies_per_s=round(per_s, 1), **delta)
        self._logged = dict(self.counts)
        self._logged_at = now
