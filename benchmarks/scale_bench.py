"""Scale: a 1,000,000-recipient campaign, from CSV to sends.

Questions (issue "Proof", item 2): how long does ``campaign audience import`` take for 1M
generated rows, and how much memory? How long does materializing the 1M-row outbox take?
Does the job's send rate and memory stay flat with a 1M-row outbox (target: peak RSS under
300 MB)? How long do the hot-path queries take on a table that size?

Steps, on one fresh database:
1. write a CSV of ``n`` distinct valid numbers (not measured);
2. ``campaign audience import`` as a child process: wall seconds and peak RSS (wait4);
3. ``campaign run`` (profile as in the send-path section: no rate cap, concurrency 64) against
   the sandbox (own process, CPU 1, webhooks off). The job materializes the outbox, then
   sends; after ``send_n`` accepted sends it gets SIGTERM (drain, record, exit 0), so a
   bounded part of the campaign is sent. RSS and accepted sends are sampled every 500 ms;
4. the materialize statement (``Q.materialize_outbox``) timed on its own for a second
   campaign over the same audience, inside a transaction that is rolled back;
5. ``Q.claim_messages`` then ``Q.record_outcomes`` (via ``engine.db.outbox.claim`` /
   ``record``, which run exactly those named queries; the record refreshes the portfolio's
   recipient ledger as the job's does) timed ``query_calls`` times each with the profile's
   batch size on the remaining ~``n - send_n`` pending rows; then 5 times each: the exact
   ``Q.campaign_progress`` (the job runs it at its first progress interval and at the end),
   ``Q.campaign_live_counts`` (every progress interval) and ``Q.campaign_unfinished`` (the
   completion check, every control tick once nothing is left to claim).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from benchmarks import campaign
from benchmarks.harness import machine_info, scratch_db
from benchmarks.monitor import Sample, run_monitored
from engine.db import outbox
from engine.db.outbox import OutcomeRow
from engine.db.queries import Q
from engine.sandbox.testing import SandboxProcess

SANDBOX_CONFIG: dict[str, Any] = {
    "accounts": {"default_mps": 1_000_000},
    "webhooks": {"enabled": False},
}
RSS_TARGET_MB = 300
BATCH = 1000


async def _import(dsn: str, csv_path: Path) -> dict[str, Any]:
    run = await run_monitored(
        campaign.cli_argv("audience", "import", "big", str(csv_path)),
        env={"DATABASE_URL": dsn},
        interval_s=0.5,
        timeout_s=900,
    )
    printed = orjson.loads(run.stdout.strip().splitlines()[-1]) if run.code == 0 else {}
    return {
        "code": run.code,
        "seconds": round(run.wall_s, 2),
        "rows_per_s": round(printed.get("imported", 0) / run.wall_s) if run.wall_s else 0,
        "peak_rss_mb": round(run.max_rss_mb, 1),
        "cpu_s": round(run.cpu_s, 2),
        "imported": printed.get("imported"),
        "duplicates": printed.get("duplicates"),
        "invalid_total": printed.get("invalid_total"),
        **({"stderr_tail": run.stderr[-2000:]} if run.code else {}),
    }


async def _send(dsn: str, n: int, send_n: int, tmp: Path) -> dict[str, Any]:
    async with SandboxProcess(config=SANDBOX_CONFIG, seed=3, cpu=1) as sandbox:
        spec = campaign.write_spec(
            tmp,
            name="scale",
            audience="big",
            base_url=sandbox.base_url,
            profile_data=campaign.profile(concurrency=64, claim_batch=BATCH, queue_size=2 * BATCH),
        )
        started_at = time.time()

        def enough(sample: Sample) -> bool:
            return sample.accepted >= send_n

        run = await run_monitored(
            campaign.job_argv(spec),
            env=campaign.job_env(dsn),
            sandbox=sandbox,
            interval_s=0.5,
            timeout_s=1200,
            stop_when=enough,
        )
        stats = await sandbox.stats()
    materialized = run.event("outbox_materialized") or {}
    started = run.event("campaign_started") or {}
    steady = run.window(send_n // 10, send_n * 9 // 10)
    return {
        "code": run.code,
        "recipients": n,
        "sent_target": send_n,
        "accepted": stats["accepted"],
        "duplicate_sends": stats["duplicate_sends"],
        "process_wall_s": round(run.wall_s, 2),
        "start_to_materialized_s": _since(started_at, materialized.get("ts")),
        "start_to_sending_s": _since(started_at, started.get("ts")),
        "materialized_rows": materialized.get("rows"),
        "steady": steady.to_json() if steady else None,
        "peak_rss_mb": round(run.max_rss_mb, 1),
        "rss_mb": run.rss_profile(),
        "rss_ok": run.max_rss_mb < RSS_TARGET_MB,
        **({"stderr_tail": run.stderr[-2000:]} if run.code else {}),
    }


def _since(start_epoch: float, iso: str | None) -> float | None:
    if not iso:
        return None
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return round(at - start_epoch, 2)


async def _materialize_alone(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            audience_id = await conn.fetchval("SELECT id FROM audiences WHERE name = 'big'")
            channel = await conn.fetchval("SELECT name FROM channels LIMIT 1")
            campaign_id = await conn.fetchval(
                "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id,"
                " template_name, template_language) VALUES ('scale-copy', '{}', 'h', $1, $2,"
                " 'demo_promo', 'en') RETURNING id",
                channel,
                audience_id,
            )
            start = time.perf_counter()
            rows = await conn.fetchval(Q.materialize_outbox, campaign_id, audience_id)
            seconds = time.perf_counter() - start
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


async def _query_times(dsn: str, calls: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        campaign_id = await conn.fetchval("SELECT id FROM campaigns WHERE name = 'scale'")
        pending = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE campaign_id = $1 AND state = 'pending'",
            campaign_id,
        )
        portfolio = await conn.fetchval(
            "SELECT ch.portfolio FROM campaigns c JOIN channels ch ON ch.name = c.channel"
            " WHERE c.id = $1",
            campaign_id,
        )
        claim_ms, record_ms = [], []
        token = uuid.uuid4()
        for i in range(calls):
            start = time.perf_counter()
            rows = await outbox.claim(conn, campaign_id, token, BATCH)
            claim_ms.append((time.perf_counter() - start) * 1000)
            now = datetime.now(UTC)
            outcomes = [
                OutcomeRow(r.id, "accepted", now, wamid=f"wamid.q{i}.{r.id}", phone=r.phone)
                for r in rows
            ]
            start = time.perf_counter()
            changed = await outbox.record(conn, token, outcomes, portfolio=portfolio)
            record_ms.append((time.perf_counter() - start) * 1000)
            if len(rows) != BATCH or changed != BATCH:
                raise RuntimeError(f"claimed {len(rows)}, recorded {changed} of {BATCH}")
        table_rows = await conn.fetchval("SELECT count(*) FROM messages")
        counts_ms: dict[str, list[float]] = {"progress_ms": [], "live_ms": [], "unfinished_ms": []}
        for _ in range(5):
            for key, query in (
                ("progress_ms", outbox.progress),
                ("live_ms", outbox.live_counts),
                ("unfinished_ms", outbox.unfinished),
            ):
                start = time.perf_counter()
                await query(conn, campaign_id)
                counts_ms[key].append((time.perf_counter() - start) * 1000)
    finally:
        await conn.close()
    return {
        "batch": BATCH,
        "calls": calls,
        "table_rows": table_rows,
        "pending_before": pending,
        "claim_ms": _stats(claim_ms),
        "record_ms": _stats(record_ms),
        **{key: _stats(ms) for key, ms in counts_ms.items()},
    }


def _stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


async def measure(n: int, send_n: int, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        csv_path = campaign.write_csv(tmp / "audience.csv", n)
        csv_s = time.perf_counter() - start
        csv_mb = csv_path.stat().st_size / 2**20
        async with scratch_db() as dsn:
            imported = await _import(dsn, csv_path)
            sent = await _send(dsn, n, send_n, tmp)
            materialize = await _materialize_alone(dsn)
            queries = await _query_times(dsn, calls)
    return {
        "machine": machine_info(),
        "recipients": n,
        "csv_mb": round(csv_mb, 1),
        "csv_write_s": round(csv_s, 2),
        "import": imported,
        "job": sent,
        "materialize_alone": materialize,
        "queries": queries,
    }


def render(result: dict[str, Any]) -> str:
    imp, job, mat, q = (
        result["import"],
        result["job"],
        result["materialize_alone"],
        result["queries"],
    )
    steady = job["steady"] or {}
    rss = job["rss_mb"]
    lines = [
        f"## Scale: a {result['recipients']:,}-recipient campaign",
        "",
        "| Step | Figure |",
        "|---|---|",
        f"| `campaign audience import` of {result['recipients']:,} generated rows "
        f"(CSV {result['csv_mb']} MB) | **{imp['seconds']} s** ({imp['rows_per_s']:,} rows/s), "
        f"peak RSS **{imp['peak_rss_mb']} MB**, CPU {imp['cpu_s']} s |",
        f"| Materialize the outbox (`materialize_outbox`, {mat['rows']:,} rows, timed alone) "
        f"| **{mat['seconds']} s** ({mat['rows_per_s']:,} rows/s) |",
        f"| Job start → `outbox_materialized` log (interpreter, migrations, materialize) | "
        f"{job['start_to_materialized_s']} s |",
        f"| Job start → `campaign_started` (sending begins) | {job['start_to_sending_s']} s |",
        f"| Steady send rate with the 1M-row outbox ({job['accepted']:,} sent, then SIGTERM) | "
        f"**{steady.get('rate_per_s', 0):,.0f} msgs/s**, {steady.get('cpu_us_per_msg', 0):,.0f}"
        " µs CPU/msg |",
        f"| Job peak RSS (target < {RSS_TARGET_MB} MB) | **{job['peak_rss_mb']} MB** "
        f"{'✓' if job['rss_ok'] else '✗'}; sampled at 25/50/75 % of the run: "
        f"{rss.get('at_25pct')} / {rss.get('at_50pct')} / {rss.get('at_75pct')} MB |",
        f"| `claim_messages`, {q['batch']} rows, {q['calls']} calls on {q['table_rows']:,} "
        f"rows | median **{q['claim_ms']['median']} ms**, p90 {q['claim_ms']['p90']} ms, max "
        f"{q['claim_ms']['max']} ms |",
        f"| `record_outcomes`, {q['batch']} rows, {q['calls']} calls | median "
        f"**{q['record_ms']['median']} ms**, p90 {q['record_ms']['p90']} ms, max "
        f"{q['record_ms']['max']} ms |",
        f"| `campaign_progress` (exact counts by state: the job's first progress line and its "
        f"summary), 5 calls | median **{q['progress_ms']['median']} ms**, max "
        f"{q['progress_ms']['max']} ms |",
        *_small_counts(q),
        "",
        f"- Sent {job['accepted']:,} of {result['recipients']:,} at full speed, then SIGTERM "
        "(the job drains, records and exits 0 with the campaign paused): sending all of them "
        "would only repeat the steady rate for several more minutes. Duplicate sends: "
        f"{job['duplicate_sends']}; job exit code {job['code']}.",
        "- Query timings use one connection, sequentially, after the job stopped (no "
        "competing load); each claim takes the next due rows in id order from the "
        "partial index, each record marks them accepted.",
    ]
    return "\n".join(lines) + "\n"


def _small_counts(q: dict[str, Any]) -> list[str]:
    """Rows for the per-interval queries (absent from results recorded before they existed)."""
    rows = []
    for key, label in (
        ("live_ms", "`campaign_live_counts` (every progress interval)"),
        ("unfinished_ms", "`campaign_unfinished` (the completion check, every control tick)"),
    ):
        if key in q:
            rows.append(
                f"| {label}, 5 calls | median **{q[key]['median']} ms**, max {q[key]['max']} ms |"
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--send", type=int, default=200_000)
    parser.add_argument("--query-calls", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.recipients, args.send, args.query_calls))
    print(orjson.dumps(result).decode() if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
