"""A child process watched while it runs: CPU, RSS and the sandbox's accepted count over time.

``run_monitored`` starts ``argv`` with ``subprocess.Popen`` (stdout and stderr to temporary
files, so a chatty child never blocks on a pipe), samples it every ``interval_s`` and reaps
it with ``os.wait4``, whose rusage gives the exact total CPU (user + system) and peak RSS of
the child. The samples (psutil CPU times and RSS, plus ``GET /_sandbox/stats`` ``accepted``
when a sandbox is given) let a benchmark cut out a *steady-state window* that excludes
process start, migrations, materialization and the tail.

Failure modes: a child still running at ``timeout_s`` is killed (``timed_out`` is set);
``stop_when`` may send it a signal (a bounded part of a long campaign). Nothing here raises
for a non-zero exit: callers check ``code``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import psutil

from benchmarks.harness import ROOT

REAP_POLL_S = 0.01  # how often the child's exit is checked (the wall-time resolution)


class StatsSource(Protocol):
    """Anything with the sandbox's ``await stats()`` (``SandboxProcess``)."""

    async def stats(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation: seconds since start, child CPU seconds and RSS (MB), sandbox
    accepted sends (``-1`` without a sandbox), CPU seconds of the local Postgres server's
    processes (NaN when none is visible)."""

    t_s: float
    cpu_s: float
    rss_mb: float
    accepted: int
    postgres_cpu_s: float = float("nan")


def postgres_cpu_s() -> float:
    """CPU seconds (user + system) used so far by the live processes of the local Postgres
    server (``postgres`` processes; the embedded server's are named the same). Backends that
    exit take their CPU with them, so only differences between samples inside one job's
    lifetime are meaningful. NaN when no such process is visible."""
    total, seen = 0.0, False
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            times = proc.info["cpu_times"]
            total += times.user + times.system
            seen = True
    return total if seen else float("nan")


@dataclass(frozen=True, slots=True)
class Window:
    """A slice of a run between two samples: its rate and CPU cost per accepted message."""

    start_s: float
    end_s: float
    messages: int
    cpu_s: float
    postgres_cpu_s: float = float("nan")

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s

    @property
    def rate_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_msg(self) -> float:
        return self.cpu_s / self.messages * 1e6 if self.messages else float("nan")

    @property
    def cpu_cores(self) -> float:
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def postgres_us_per_msg(self) -> float:
        return self.postgres_cpu_s / self.messages * 1e6 if self.messages else float("nan")

    def to_json(self) -> dict[str, float | None]:
        pg = self.postgres_us_per_msg
        return {
            "seconds": round(self.seconds, 2),
            "messages": self.messages,
            "rate_per_s": round(self.rate_per_s, 1),
            "cpu_us_per_msg": round(self.cpu_us_per_msg, 1),
            "cpu_cores": round(self.cpu_cores, 3),
            "postgres_cpu_us_per_msg": round(pg, 1) if pg == pg else None,
        }


@dataclass(slots=True)
class ProcessRun:
    """What a monitored child did. ``events`` are its JSON log lines (structlog)."""

    argv: list[str]
    code: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stdout: str
    stderr: str
    samples: list[Sample] = field(default_factory=list)
    timed_out: bool = False

    @property
    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.stderr.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(orjson.JSONDecodeError):
                    out.append(orjson.loads(line))
        return out

    def event(self, name: str) -> dict[str, Any] | None:
        """The last log event called ``name``."""
        found = [e for e in self.events if e.get("event") == name]
        return found[-1] if found else None

    def rss_profile(self) -> dict[str, float]:
        """RSS (MB) at 25/50/75 % of the run's samples and the sampled maximum."""
        rss = [s.rss_mb for s in self.samples if s.rss_mb > 0]
        if not rss:
            return {}
        pick = {f"at_{p}pct": rss[min(len(rss) - 1, len(rss) * p // 100)] for p in (25, 50, 75)}
        return {k: round(v, 1) for k, v in {**pick, "sampled_max": max(rss)}.items()}

    def window(self, lo: int, hi: int) -> Window | None:
        """The steady-state window: from the first sample with at least ``lo`` accepted to
        the last with at most ``hi`` accepted (None when fewer than two samples qualify)."""
        return _window([s for s in self.samples if lo <= s.accepted <= hi])

    def window_by_time(self, start_s: float, end_s: float) -> Window | None:
        """The window between the first sample at or after ``start_s`` and the last at or
        before ``end_s``."""
        return _window([s for s in self.samples if start_s <= s.t_s <= end_s])


def _window(inside: list[Sample]) -> Window | None:
    if len(inside) < 2:
        return None
    a, b = inside[0], inside[-1]
    return Window(
        a.t_s,
        b.t_s,
        b.accepted - a.accepted,
        b.cpu_s - a.cpu_s,
        b.postgres_cpu_s - a.postgres_cpu_s,
    )


def _sample_process(proc: psutil.Process) -> tuple[float, float]:
    try:
        with proc.oneshot():
            times = proc.cpu_times()
            return times.user + times.system, proc.memory_info().rss / 2**20
    except psutil.Error:
        return float("nan"), 0.0


async def run_monitored(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    sandbox: StatsSource | None = None,
    interval_s: float = 0.25,
    timeout_s: float = 600.0,
    stop_when: Callable[[Sample], bool] | None = None,
    stop_signal: int = signal.SIGTERM,
    watch_postgres: bool = True,
) -> ProcessRun:
    """Run ``argv`` (cwd = project root) to completion while sampling it.

    ``stop_when(sample)`` returning True sends ``stop_signal`` once (the job drains and
    exits on SIGTERM). CPU and peak RSS in the result come from ``wait4``'s rusage.
    ``watch_postgres`` adds the local Postgres server's CPU to every sample.
    """
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the child exits
    err = tempfile.TemporaryFile()  # noqa: SIM115
    start = time.perf_counter()
    # Popen, not asyncio's subprocess API: the child must be reaped with wait4 for its
    # rusage, which asyncio's child watcher would take first. Spawning does not block.
    child = subprocess.Popen(  # noqa: ASYNC220
        list(argv), cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=err
    )
    ps = psutil.Process(child.pid)
    samples: list[Sample] = []
    stopped = timed_out = False
    next_sample = 0.0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)  # noqa: ASYNC222 - non-blocking
        if pid:
            break
        now = time.perf_counter() - start
        if now < next_sample:
            await asyncio.sleep(REAP_POLL_S)
            continue
        next_sample = now + interval_s
        cpu, rss = _sample_process(ps)
        accepted = -1
        if sandbox is not None:
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                accepted = int((await sandbox.stats())["accepted"])
        sample = Sample(now, cpu, rss, accepted, postgres_cpu_s() if watch_postgres else math.nan)
        if cpu == cpu:  # not NaN: the child was still there
            samples.append(sample)
        if stop_when is not None and not stopped and stop_when(sample):
            child.send_signal(stop_signal)
            stopped = True
        if now > timeout_s and not timed_out:
            child.kill()
            timed_out = True
        await asyncio.sleep(REAP_POLL_S)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return ProcessRun(
        argv=list(argv),
        code=child.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,
        stdout=_read_close(out),
        stderr=_read_close(err),
        samples=samples,
        timed_out=timed_out,
    )


def _read_close(handle: Any) -> str:
    handle.seek(0)
    text: str = handle.read().decode(errors="replace")
    handle.close()
    return text
