"""Webhook receiver benchmark: ack latency under load, and how far the correlator lags.

Processes (2-core box): the receiver (``webhooks serve`` in a child process, pinned to CPU 0),
the load generator (this process, pinned to CPU 1, aiohttp client on uvloop) and Postgres
(wherever the OS puts it: it shares both cores).

Every event is one Meta-shaped status (sent / delivered / read, with pricing and callback
data) of a real outbox row seeded beforehand, so the correlator does the full merge.
Statuses are posted in batches of ``--batch`` per POST (the sandbox emitter's default, 10).

Phases:
- fixed rates (1,000 and 5,000 events/s): open loop, a POST is due every ``batch/rate``
  seconds whether or not earlier ones were answered; ack latency is measured from the
  *scheduled* send time (no coordinated omission);
- max: ``--concurrency`` closed-loop workers posting back to back.

Reported per phase: events/s acknowledged, ack latency p50/p99/max, correlator lag
(``processed_at - received_at`` per inbox row, p50/p99/max), time to drain the inbox after
the last ack, receiver CPU, and a check that every posted status reached its row.

Usage: ``python -m benchmarks.webhook_bench [--seconds 10] [--rates 1000,5000] [--runs 3]``
(``make bench`` includes it as the ``webhooks`` section of ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import uvloop

from benchmarks.harness import ROOT, machine_info, scratch_database

SECRET = "bench-secret-value"
CHANNEL = "bench"
STATUSES = ("sent", "delivered", "read")
PRICING = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}
SERVE = (
    "import argparse, uvloop; from engine.commands.webhooks import webhooks_serve; "
    "raise SystemExit(uvloop.run(webhooks_serve(argparse.Namespace("
    "host='127.0.0.1', port=0, config=None))))"
)


async def seed(dsn: str, messages: int) -> int:
    """One campaign with ``messages`` accepted rows (wamid ``wamid.b.<i>``); its id."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO portfolios (name) VALUES ('bench')")
        await conn.execute(
            "INSERT INTO channels (name, portfolio, base_url) VALUES ($1, 'bench', 'http://x')",
            CHANNEL,
        )
        aud = await conn.fetchval("INSERT INTO audiences (name) VALUES ('bench') RETURNING id")
        cid = await conn.fetchval(
            "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id, template_name,"
            " template_language, state) VALUES ('bench', '{}', 'h', $1, $2, 'demo_promo', 'en',"
            " 'running') RETURNING id",
            CHANNEL,
            aud,
        )
        await conn.execute(
            "INSERT INTO recipients (id, audience_id, phone)"
            " SELECT i, $1, '+49151' || lpad(i::text, 8, '0') FROM generate_series(1, $2) i",
            aud,
            messages,
        )
        await conn.execute(
            "INSERT INTO messages (id, campaign_id, recipient_id, phone, state, wamid, accepted_at)"
            " SELECT i, $1, i, '+49151' || lpad(i::text, 8, '0'), 'accepted', 'wamid.b.' || i,"
            " now() FROM generate_series(1, $2) i",
            cid,
            messages,
        )
        await conn.execute("ANALYZE")
        return int(cid)
    finally:
        await conn.close()


