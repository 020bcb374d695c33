"""Issue 6's sandbox scenarios: tier budget, 130429 storm, template pause by webhook,
health BLOCKED, send windows across time zones."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.config.spec import WindowSpec
from engine.db.pool import create_pool
from engine.run.producer import BudgetGate, Producer
from engine.run.windowing import build_window
from engine.sandbox.testing import SandboxProcess
from engine.webhooks.receiver import running_receiver
from engine.webhooks.settings import ChannelAuth, ReceiverSettings
from tests.e2e.jobkit import (
    campaign_state,
    finish,
    make_audience,
    run_cli,
    running_job,
    state_counts,
    write_profile,
    write_spec,
)
from tests.helpers import fetch

pytestmark = [pytest.mark.asyncio(loop_factories=["uvloop"]), pytest.mark.timeout(240)]


HOOK_SECRET = "s3cret-hook"
HOOKS = ReceiverSettings(channels={"main": ChannelAuth(secret=HOOK_SECRET)})


def _hooked(receiver_url: str) -> dict[str, object]:
    """Sandbox config whose status webhooks go to the test's receiver (channel ``main``)."""
    return {
        "webhooks": {
            "default_url": f"{receiver_url}/webhooks/main",
            "default_headers": {"X-Webhook-Secret": HOOK_SECRET},
        }
    }


