"""Helpers for end-to-end campaign tests: audiences, specs, profiles, job subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from tests.helpers import ROOT

KEY_ENV = "E2E_D360_KEY"


async def make_audience(dsn: str, name: str, n: int, *, start: int = 0) -> None:
    """``n`` valid German mobile numbers with first_name/code attributes (COPY)."""
    from engine.db.pool import connect

    conn = await connect(dsn)
    try:
        audience_id = await conn.fetchval(
            "INSERT INTO audiences (name) VALUES ($1) RETURNING id", name
        )
        await conn.copy_records_to_table(
            "recipients",
            records=[
                (
                    audience_id,
                    f"+49151{10_000_000 + i:08d}",
                    {"first_name": f"N{i}", "code": f"C{i}"},
                )
                for i in range(start, start + n)
            ],
            columns=["audience_id", "phone", "attrs"],
        )
    finally:
        await conn.close()


def write_profile(path: Path, **overrides: Any) -> Path:
    profile: dict[str, Any] = {
        "name": "e2e",
        "rate_per_s": 1000,
        "burst": 10,
        "concurrency": 128,
        "claim_batch": 200,
        "queue_size": 400,
        "connect_timeout_s": 2,
        "request_timeout_s": 2,
        "max_attempts": 8,
        "backoff": {"base_s": 0.05, "max_s": 0.5, "jitter": 0.2},
        "aimd": {"floor_per_s": 50, "increase_per_s": 500, "decrease_factor": 0.7, "quiet_s": 0.5},
        "circuit": {"failures": 1000, "open_s": 1},
        "tier": "unlimited",
        "recorder": {"flush_ms": 50, "batch": 500},
        "lease_ttl_s": 3,
        "progress_every_s": 1,
        "unknown_grace_s": 5,
    }
    profile.update(overrides)
    path.write_text(yaml.safe_dump(profile))
    return path


def write_spec(
    path: Path, *, name: str, audience: str, base_url: str, profile: Path, **options: Any
) -> Path:
    spec = {
        "name": name,
        "channel": {"name": "main", "base_url": base_url, "api_key_env": KEY_ENV},
        "audience": audience,
        "template": {
            "name": "demo_promo",
            "language": "en",
            "category": "marketing",
            "components": {
                "body": ["{{first_name}}", "{{code}}"],
                "buttons": [{"sub_type": "url", "index": 0, "params": ["{{code}}"]}],
            },
        },
        "profile": str(profile),
        "options": options,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


async def start_job(spec: Path, dsn: str, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": dsn, KEY_ENV: "e2e-key"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine",
        "run",
        str(spec),
        "--log-format",
        "json",
        *extra,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(dsn: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": dsn, KEY_ENV: "e2e-key"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def finish(proc: asyncio.subprocess.Process, timeout_s: float = 120) -> tuple[int, str]:
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
        raise AssertionError(
            f"job did not finish in {timeout_s}s:\n{err.decode()[-3000:]}"
        ) from None
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def kill9(proc: asyncio.subprocess.Process) -> None:
    os.kill(proc.pid, signal.SIGKILL)


async def state_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM messages GROUP BY state")
        return {r["state"]: r["n"] for r in rows}
    finally:
        await conn.close()


async def campaign_state(dsn: str, name: str) -> tuple[str, str | None]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT state, state_reason FROM campaigns WHERE name = $1", name)
        assert row is not None
        return row["state"], row["state_reason"]
    finally:
        await conn.close()


class running_job:
    """``async with running_job(spec, dsn) as proc``: the job is killed if still running
    when the block exits (a failed assertion must not leave a sender behind)."""

    def __init__(self, spec: Path, dsn: str, *extra: str) -> None:
        self._args = (spec, dsn, *extra)
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> asyncio.subprocess.Process:
        spec, dsn, *extra = self._args
        self.proc = await start_job(spec, dsn, *extra)  # type: ignore[arg-type]
        return self.proc

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.communicate()
