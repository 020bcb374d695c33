"""Sandbox throughput benchmark: is the simulator ever the bottleneck?

Processes (on a 2-core box):
- the sandbox: ``python -m engine.sandbox.cli`` pinned to CPU 0 (``taskset -c 0``);
- the load generator: this process, pinned to CPU 1, a raw HTTP/1.1 client on uvloop
  (keep-alive connections, each with a window of pipelined requests; every request has a
  distinct recipient so pair limits never trigger);
- phase B only: a minimal aiohttp webhook receiver (``--role receiver``), also on CPU 1.

Phase A (webhooks off): accepted requests per second, from the sandbox's own counters.
Phase B (webhooks on, delivered = read = 1, so sent + delivered + read per message):
messages per second counted from the first request until the receiver holds all
3 x accepted statuses (so the emitter's backlog is included), plus drops/failures.

Usage: ``python -m benchmarks.sandbox_bench [--seconds 10] [--json]`` (``make bench``
includes it as the ``sandbox`` section of ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import time
from typing import Any

import orjson
import uvloop
from aiohttp import web

from engine.sandbox.testing import SandboxProcess

_HEAD = (
    b"POST /messages HTTP/1.1\r\nHost: sandbox\r\nD360-API-KEY: bench\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)


def _request(i: int) -> bytes:
    body = (
        b'{"messaging_product":"whatsapp","recipient_type":"individual","to":"%d",'
        b'"type":"template","biz_opaque_callback_data":"c1:m%d","template":{"name":'
        b'"demo_promo","language":{"policy":"deterministic","code":"en"},"components":'
        b'[{"type":"body","parameters":[{"type":"text","text":"Ada"},{"type":"text",'
        b'"text":"SPRING25"}]},{"type":"button","sub_type":"url","index":"0","parameters":'
        b'[{"type":"text","text":"o-%d"}]}]}}' % (14_150_000_000 + i, i, i)
    )
    return (_HEAD % len(body)) + body


class _Load:
    """Shared counter of requests to issue and responses seen, by status line."""

    def __init__(self, total: int, deadline: float) -> None:
        self.next_i = 0
        self.total = total
        self.deadline = deadline
        self.statuses: dict[bytes, int] = {}


async def _connection(host: str, port: int, depth: int, load: _Load) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    buf = b""
    inflight = 0
    try:
        while True:
            more = time.perf_counter() < load.deadline and load.next_i < load.total
            while more and inflight < depth and load.next_i < load.total:
                writer.write(_request(load.next_i))
                load.next_i += 1
                inflight += 1
            if inflight == 0:
                return
            data = await reader.read(262_144)
            if not data:
                raise ConnectionError("sandbox closed the connection")
            buf += data
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end]
                at = head.lower().find(b"content-length:")
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop > 0 else len(head)])
                if len(buf) < end + 4 + length:
                    break
                code = head[9:12]
                load.statuses[code] = load.statuses.get(code, 0) + 1
                buf = buf[end + 4 + length :]
                inflight -= 1
    finally:
        writer.close()


async def _drive(base_url: str, seconds: float, conns: int, depth: int, total: int) -> float:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    load = _Load(total, time.perf_counter() + seconds)
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, int(port), depth, load) for _ in range(conns)))
    return time.perf_counter() - started


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux ``/proc``)."""
    if pid is None or not os.path.exists(f"/proc/{pid}/stat"):
        return float("nan")
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(webhook_url: str | None) -> dict[str, Any]:
    hooks: dict[str, Any] = {"enabled": webhook_url is not None}
    if webhook_url:
        hooks.update(
            default_url=webhook_url,
            lifecycle={
                "delivered_ratio": 1.0,
                "read_ratio": 1.0,
                "sent_delay": {"p50_ms": 20, "p99_ms": 100},
                "delivered_delay": {"p50_ms": 50, "p99_ms": 200},
                "read_delay": {"p50_ms": 100, "p99_ms": 400},
            },
            # the documented delivery defaults (batch_max 10, window 10 ms, 16 in flight)
        )
    return {"accounts": {"default_mps": 1_000_000}, "webhooks": hooks}


async def phase_a(seconds: float) -> dict[str, Any]:
    async with SandboxProcess(config=_config(None), cpu=0) as sandbox:
        await _drive(sandbox.base_url, 1.0, 8, 16, 10**9)  # warm-up
        await sandbox.reset()
        cpu0 = _cpu_s(sandbox.pid)
        elapsed = await _drive(sandbox.base_url, seconds, 16, 16, 10**9)
        cpu = _cpu_s(sandbox.pid) - cpu0
        stats = await sandbox.stats()
    return {
        "phase": "A: webhooks off",
        "seconds": round(elapsed, 2),
        "accepted": stats["accepted"],
        "accepted_per_s": round(stats["accepted"] / elapsed),
        "sandbox_cpu_util": round(cpu / elapsed, 2),
        "rejected_by_code": stats["rejected_by_code"],
    }


