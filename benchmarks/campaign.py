"""Campaign fixtures for benchmarks: audiences, profiles, specs, and the job's command line.

Audiences are written straight into ``recipients`` with COPY (fast set-up, not what is
measured) except where the import itself is measured (``scale_bench`` uses
``campaign audience import``). Every recipient is a distinct valid German mobile number
with the attributes the ``demo_promo`` template needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import asyncpg
import yaml

KEY_ENV = "BENCH_D360_KEY"
API_KEY = "bench-key"
CHANNEL = "main"


def phone(i: int) -> str:
    """The ``i``-th benchmark recipient (E.164)."""
    return f"+49151{10_000_000 + i:08d}"


async def make_audience(dsn: str, name: str, n: int, *, start: int = 0) -> int:
    """``n`` recipients with ``first_name``/``code`` attributes, by COPY; the audience id."""
    conn = await asyncpg.connect(dsn)
    try:
        audience_id = int(
            await conn.fetchval("INSERT INTO audiences (name) VALUES ($1) RETURNING id", name)
        )
        await conn.copy_records_to_table(
            "recipients",
            records=[
                (audience_id, phone(i), f'{{"first_name": "N{i}", "code": "C{i}"}}')
                for i in range(start, start + n)
            ],
            columns=["audience_id", "phone", "attrs"],
        )
        await conn.execute("ANALYZE recipients")
        return audience_id
    finally:
        await conn.close()


async def seed_outbox(dsn: str, n: int) -> int:
    """An audience of ``n`` and a campaign whose outbox holds ``n`` pending rows (what the
    naive contenders update); the campaign id."""
    audience_id = await make_audience(dsn, "naive", n)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO portfolios (name) VALUES ('naive')")
        await conn.execute(
            "INSERT INTO channels (name, portfolio, base_url) VALUES ('naive', 'naive', 'x')"
        )
        campaign_id = int(
            await conn.fetchval(
                "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id,"
                " template_name, template_language) VALUES ('naive', '{}', 'h', 'naive', $1,"
                " 'demo_promo', 'en') RETURNING id",
                audience_id,
            )
        )
        await conn.execute(
            "INSERT INTO messages (campaign_id, recipient_id, phone)"
            " SELECT $1, id, phone FROM recipients WHERE audience_id = $2 ORDER BY id",
            campaign_id,
            audience_id,
        )
        await conn.execute("ANALYZE messages")
        return campaign_id
    finally:
        await conn.close()


def write_csv(path: Path, n: int) -> Path:
    """A CSV of ``n`` distinct valid numbers (``phone,first_name,code``)."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,first_name,code\n")
        for start in range(0, n, 10_000):
            out.write(
                "".join(
                    f"{phone(i)},Name{i},C{i:07d}\n" for i in range(start, min(n, start + 10_000))
                )
            )
    return path


def profile(name: str = "bench", **overrides: Any) -> dict[str, Any]:
    """A throughput profile for local runs (short timeouts, unlimited tier)."""
    data: dict[str, Any] = {
        "name": name,
        "rate_per_s": None,
        "burst": 10,
        "concurrency": 64,
        "claim_batch": 1000,
        "queue_size": 2000,
        "connect_timeout_s": 2,
        "request_timeout_s": 5,
        "max_attempts": 8,
        "backoff": {"base_s": 0.05, "max_s": 1, "jitter": 0.2},
        "aimd": {"floor_per_s": 50, "increase_per_s": 500, "decrease_factor": 0.7, "quiet_s": 1},
        "circuit": {"failures": 1000, "open_s": 1},
        "tier": "unlimited",
        "recorder": {"flush_ms": 50, "batch": 1000},
        "lease_ttl_s": 10,
        "progress_every_s": 1,
        "unknown_grace_s": 5,
    }
    data.update(overrides)
    return data


def write_spec(
    directory: Path,
    *,
    name: str,
    audience: str,
    base_url: str,
    profile_data: dict[str, Any],
    **options: Any,
) -> Path:
    """Write ``<name>.profile.yaml`` and ``<name>.yaml`` (the spec) under ``directory``."""
    profile_path = directory / f"{name}.profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile_data, sort_keys=False))
    spec = {
        "name": name,
        "channel": {"name": CHANNEL, "base_url": base_url, "api_key_env": KEY_ENV},
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
        "profile": str(profile_path),
        "options": options,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def job_argv(spec: Path, *extra: str) -> list[str]:
    """``python -m engine run SPEC --log-format json``."""
    return [sys.executable, "-m", "engine", "run", str(spec), "--log-format", "json", *extra]


def cli_argv(*args: str) -> list[str]:
    """``python -m engine ARGS``."""
    return [sys.executable, "-m", "engine", *args]


def job_env(dsn: str) -> dict[str, str]:
    return {"DATABASE_URL": dsn, KEY_ENV: API_KEY}
