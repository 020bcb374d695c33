"""Pause, resume and cancel from another shell; SIGTERM drains; changed specs are refused."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from engine.sandbox.testing import SandboxProcess
from tests.e2e.jobkit import (
    campaign_state,
    finish,
    make_audience,
    run_cli,
    running_job,
    start_job,
    state_counts,
    write_profile,
    write_spec,
)

pytestmark = [pytest.mark.asyncio(loop_factories=["uvloop"]), pytest.mark.timeout(240)]


async def _accepted_after(sb: SandboxProcess, delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    return int((await sb.stats())["accepted"])


async def test_pause_takes_effect_within_a_second_and_resume_continues(
    db_dsn: str, tmp_path: Path
) -> None:
    n = 3000
    await make_audience(db_dsn, "aud", n)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}, cpu=1) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=400, burst=8)
        spec = write_spec(
            tmp_path / "s.yaml", name="pr", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            await _paused_then_resumed(sb, db_dsn, job, n)
        stats = await sb.stats()
    assert await state_counts(db_dsn) == {"accepted": n}
    assert stats["duplicate_sends"] == 0 and stats["accepted"] == n
    assert (await campaign_state(db_dsn, "pr"))[0] == "completed"


async def _paused_then_resumed(
    sb: SandboxProcess, db_dsn: str, job: asyncio.subprocess.Process, n: int
) -> None:
    await _accepted_after(sb, 2.0)
    code, _, err = await run_cli(db_dsn, "pause", "pr")
    assert code == 0, err
    # Within one second of the command the sends stop.
    settled = await _accepted_after(sb, 1.0)
    assert await _accepted_after(sb, 1.0) == settled
    assert 0 < settled < n
    assert (await campaign_state(db_dsn, "pr"))[0] == "paused"
    counts = await state_counts(db_dsn)
    assert "in_flight" not in counts
    code, _, err = await run_cli(db_dsn, "resume", "pr")
    assert code == 0, err
    code, err = await finish(job, 60)
    assert code == 0, err[-2000:]


async def test_cancel_stops_and_cancels_the_rest(db_dsn: str, tmp_path: Path) -> None:
    n = 3000
    await make_audience(db_dsn, "aud", n)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}, cpu=1) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=400, burst=8)
        spec = write_spec(
            tmp_path / "s.yaml", name="cx", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            await _accepted_after(sb, 2.0)
            code, _, err = await run_cli(db_dsn, "cancel", "cx")
            assert code == 0, err
            code, err = await finish(job, 30)
            assert code == 0, err[-2000:]
        stats = await sb.stats()
    counts = await state_counts(db_dsn)
    assert set(counts) == {"accepted", "cancelled"}
    assert counts["accepted"] == stats["accepted"]
    assert counts["cancelled"] == n - stats["accepted"]
    assert (await campaign_state(db_dsn, "cx"))[0] == "cancelled"
    # A cancelled campaign cannot be resumed.
    code, _, err = await run_cli(db_dsn, "resume", "cx")
    assert code == 4 and "cancelled" in err


async def test_sigterm_drains_then_rerun_completes(db_dsn: str, tmp_path: Path) -> None:
    n = 3000
    await make_audience(db_dsn, "aud", n)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}, cpu=1) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=400, burst=8)
        spec = write_spec(
            tmp_path / "s.yaml", name="tm", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            await _accepted_after(sb, 2.0)
            os.kill(job.pid, signal.SIGTERM)
            code, err = await finish(job, 30)
            assert code == 0, err[-2000:]
        assert (await campaign_state(db_dsn, "tm")) == ("paused", "interrupted")
        counts = await state_counts(db_dsn)
        assert set(counts) == {"accepted", "pending"}, counts  # nothing in flight, nothing unknown
        assert counts["accepted"] == (await sb.stats())["accepted"]
        code, err = await finish(await start_job(spec, db_dsn), 60)
        assert code == 0, err[-2000:]
        stats = await sb.stats()
    assert await state_counts(db_dsn) == {"accepted": n}
    assert stats["duplicate_sends"] == 0


async def test_changed_spec_is_refused_unless_force_new(db_dsn: str, tmp_path: Path) -> None:
    await make_audience(db_dsn, "aud", 50)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}) as sb:
        profile = write_profile(tmp_path / "p.yaml")
        spec = write_spec(
            tmp_path / "s.yaml", name="ch", audience="aud", base_url=sb.base_url, profile=profile
        )
        code, err = await finish(await start_job(spec, db_dsn), 60)
        assert code == 0, err[-2000:]
        changed = write_spec(
            tmp_path / "s.yaml",
            name="ch",
            audience="aud",
            base_url=sb.base_url,
            profile=profile,
            on_unknown="resend",
        )
        code, err = await finish(await start_job(changed, db_dsn), 60)
        assert code == 2 and "different spec" in err
        assert len(err.strip().splitlines()) == 1
        code, err = await finish(await start_job(changed, db_dsn, "--force-new"), 60)
        assert code == 0, err[-2000:]
        stats = await sb.stats()
    # --force-new started a new campaign: the template went to everyone again, knowingly.
    assert stats["accepted"] == 100
