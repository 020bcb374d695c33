"""The campaign job against the sandbox: the happy path and resume."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from engine.sandbox.testing import SandboxProcess
from tests.e2e.jobkit import (
    campaign_state,
    finish,
    make_audience,
    start_job,
    state_counts,
    write_profile,
    write_spec,
)

pytestmark = pytest.mark.asyncio(loop_factories=["uvloop"])


async def test_sends_every_recipient_once(db_dsn: str, tmp_path: Path) -> None:
    await make_audience(db_dsn, "aud", 3000)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=1000, burst=10)
        spec = write_spec(
            tmp_path / "s.yaml", name="basic", audience="aud", base_url=sb.base_url, profile=profile
        )
        code, err = await finish(await start_job(spec, db_dsn))
        assert code == 0, err[-3000:]
        stats = await sb.stats()
    assert await state_counts(db_dsn) == {"accepted": 3000}
    assert stats["accepted"] == 3000
    assert stats["duplicate_sends"] == 0
    assert max(stats["max_rps_1s"].values()) <= 1000 * 1.05


async def test_a_run_where_every_send_fails_ends_failed(db_dsn: str, tmp_path: Path) -> None:
    """Every recipient lacks the attribute the body needs: no HTTP call, every row failed
    with render_error, and the campaign ends ``failed`` (exit 5), not ``completed``."""
    await make_audience(db_dsn, "aud", 50)
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute("UPDATE recipients SET attrs = '{}'::jsonb")
    finally:
        await conn.close()
    async with SandboxProcess(config={"webhooks": {"enabled": False}}) as sb:
        profile = write_profile(tmp_path / "p.yaml")
        spec = write_spec(
            tmp_path / "s.yaml",
            name="doomed",
            audience="aud",
            base_url=sb.base_url,
            profile=profile,
        )
        code, err = await finish(await start_job(spec, db_dsn))
        stats = await sb.stats()
    assert code == 5, err[-3000:]
    assert "campaign_failed_every_send" in err
    assert stats["accepted"] == 0 and stats["requests"] == 0
    assert await state_counts(db_dsn) == {"failed": 50}
    state, reason = await campaign_state(db_dsn, "doomed")
    assert (state, reason) == ("failed", "every send failed: render_error x 50")