def bodies(campaign_id: int, first_event: int, events: int, batch: int) -> list[bytes]:
    """Status webhooks for events ``first_event ..``: event k is status k % 3 of message k // 3."""
    out: list[bytes] = []
    ts = int(time.time())
    for start in range(first_event, first_event + events, batch):
        items = []
        for k in range(start, min(start + batch, first_event + events)):
            mid, st = k // 3 + 1, STATUSES[k % 3]
            item: dict[str, Any] = {
                "id": f"wamid.b.{mid}",
                "status": st,
                "timestamp": str(ts),
                "recipient_id": f"49151{mid:08d}",
                "biz_opaque_callback_data": f"c{campaign_id}:m{mid}",
            }
            if st != "read":
                item["pricing"] = PRICING
            items.append(item)
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065"},
            "statuses": items,
        }
        change = {"field": "messages", "value": value}
        body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
        out.append(orjson.dumps(body))
    return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Phase:
    def __init__(self, name: str, url: str, payloads: list[bytes], batch: int) -> None:
        self.name = name
        self.url = url
        self.payloads = payloads
        self.batch = batch
        self.latencies_ms: list[float] = []
        self.errors: dict[str, int] = {}

    async def post(self, http: aiohttp.ClientSession, body: bytes, due: float) -> None:
        headers = {"X-Webhook-Secret": SECRET, "Content-Type": "application/json"}
        try:
            async with http.post(self.url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    self.errors[str(resp.status)] = self.errors.get(str(resp.status), 0) + 1
                    return
        except aiohttp.ClientError as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            return
        self.latencies_ms.append((time.perf_counter() - due) * 1000)

    async def open_loop(self, http: aiohttp.ClientSession, rate: float) -> float:
        interval = self.batch / rate
        start = time.perf_counter()
        tasks = []
        for i, body in enumerate(self.payloads):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post(http, body, due)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start

    async def closed_loop(self, http: aiohttp.ClientSession, workers: int) -> float:
        queue = list(reversed(self.payloads))

        async def worker() -> None:
            while queue:
                body = queue.pop()
                await self.post(http, body, time.perf_counter())

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return time.perf_counter() - start


async def lag_since(conn: asyncpg.Connection, first_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, max(id) AS last,"
        " percentile_cont(ARRAY[0.5, 0.99, 1.0]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM processed_at - received_at) * 1000) AS p"
        " FROM webhook_inbox WHERE id > $1",
        first_id,
    )
    p = row["p"] or [None, None, None]
    return {
        "rows": row["n"],
        "last_id": row["last"] or first_id,
        "p50": p[0],
        "p99": p[1],
        "max": p[2],
    }


async def run_phase(
    phase: Phase, mode: str, arg: float, conn: asyncpg.Connection, pid: int, first_id: int
) -> dict[str, Any]:
    cpu0 = cpu_s(pid)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as http:
        if mode == "rate":
            wall = await phase.open_loop(http, arg)
        else:
            wall = await phase.closed_loop(http, int(arg))
    acked_at = time.perf_counter()
    unprocessed = "SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL"
    # ASYNC110 ignored: we wait on another process, visible only in the database
    while await conn.fetchval(unprocessed):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    drain_s = time.perf_counter() - acked_at
    cpu = cpu_s(pid) - cpu0
    events = len(phase.latencies_ms) * phase.batch
    lag = await lag_since(conn, first_id)
    return {
        "phase": phase.name,
        "events": events,
        "events_per_s": round(events / wall),
        "ack_ms": {
            "p50": round(percentile(phase.latencies_ms, 50), 2),
            "p99": round(percentile(phase.latencies_ms, 99), 2),
            "max": round(max(phase.latencies_ms, default=float("nan")), 2),
        },
        "correlator_lag_ms": {
            k: round(v, 1) for k, v in lag.items() if k in ("p50", "p99", "max") and v is not None
        },
        "drain_after_last_ack_s": round(drain_s, 3),
        "receiver_cpu_cores": round(cpu / (wall + drain_s), 2),
        "errors": phase.errors,
        "_last_id": lag["last_id"],
    }


async def main_async(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    rates = [float(r) for r in args.rates.split(",") if r]
    max_events = int(args.max_events)
    per_phase = [int(r * args.seconds) for r in rates] + [max_events]
    total_events = sum(per_phase)
    messages = (total_events + 30) // 3 + 3 * len(per_phase) + 10  # + warm-up, boundaries
    campaign_id = await seed(dsn, messages)
    env = {**os.environ, "DATABASE_URL": dsn, "WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", SERVE]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", "0", *argv]
        os.sched_setaffinity(0, {1})
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    conn = await asyncpg.connect(dsn)
    results: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None
        url = orjson.loads(await proc.stdout.readline())["listening"] + f"/webhooks/{CHANNEL}"
        # warm-up: a few requests so connections and plans exist before timing
        warm = Phase("warm-up", url, bodies(campaign_id, 0, 30, args.batch), args.batch)
        await run_phase(warm, "max", 4, conn, proc.pid, 0)
        await conn.execute(
            "UPDATE messages SET status = NULL, sent_at = NULL, delivered_at = NULL,"
            " read_at = NULL, pricing_category = NULL, pricing_type = NULL, billable = NULL"
        )
        first_event, first_id = (
            3 * 10,
            int(await conn.fetchval("SELECT max(id) FROM webhook_inbox")),
        )
        plan = [("rate", r, f"{r:,.0f} events/s") for r in rates] + [
            ("max", args.concurrency, "max")
        ]
        expected_read = 0
        for (mode, arg, name), n in zip(plan, per_phase, strict=True):
            first_event += (-first_event) % 3  # start on a message boundary
            expected_read += sum(1 for k in range(first_event, first_event + n) if k % 3 == 2)
            phase = Phase(name, url, bodies(campaign_id, first_event, n, args.batch), args.batch)
            result = await run_phase(phase, mode, arg, conn, proc.pid, first_id)
            first_event += n
            first_id = result.pop("_last_id")
            results.append(result)
        read = await conn.fetchval("SELECT count(*) FROM messages WHERE status = 'read'")
        applied_ok = read == expected_read
    finally:
        await conn.close()
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    return {
        "machine": machine_info(),
        "batch": args.batch,
        "phases": results,
        "every_message_read": bool(applied_ok),
        "receiver_exit_code": proc.returncode,
    }


def render(reports: list[dict[str, Any]]) -> str:
    report = reports[0]
    m = report["machine"]
    lines = [
        "## Webhook receiver",
        "",
        "Question: how fast does `campaign webhooks serve` acknowledge Meta-shaped status",
        "webhooks, and how far behind does its correlator run? Target (DESIGN.md): ack p99",
        "under 50 ms at 5,000 events/s.",
        "",
        "| Phase | Run | Events/s acked | Ack p50 / p99 / max (ms) | Correlator lag p50 / p99 /"
        " max (ms) | Drain after last ack (s) | Receiver CPU (cores) | Errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [(i, run, p) for run, r in enumerate(reports, 1) for i, p in enumerate(r["phases"])]
    for _, run, p in sorted(rows, key=lambda t: (t[0], t[1])):
        a, lag = p["ack_ms"], p["correlator_lag_ms"]
        lines.append(
            f"| {p['phase']} | {run} | {p['events_per_s']:,} | "
            f"{a['p50']} / {a['p99']} / {a['max']} | "
            f"{lag.get('p50')} / {lag.get('p99')} / {lag.get('max')} | "
            f"{p['drain_after_last_ack_s']} | {p['receiver_cpu_cores']} | "
            f"{p['errors'] or 'none'} |"
        )
    lines += [
        "",
        "Every posted status reached its outbox row in every run: "
        f"{all(r['every_message_read'] for r in reports)}; receiver exit codes after SIGTERM: "
        f"{[r['receiver_exit_code'] for r in reports]}.",
        "",
        "### Method (`python -m benchmarks.webhook_bench`)",
        f"- Machine: {m['cores']} vCPU {m['cpu']}, Python {m['python']}, Postgres via "
        f"{m['database']} on the same machine; {m['date']}.",
        "- Receiver: `webhooks serve` (env-only set-up, `WEBHOOK_SECRET`) in a child process",
        "  pinned to CPU 0 with `taskset`; its correlator runs in the same process. Load: this",
        "  process pinned to CPU 1, aiohttp client on uvloop (up to 256 connections). Postgres",
        "  shares both cores with them.",
        f"- Each POST carries {report['batch']} statuses (sent/delivered/read of real outbox",
        "  rows, with pricing and callback data), so the correlator performs the full merge.",
        "  Events = statuses.",
        "- Fixed rates: open loop, latency from each POST's scheduled time (coordinated omission",
        "  included). Max: closed loop with `--concurrency` workers.",
        "- Correlator lag: `processed_at - received_at` of each inbox row (`processed_at` is",
        "  `clock_timestamp()` at the mark, so batch processing time is included).",
        "",
        "### What shaped these numbers",
        "- Group commit: concurrent POSTs share one multi-row INSERT and one commit (two writer",
        "  tasks), so an ack costs a share of a commit, not a commit.",
        "- The merge statement is shaped for Postgres' generic plan: asyncpg prepares it, and",
        "  after five executions Postgres may switch to a plan that assumes a 10-row `unnest`.",
        "  An earlier version re-joined the unnest by ordinal; under the generic plan those",
        "  joins became nested loops over CTE scans and a 5,000-status batch took ~4 s instead",
        "  of ~0.2 s. The statuses' columns are now carried through the aggregation instead.",
        "- Parked statuses are serialised with orjson's native dataclass support;",
        "  `dataclasses.asdict` (deep copies) had been 40% of the receiver's CPU at 5,000/s.",
        "- The correlator re-checks `pending_statuses` at most every 100 ms and lets a partial",
        "  batch gather for 5 ms, which halved its round trips per body under load.",
        "- Max phase: the receiver process stays below one core; the rest of the 2-vCPU box runs",
        "  Postgres and the load generator, so the figure is the box's, not the receiver's alone.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--max-events", type=int, default=150_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write", default="", help="also write the section to this file")
    args = parser.parse_args()
    reports = []
    for _ in range(args.runs):
        with scratch_database() as dsn:
            reports.append(uvloop.run(main_async(args, dsn)))
    if args.json:
        print(orjson.dumps({"runs": reports}).decode())
    else:
        print(render(reports))
    if args.write:
        Path(args.write).write_text(render(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
