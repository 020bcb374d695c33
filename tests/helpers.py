"""Shared test helpers: running the CLI as a user would, counting rows."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def cli(
    *args: str,
    dsn: str | None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60,
) -> CliResult:
    """Run ``python -m engine ARGS`` in a subprocess (a real process, real exit code)."""
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if dsn is not None:
        full_env["DATABASE_URL"] = dsn
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


async def table_counts(dsn: str) -> dict[str, int]:
    """Row counts of every data table: "the database is unchanged" means equal counts."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            "portfolios",
            "channels",
            "audiences",
            "recipients",
            "campaigns",
            "messages",
            "webhook_inbox",
            "suppressions",
        ]
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    finally:
        await conn.close()


def run_isolated(coro: Any) -> Any:
    """Run a coroutine on a private loop in a worker thread (for sync tests and fixtures,
    so they never touch the loop pytest-asyncio manages)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def counts(dsn: str) -> dict[str, int]:
    result: dict[str, int] = run_isolated(table_counts(dsn))
    return result


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
