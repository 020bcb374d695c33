"""The campaign job against the sandbox: the happy path and resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.sandbox.testing import SandboxProcess
from tests.e2e.jobkit import (
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