async def _receiver_process() -> tuple[asyncio.subprocess.Process, str]:
    cmd = [sys.executable, "-m", "benchmarks.sandbox_bench", "--role", "receiver"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = orjson.loads(await proc.stdout.readline())
    return proc, str(line["url"])


async def _receiver_count(url: str) -> int:
    reader, writer = await asyncio.open_connection(
        *url.removeprefix("http://").split("/")[0].split(":")
    )
    writer.write(b"GET /count HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
    data = await reader.read()
    writer.close()
    return int(data.split(b"\r\n\r\n", 1)[1])


async def phase_b(seconds: float) -> dict[str, Any]:
    proc, url = await _receiver_process()
    try:
        async with SandboxProcess(config=_config(url + "/hook"), cpu=0) as sandbox:
            cpu0 = _cpu_s(sandbox.pid)
            started = time.perf_counter()
            await _drive(sandbox.base_url, seconds, 16, 8, 10**9)
            sent_for = time.perf_counter() - started
            stats = await sandbox.stats()
            want = 3 * stats["accepted"]
            while await _receiver_count(url) < want:
                stats = await sandbox.stats()
                if stats["webhooks_pending"] == 0:
                    break
                await asyncio.sleep(0.05)
            done = time.perf_counter() - started
            cpu = _cpu_s(sandbox.pid) - cpu0
            got = await _receiver_count(url)
            stats = await sandbox.stats()
    finally:
        proc.terminate()
        await proc.wait()
    return {
        "phase": "B: 3 status webhooks per message",
        "send_seconds": round(sent_for, 2),
        "until_all_webhooks_s": round(done, 2),
        "accepted": stats["accepted"],
        "statuses_received": got,
        "messages_per_s_with_webhooks": round(stats["accepted"] / done),
        "sandbox_cpu_util": round(cpu / done, 2),
        "webhooks_sent": stats["webhooks_sent"],
        "webhook_drops": stats["webhook_drops"],
        "webhook_attempts_failed": stats["webhook_attempts_failed"],
    }


async def receiver() -> None:
    """Minimal webhook receiver: counts statuses, answers 200; ``GET /count``."""
    count = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal count
        body = orjson.loads(await request.read())
        for entry in body["entry"]:
            for change in entry["changes"]:
                count += len(change["value"].get("statuses", ()))
        return web.Response(text="ok")

    async def get_count(_request: web.Request) -> web.Response:
        return web.Response(text=str(count))

    app = web.Application()
    app.add_routes([web.post("/hook", hook), web.get("/count", get_count)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(orjson.dumps({"url": f"http://127.0.0.1:{port}"}).decode(), flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


async def bench(seconds: float) -> list[dict[str, Any]]:
    return [await phase_a(seconds), await phase_b(seconds)]


def render(result: dict[str, Any]) -> str:
    """The RESULTS.md section for ``{"seconds", "phases": [phase A, phase B]}``."""
    a, b = result["phases"]
    return (
        "\n".join(
            [
                "## Sandbox: is the simulator ever the bottleneck?",
                "",
                'Targets (issue "The 360dialog simulator"): at least 8,000 accepted '
                "requests/s on one core with webhooks off, and at least 3,000 messages/s with "
                "their three status webhooks each.",
                "",
                "| Phase | Measured | Target | Sandbox CPU (cores) |",
                "|---|---|---|---|",
                f"| A: webhooks off, accepted `POST /messages` per second | "
                f"**{a['accepted_per_s']:,}** | 8,000 | {a['sandbox_cpu_util']} |",
                f"| B: messages/s with sent + delivered + read webhooks delivered | "
                f"**{b['messages_per_s_with_webhooks']:,}** | 3,000 | {b['sandbox_cpu_util']} |",
                "",
                f"Phase B: {b['accepted']:,} messages, {b['statuses_received']:,} statuses "
                f"received (3 × accepted = {3 * b['accepted']:,}), webhook drops "
                f"{b['webhook_drops']}, failed attempts {b['webhook_attempts_failed']}; counted "
                "from the first request until the receiver holds every status (backlog "
                "included). Rejections in phase A: "
                f"{a['rejected_by_code'] or 'none'}.",
                "",
                "Method (`python -m benchmarks.sandbox_bench`): the sandbox in its own process "
                "pinned to CPU 0, one API key at 1,000,000 mps; the load generator pinned to "
                "CPU 1, a raw HTTP/1.1 client on uvloop (16 keep-alive connections with 16 (A) "
                "/ 8 (B) pipelined requests each), every request a full `demo_promo` send to a "
                "distinct recipient; phase B's receiver is a minimal aiohttp app in a third "
                "process on CPU 1. Why it is fast enough: the send path "
                "(`gateway.Gateway.decide`) is synchronous and O(1) (one orjson parse, "
                "precompiled validation, token bucket, amortised-O(1) pair limiter and tier "
                "window, no per-request logging); webhooks never touch the send path (a heap, "
                "a pump task and a fixed pool of posting workers, bounded by `queue_size`).",
            ]
        )
        + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--role", choices=["bench", "receiver"], default="bench")
    args = parser.parse_args()
    if args.role == "receiver":
        uvloop.run(receiver())
        return 0
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    result = {"seconds": args.seconds, "phases": uvloop.run(bench(args.seconds))}
    print(orjson.dumps(result).decode() if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
