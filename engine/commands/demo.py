"""`campaign demo`: the whole product on one machine, with nothing to configure.

Embedded Postgres (or DATABASE_URL), the 360dialog sandbox in its own process, the webhook
receiver and correlator in this process, and the campaign job on a generated audience that
contains invalid, duplicate, undeliverable (131026) and opted-out (131050) numbers. When the
job is done it waits for the status webhooks to settle, then prints the report; with
``--json`` the last stdout line is the report JSON plus ``sandbox`` (``/_sandbox/stats``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from engine.commands.database import open_db
from engine.db import audiences, campaigns, reports
from engine.db.pool import resolve_dsn
from engine.errors import InputError
from engine.importer import ImportResult, iter_chunks
from engine.logs import get_logger
from engine.paths import CAMPAIGNS_DIR
from engine.report import build_report, format_report
from engine.run.job import CampaignJob
from engine.run.settings import load_job_settings

log = get_logger("engine.demo")

DEMO_CHANNEL = "demo"
KEY_ENV = "CAMPAIGN_DEMO_D360_KEY"
SETTLE_QUIET_S = 1.5
SETTLE_MAX_S = 60.0


def write_audience(path: Path, n: int) -> None:
    """``n`` data lines: ~1% invalid, ~2% duplicates, ~1% undeliverable (digits ending 99),
    ~1% opted out (ending 98); the rest are ordinary German mobile numbers."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,first_name,code\n")
        for i in range(n):
            if i % 97 == 13:
                phone = f"12{i}"  # too short: invalid
            elif i % 53 == 7 and i > 0:
                phone = f"+49151{10_000_000 + i - 1:08d}"  # same as the previous line
            else:
                phone = f"+49151{10_000_000 + i:08d}"
            out.write(f"{phone},Name{i},C{i:06d}\n")


def sandbox_config(receiver_url: str, secret: str) -> dict[str, Any]:
    return {
        "faults": {
            "error_5xx_ratio": 0.01,
            "latency": {"p50_ms": 5, "p99_ms": 40},
            "recipients": {"undeliverable": [r"\d*99"], "opted_out": [r"\d*98"]},
        },
        "webhooks": {
            "default_url": f"{receiver_url}/webhooks/{DEMO_CHANNEL}",
            "default_headers": {"X-Webhook-Secret": secret},
            "lifecycle": {
                "delivered_ratio": 0.95,
                "read_ratio": 0.5,
                "duplicate_ratio": 0.02,
                "reorder_ratio": 0.05,
                "sent_delay": {"p50_ms": 20, "p99_ms": 200},
                "delivered_delay": {"p50_ms": 100, "p99_ms": 600},
                "read_delay": {"p50_ms": 300, "p99_ms": 1500},
                "failed_delay": {"p50_ms": 50, "p99_ms": 300},
            },
        },
    }


def campaign_spec(name: str, audience: str, base_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "channel": {"name": DEMO_CHANNEL, "base_url": base_url, "api_key_env": KEY_ENV},
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
        "profile": str(CAMPAIGNS_DIR / "profiles" / "demo.yaml"),
    }


async def demo(args: argparse.Namespace) -> int:
    from engine.sandbox.testing import SandboxProcess
    from engine.webhooks.receiver import running_receiver
    from engine.webhooks.settings import ChannelAuth, ReceiverSettings

    if args.recipients < 1 or args.recipients > 2_000_000:
        raise InputError("--recipients", None, "must be between 1 and 2,000,000")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = Path.cwd() / ".campaign" / "demo"
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"audience-{stamp}.csv"
    write_audience(csv_path, args.recipients)
    dsn = resolve_dsn()
    audience = f"demo-{stamp}"
    result = ImportResult()
    async with open_db() as conn:
        inserted, staged = await audiences.import_rows(
            conn, audience, iter_chunks(csv_path, "phone", None, result)
        )
    log.info(
        "demo_audience_imported",
        audience=audience,
        imported=inserted,
        duplicates=staged - inserted,
        invalid=result.invalid_total,
    )
    secret = secrets.token_urlsafe(24)
    os.environ[KEY_ENV] = "demo-" + secrets.token_hex(8)
    settings = ReceiverSettings(channels={DEMO_CHANNEL: ChannelAuth(secret=secret)})
    async with (
        running_receiver(dsn, settings) as receiver,
        SandboxProcess(config=sandbox_config(receiver.url, secret), seed=7) as sandbox,
    ):
        spec_path = work / f"spec-{stamp}.yaml"
        spec_path.write_text(
            yaml.safe_dump(
                campaign_spec(f"demo-{stamp}", audience, sandbox.base_url), sort_keys=False
            )
        )
        job_settings = load_job_settings(spec_path, profile_override=None, environ=os.environ)
        job = CampaignJob(job_settings, dsn=dsn)
        outcome = await job.run()
        stats = await _settle(dsn, outcome.campaign_id, sandbox)
    async with open_db(apply_migrations=False) as conn:
        raw = await reports.campaign_report(conn, outcome.campaign_id)
        state, _ = await campaigns.get_state(conn, outcome.campaign_id)
    report = build_report(job_settings.name, state, raw)
    print(format_report(report), file=sys.stderr)
    if args.json:
        print(orjson.dumps({**report, "sandbox": stats}).decode())
    else:
        print(format_report(report))
    return outcome.exit_code


async def _settle(dsn: str, campaign_id: int, sandbox: Any) -> dict[str, Any]:
    """Wait until every status the sandbox emitted is stored and correlated (or time out)."""
    deadline = time.monotonic() + SETTLE_MAX_S
    last_key: tuple[int, ...] = ()
    quiet_since = time.monotonic()
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = await sandbox.stats()
        async with open_db(apply_migrations=False) as conn:
            backlog = await reports.inbox_backlog(conn)
        key = (stats.get("webhooks_sent", 0), stats.get("webhook_attempts_failed", 0), backlog)
        if key != last_key:
            last_key, quiet_since = key, time.monotonic()
        elif backlog == 0 and time.monotonic() - quiet_since >= SETTLE_QUIET_S:
            break
        await asyncio.sleep(0.25)
    return stats
