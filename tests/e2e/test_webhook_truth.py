"""The report equals the sandbox's ground truth, with duplicated, reordered and delayed
webhooks, opt-outs and undeliverable numbers; then `campaign retry` sends only the failed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.sandbox.testing import SandboxProcess
from engine.webhooks.receiver import running_receiver
from engine.webhooks.settings import ChannelAuth, ReceiverSettings
from tests.e2e.jobkit import finish, make_audience, run_cli, running_job, write_profile, write_spec
from tests.helpers import fetch

pytestmark = [pytest.mark.asyncio(loop_factories=["uvloop"]), pytest.mark.timeout(240)]

SECRET = "truth-hook-secret"


def sandbox_config(receiver_url: str) -> dict[str, object]:
    return {
        "faults": {
            "reset_after_accept_ratio": 0.01,
            "recipients": {"undeliverable": [r"\d*17"], "opted_out": [r"\d*23"]},
        },
        "webhooks": {
            "default_url": f"{receiver_url}/webhooks/main",
            "default_headers": {"X-Webhook-Secret": SECRET},
            "lifecycle": {
                "delivered_ratio": 0.9,
                "read_ratio": 0.5,
                "skip_delivered_ratio": 0.2,
                "duplicate_ratio": 0.2,
                "reorder_ratio": 0.3,
                "sent_delay": {"p50_ms": 50, "p99_ms": 400},
                "delivered_delay": {"p50_ms": 200, "p99_ms": 1200},
                "read_delay": {"p50_ms": 400, "p99_ms": 2000},
                "failed_delay": {"p50_ms": 100, "p99_ms": 800},
            },
        },
    }


async def _settled(dsn: str, sb: SandboxProcess) -> dict[str, object]:
    """Wait until the sandbox has nothing left to deliver and the inbox is drained."""
    stats = await sb.wait_idle(timeout_s=60)
    for _ in range(600):
        rows = await fetch(
            dsn, "SELECT count(*) AS n FROM webhook_inbox WHERE processed_at IS NULL"
        )
        pending = await fetch(dsn, "SELECT count(*) AS n FROM pending_statuses")
        if rows[0]["n"] == 0 and pending[0]["n"] == 0:
            return await sb.stats()
        await asyncio.sleep(0.1)
    raise AssertionError(f"webhooks did not settle: {stats}")


async def test_report_equals_sandbox_ground_truth(db_dsn: str, tmp_path: Path) -> None:
    n = 4000
    await make_audience(db_dsn, "aud", n)
    settings = ReceiverSettings(channels={"main": ChannelAuth(secret=SECRET)})
    async with running_receiver(db_dsn, settings) as receiver:  # noqa: SIM117 - sb needs receiver.url
        async with SandboxProcess(config=sandbox_config(receiver.url), seed=11, cpu=1) as sb:
            profile = write_profile(tmp_path / "p.yaml", rate_per_s=1000, burst=10)
            spec = write_spec(
                tmp_path / "s.yaml",
                name="truth",
                audience="aud",
                base_url=sb.base_url,
                profile=profile,
            )
            async with running_job(spec, db_dsn) as job:
                code, err = await finish(job, 120)
            assert code == 0, err[-2000:]
            stats = await _settled(db_dsn, sb)
            code, out, err = await run_cli(db_dsn, "report", "truth", "--json")
            assert code == 0, err
            report = json.loads(out)
            truth = stats["statuses_emitted"]
            assert isinstance(truth, dict)
            # Cumulative funnel: read counts as delivered and sent (skipped delivered too).
            assert report["read"] == truth["read"]
            assert report["failed"] == truth["failed"]
            assert report["failed_by_code"] == {
                str(k): v for k, v in stats["failed_by_code"].items()
            }
            assert report["delivered"] >= truth["delivered"]
            assert report["accepted"] == stats["accepted"]  # resets after accept were settled
            assert report["unknown"] == 0
            assert sum(report["by_status"].values()) == report["recipients"] == n
            assert stats["duplicate_sends"] == 0
            delivered_or_read = await fetch(
                db_dsn,
                "SELECT count(*) FILTER (WHERE status = 'delivered') AS d,"
                " count(*) FILTER (WHERE status = 'read') AS r FROM messages",
            )
            assert delivered_or_read[0]["r"] == truth["read"]

            # Retry only the failed 131026 rows: exactly those go out again.
            undeliverable = report["failed_by_code"].get("131026", 0)
            assert undeliverable > 0
            code, out, err = await run_cli(db_dsn, "retry", "truth", "--codes", "131026")
            assert code == 0, err
            assert json.loads(out)["requeued"] == undeliverable
            before = stats["accepted"]
            async with running_job(spec, db_dsn) as job:
                code, err = await finish(job, 60)
            assert code == 0, err[-2000:]
            after = await sb.stats()
    assert after["accepted"] == before + undeliverable
    # Opted-out recipients were suppressed: a new campaign to the audience would skip them.
    supp = await fetch(db_dsn, "SELECT count(*) AS n FROM suppressions")
    assert supp[0]["n"] == report["failed_by_code"].get("131050", 0)