async def _wait_for(predicate, timeout_s: float, poll_s: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(poll_s)


async def test_tier_250_sends_exactly_250_then_waits(db_dsn: str, tmp_path: Path) -> None:
    await make_audience(db_dsn, "aud", 1000)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}, cpu=1) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=500, burst=10, tier=250)
        spec = write_spec(
            tmp_path / "s.yaml", name="tier", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:

            async def throttled() -> bool:
                rows = await fetch(db_dsn, "SELECT state FROM campaigns WHERE name = 'tier'")
                return bool(rows) and rows[0]["state"] == "throttled"

            await _wait_for(throttled, 30)
            await asyncio.sleep(1.0)  # would anything more go out while waiting?
            stats = await sb.stats()
            os.kill(job.pid, signal.SIGTERM)
            code, err = await finish(job, 30)
        assert code == 0, err[-2000:]
        assert "budget_exhausted" in err and "next_free_at" in err
    assert stats["accepted"] == 250
    counts = await state_counts(db_dsn)
    assert counts == {"accepted": 250, "pending": 750}
    rows = await fetch(db_dsn, "SELECT count(*) AS n FROM portfolio_contacts")
    assert rows[0]["n"] == 250


async def test_throttle_storm_lowers_the_rate_and_fails_nobody(db_dsn: str, tmp_path: Path) -> None:
    n = 1500
    await make_audience(db_dsn, "aud", n)
    # The number's real limit (150 mps) is below the profile's 400: a storm of 130429.
    sandbox = {
        "webhooks": {"enabled": False},
        "accounts": {"default_mps": 150, "default_burst_s": 0.2},
    }
    async with SandboxProcess(config=sandbox, cpu=1) as sb:
        profile = write_profile(
            tmp_path / "p.yaml",
            rate_per_s=400,
            burst=10,
            max_attempts=3,
            aimd={"floor_per_s": 20, "increase_per_s": 10, "decrease_factor": 0.5, "quiet_s": 2},
        )
        spec = write_spec(
            tmp_path / "s.yaml", name="storm", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            code, err = await finish(job, 120)
        assert code == 0, err[-2000:]
        stats = await sb.stats()
    assert stats["rejected_by_code"].get("130429", 0) > 0
    assert "rate_decreased" in err
    assert await state_counts(db_dsn) == {"accepted": n}  # max_attempts=3 and nobody failed
    assert stats["duplicate_sends"] == 0


async def test_template_paused_by_webhook_pauses_within_a_second(
    db_dsn: str, tmp_path: Path
) -> None:
    n = 3000
    await make_audience(db_dsn, "aud", n)
    async with running_receiver(db_dsn, HOOKS) as receiver:
        sandbox = _hooked(receiver.url)
        async with SandboxProcess(config=sandbox, cpu=1) as sb:
            profile = write_profile(tmp_path / "p.yaml", rate_per_s=300, burst=6)
            spec = write_spec(
                tmp_path / "s.yaml",
                name="tpl",
                audience="aud",
                base_url=sb.base_url,
                profile=profile,
            )
            async with running_job(spec, db_dsn) as job:
                await asyncio.sleep(2.0)
                await sb.event(
                    {
                        "type": "template_status",
                        "template": "demo_promo",
                        "language": "en",
                        "event": "PAUSED",
                        "reason": "LOW_QUALITY",
                    }
                )
                await asyncio.sleep(1.0)
                assert (await campaign_state(db_dsn, "tpl"))[0] == "paused"
                settled = (await sb.stats())["accepted"]
                await asyncio.sleep(1.0)
                assert (await sb.stats())["accepted"] == settled  # nothing left after the pause
                assert 0 < settled < n
                code, _, err = await run_cli(db_dsn, "resume", "tpl")
                assert code == 4 and "PAUSED" in err  # still paused at Meta: refused
                await sb.event(
                    {
                        "type": "template_status",
                        "template": "demo_promo",
                        "language": "en",
                        "event": "REINSTATED",
                    }
                )

                async def reinstated() -> bool:
                    code, _, _ = await run_cli(db_dsn, "resume", "tpl")
                    return code == 0

                await _wait_for(reinstated, 10, poll_s=0.3)
                code, err = await finish(job, 60)
                assert code == 0, err[-2000:]
            stats = await sb.stats()
    assert stats["duplicate_sends"] == 0
    assert stats["accepted"] == n
    counts = await state_counts(db_dsn)
    assert sum(counts.values()) == n and "pending" not in counts


async def test_health_blocked_refuses_to_start(db_dsn: str, tmp_path: Path) -> None:
    await make_audience(db_dsn, "aud", 100)
    async with SandboxProcess(config={"webhooks": {"enabled": False}, "health": "BLOCKED"}) as sb:
        profile = write_profile(tmp_path / "p.yaml")
        spec = write_spec(
            tmp_path / "s.yaml", name="hb", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            code, err = await finish(job, 30)
        stats = await sb.stats()
    assert code == 4
    assert "campaign_refused_health" in err
    assert stats["accepted"] == 0
    state, reason = await campaign_state(db_dsn, "hb")
    assert state == "paused" and reason is not None and "BLOCKED" in reason


async def test_send_window_across_three_time_zones(db_dsn: str, tmp_path: Path) -> None:
    """09:00-20:00 in the recipient's zone, at 12:00 UTC (fake clock, a future day so the
    deferred rows stay not-yet-due for the database): Berlin (13:00) goes now; New York
    (07:00) waits until 14:00 UTC; Tokyo (21:00) until 00:00 UTC the next day."""
    from engine.db.pool import connect

    conn = await connect(db_dsn)
    try:
        aud = await conn.fetchval("INSERT INTO audiences (name) VALUES ('tz') RETURNING id")
        phones = ["+4915123456789", "+12125550123", "+81312345678"]
        for p in phones:
            await conn.execute(
                "INSERT INTO recipients (audience_id, phone) VALUES ($1, $2)", aud, p
            )
        await conn.execute("INSERT INTO portfolios (name) VALUES ('default')")
        await conn.execute(
            "INSERT INTO channels (name, portfolio, base_url) VALUES ('main', 'default', 'x')"
        )
        cid = await conn.fetchval(
            "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id, template_name,"
            " template_language) VALUES ('w', '{}', 'h', 'main', $1, 't', 'en') RETURNING id",
            aud,
        )
        await conn.execute(
            "INSERT INTO messages (campaign_id, recipient_id, phone)"
            " SELECT $1, id, phone FROM recipients WHERE audience_id = $2",
            cid,
            aud,
        )
    finally:
        await conn.close()
    from datetime import time as dtime

    window = build_window(
        WindowSpec(
            from_time=dtime(9), to_time=dtime(20), timezone="recipient", fallback_timezone="UTC"
        )
    )
    fake_now = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    pool = await create_pool(db_dsn, min_size=1, max_size=2)
    queue: asyncio.Queue = asyncio.Queue(maxsize=100)
    producer = Producer(
        pool=pool,
        campaign_id=cid,
        token=uuid.uuid4(),
        queue=queue,
        batch=10,
        budget_gate=BudgetGate(portfolio="default", profile_limit=None),
        window=window,
        clock=lambda: fake_now,
    )
    task = asyncio.create_task(producer.run())
    try:
        await _wait_for(lambda: _deferred_or_crashed(producer, task), 10, poll_s=0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert [queue.get_nowait().phone for _ in range(queue.qsize())] == ["+4915123456789"]
    rows = await fetch(
        db_dsn,
        "SELECT phone, state, attempts, retry_at FROM messages WHERE phone <> $1 ORDER BY phone",
        "+4915123456789",
    )
    by_phone = {r["phone"]: r for r in rows}
    assert by_phone["+12125550123"]["retry_at"] == datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    assert by_phone["+81312345678"]["retry_at"] == datetime(2030, 1, 16, 0, 0, tzinfo=UTC)
    assert all(r["state"] == "pending" and r["attempts"] == 0 for r in rows)


async def _deferred_or_crashed(producer: Producer, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises what killed the producer
    return producer.deferred == 2


async def test_circuit_breaker_stops_hammering_a_failing_api(db_dsn: str, tmp_path: Path) -> None:
    await make_audience(db_dsn, "aud", 5000)
    sandbox = {"webhooks": {"enabled": False}, "faults": {"error_5xx_ratio": 1.0}}
    async with SandboxProcess(config=sandbox, cpu=1) as sb:
        profile = write_profile(
            tmp_path / "p.yaml",
            rate_per_s=1000,
            burst=10,
            concurrency=16,
            circuit={"failures": 10, "open_s": 1.5},
        )
        spec = write_spec(
            tmp_path / "s.yaml", name="cb", audience="aud", base_url=sb.base_url, profile=profile
        )
        async with running_job(spec, db_dsn) as job:
            await asyncio.sleep(4.0)
            os.kill(job.pid, signal.SIGTERM)
            code, err = await finish(job, 30)
        stats = await sb.stats()
    assert code == 0, err[-2000:]
    assert "circuit_open" in err
    # Without the breaker ~4,000 requests would have gone out in 4 s at 1,000/s; with it,
    # a burst of at most `concurrency` per open period plus one probe per period.
    assert stats["requests"] < 500


def _on_channel(spec: Path, channel: str) -> Path:
    """The same spec sending from another channel (number) of the same portfolio."""
    import yaml

    data = yaml.safe_load(spec.read_text())
    data["channel"]["name"] = channel
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


async def test_account_restriction_holds_every_campaign_of_the_portfolio(
    db_dsn: str, tmp_path: Path
) -> None:
    """Two jobs on two numbers of one portfolio; an ``account_update`` restriction pauses
    both within a second; a third campaign is refused at start; `resume` lifts the hold."""
    n = 1500
    await make_audience(db_dsn, "a1", n)
    await make_audience(db_dsn, "a2", n, start=n)
    await make_audience(db_dsn, "a3", 10, start=2 * n)
    async with running_receiver(db_dsn, HOOKS) as receiver:
        sandbox = _hooked(receiver.url)
        async with SandboxProcess(config=sandbox, cpu=1) as sb:
            profile = write_profile(tmp_path / "p.yaml", rate_per_s=200, burst=4)
            specs = {
                name: _on_channel(
                    write_spec(
                        tmp_path / f"{name}.yaml",
                        name=name,
                        audience=aud,
                        base_url=sb.base_url,
                        profile=profile,
                    ),
                    channel,
                )
                for name, aud, channel in (
                    ("one", "a1", "main"),
                    ("two", "a2", "second"),
                    ("three", "a3", "third"),
                )
            }
            async with (
                running_job(specs["one"], db_dsn) as one,
                running_job(specs["two"], db_dsn) as two,
            ):
                await asyncio.sleep(2.0)
                await sb.event({"type": "account_update", "event": "ACCOUNT_RESTRICTION"})
                await asyncio.sleep(1.0)
                for name in ("one", "two"):
                    state, reason = await campaign_state(db_dsn, name)
                    assert state == "paused" and reason is not None, (name, state)
                    assert reason.startswith("account ACCOUNT_RESTRICTION"), reason
                settled = (await sb.stats())["accepted"]
                await asyncio.sleep(1.0)
                assert (await sb.stats())["accepted"] == settled  # both stopped
                assert 0 < settled < 2 * n

                code, out, _ = await run_cli(db_dsn, "status", "two")
                assert code == 0
                [row] = __import__("orjson").loads(out)["campaigns"]
                assert [h["scope"] for h in row["holds"]] == ["portfolio"]

                async with running_job(specs["three"], db_dsn) as three:
                    code, err = await finish(three, 60)
                assert code == 4 and "held (portfolio: account ACCOUNT_RESTRICTION" in err
                assert (await sb.stats())["accepted"] == settled

                code, out, err = await run_cli(db_dsn, "resume", "one")
                assert code == 0, err
                assert "holds_lifted" in out
                code, err = await finish(one, 60)
                assert code == 0, err[-2000:]
                assert (await campaign_state(db_dsn, "two"))[0] == "paused"  # not resumed
                code, _, err = await run_cli(db_dsn, "resume", "two")
                assert code == 0, err
                code, err = await finish(two, 60)
                assert code == 0, err[-2000:]
            stats = await sb.stats()
    assert stats["duplicate_sends"] == 0
    assert stats["accepted"] == 2 * n
    assert (await campaign_state(db_dsn, "one"))[0] == "completed"
    assert (await campaign_state(db_dsn, "two"))[0] == "completed"


async def test_131048_failures_pause_the_number(db_dsn: str, tmp_path: Path) -> None:
    """The sandbox's portfolio tier is 250 but the profile says unlimited: sends beyond the
    tier fail asynchronously with 131048. Five of them hold the channel and pause the
    campaign long before the list is burnt; a tier webhook and `resume` finish it."""
    n = 1000
    await make_audience(db_dsn, "aud", n)
    async with running_receiver(db_dsn, HOOKS) as receiver:
        sandbox = {
            **_hooked(receiver.url),
            "accounts": {"portfolios": {"default": {"tier": "TIER_250"}}},
        }
        async with SandboxProcess(config=sandbox, cpu=1) as sb:
            profile = write_profile(tmp_path / "p.yaml", rate_per_s=200, burst=4)
            spec = write_spec(
                tmp_path / "s.yaml", name="spam", audience="aud", base_url=sb.base_url,
                profile=profile,
            )  # fmt: skip
            async with running_job(spec, db_dsn) as job:

                async def paused() -> bool:
                    rows = await fetch(db_dsn, "SELECT state FROM campaigns WHERE name = 'spam'")
                    return bool(rows) and rows[0]["state"] == "paused"

                await _wait_for(paused, 30)
                _, reason = await campaign_state(db_dsn, "spam")
                # Five or more: a webhook batch can carry several failures at once.
                found = re.fullmatch(r"channel 'main': (\d+) x 131048 within 60s", reason or "")
                assert found is not None and int(found[1]) >= 5, reason
                await asyncio.sleep(1.0)
                stopped_at = (await sb.stats())["accepted"]
                # 250 within the tier plus what was under way while the failures came back
                assert 250 < stopped_at < 600
                await sb.event(
                    {"type": "phone_number_quality", "event": "UPGRADE", "limit": "TIER_UNLIMITED"}
                )
                await asyncio.sleep(1.0)
                code, _, err = await run_cli(db_dsn, "resume", "spam")
                assert code == 0, err
                code, err = await finish(job, 60)
                assert code == 0, err[-2000:]
            stats = await sb.stats()
    assert stats["duplicate_sends"] == 0
    assert stats["accepted"] == n
    counts = await state_counts(db_dsn)
    assert sum(counts.values()) == n and "pending" not in counts


async def test_a_timed_hold_is_waited_out_and_resumes_by_itself(
    db_dsn: str, tmp_path: Path
) -> None:
    """A timed portfolio hold (what 131057 maintenance places, here written as another job
    would write it) stops the running job within a tick; it resumes alone when it ends."""
    n = 1500
    await make_audience(db_dsn, "aud", n)
    async with SandboxProcess(config={"webhooks": {"enabled": False}}, cpu=1) as sb:
        profile = write_profile(tmp_path / "p.yaml", rate_per_s=300, burst=6)
        spec = write_spec(
            tmp_path / "s.yaml", name="timed", audience="aud", base_url=sb.base_url,
            profile=profile,
        )  # fmt: skip
        async with running_job(spec, db_dsn) as job:

            async def sending() -> bool:
                return (await sb.stats())["accepted"] > 100

            await _wait_for(sending, 30)
            await fetch(
                db_dsn,
                "INSERT INTO holds (scope, portfolio, reason, source, until) VALUES"
                " ('portfolio', 'default', '131057 (channel): maintenance', 'send_error',"
                " now() + interval '2.5 seconds') RETURNING id",
            )
            await asyncio.sleep(0.6)
            state, reason = await campaign_state(db_dsn, "timed")
            assert state == "throttled", (state, reason)
            assert reason == "131057 (channel): maintenance (held portfolio, resumes by itself)"
            held_at = (await sb.stats())["accepted"]
            await asyncio.sleep(1.0)
            assert (await sb.stats())["accepted"] == held_at  # nothing sent while held
            code, err = await finish(job, 60)
        stats = await sb.stats()
    assert code == 0, err[-2000:]
    assert "campaign_held" in err and "campaign_hold_ended" in err
    assert stats["accepted"] == n and stats["duplicate_sends"] == 0
    assert await campaign_state(db_dsn, "timed") == ("completed", None)
