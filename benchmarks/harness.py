"""Benchmark plumbing: subprocesses measured with wait4 (CPU, peak RSS), a sandbox in its
own process, a scratch database, machine info."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    code: int
    stdout: str
    stderr: str


def run_measured(
    argv: list[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 600
) -> Measured:
    """Run a child to completion; CPU (user+sys) and peak RSS from wait4's rusage."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed below after the child exits
    err = tempfile.TemporaryFile()  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=err
    )
    deadline = start + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
        time.sleep(0.01)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return Measured(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,
        code=proc.returncode,
        stdout=_read_close(out),
        stderr=_read_close(err),
    )


def _read_close(handle: Any) -> str:
    text: str = handle.read().decode(errors="replace")
    handle.close()
    return text


class Sandbox:
    """The sandbox simulator in its own process (pinned to CPU 1 when possible)."""

    def __init__(self, config: dict[str, Any], *, seed: int = 1, cpu: int | None = 1) -> None:
        self._config = config
        self._seed = seed
        self._cpu = cpu
        self.base_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory()

    def __enter__(self) -> Sandbox:
        path = Path(self._dir.name) / "sandbox.yaml"
        path.write_text(yaml.safe_dump(self._config))
        argv = [
            sys.executable,
            "-m",
            "engine.sandbox.cli",
            "--port",
            "0",
            "--config",
            str(path),
            "--seed",
            str(self._seed),
        ]
        if (
            self._cpu is not None
            and hasattr(os, "sched_setaffinity")
            and os.cpu_count()
            and os.cpu_count() > 1
        ):
            argv = ["taskset", "-c", str(self._cpu), *argv]
        self._proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode()
        info = json.loads(line)
        self.base_url = info["base_url"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._dir.cleanup()

    def get(self, path: str) -> Any:
        import urllib.request

        with urllib.request.urlopen(self.base_url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: Any = None) -> Any:
        import urllib.request

        req = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None


def admin_dsn() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    from engine.db.embedded import embedded_dsn

    return embedded_dsn(ROOT / ".campaign" / "bench")


def _scratch_names() -> tuple[str, str, str]:
    base = admin_dsn()
    name = f"ce_bench_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(base)
    return base, name, urlunsplit(parts._replace(path="/" + name))


async def _create_database(base: str, name: str, dsn: str) -> None:
    from engine.db.migrate import migrate

    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _drop_database(base: str, name: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new migrated database, dropped afterwards (for synchronous callers)."""
    base, name, dsn = _scratch_names()
    asyncio.run(_create_database(base, name, dsn))
    try:
        yield dsn
    finally:
        asyncio.run(_drop_database(base, name))


@asynccontextmanager
async def scratch_db() -> AsyncIterator[str]:
    """A new migrated database, dropped afterwards (inside a running event loop)."""
    base, name, dsn = _scratch_names()
    await _create_database(base, name, dsn)
    try:
        yield dsn
    finally:
        await _drop_database(base, name)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
