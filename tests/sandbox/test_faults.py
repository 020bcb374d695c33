"""Injected faults and asynchronous failures over real HTTP."""

from __future__ import annotations

import statistics

import aiohttp
import orjson
import pytest

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from tests.sandbox.conftest import FakeClock, Receiver, assert_golden, hello, promo, send
from tests.sandbox.test_webhooks import hooks


@pytest.mark.parametrize(
    ("ratio", "status", "key", "golden"),
    [
        ("gateway_429_ratio", 429, "http_429", "error_gateway_429"),
        ("gateway_503_ratio", 503, "http_503", "error_gateway_503"),
        ("error_5xx_ratio", 500, "131000", "error_500"),
    ],
)
async def test_gateway_faults(ratio: str, status: int, key: str, golden: str) -> None:
    config = sandbox_config_from_dict({"faults": {ratio: 1.0}})
    async with running_sandbox(config) as sb:
        got, body = await send(sb, hello())
        assert got == status
        assert_golden(golden, body)
        stats = await sb.stats()
    assert stats["rejected_by_code"] == {key: 1}
    assert stats["accepted"] == 0 and stats["webhooks_pending"] == 0


async def test_fault_mix_follows_ratios_and_seed() -> None:
    config = sandbox_config_from_dict(
        {
            "webhooks": {"enabled": False},
            "faults": {"gateway_429_ratio": 0.1, "gateway_503_ratio": 0.1, "error_5xx_ratio": 0.2},
        }
    )
    runs = []
    for _ in range(2):
        async with running_sandbox(config, seed=42) as sb:
            codes = [(await send(sb, hello(to=f"1555500{i:04d}")))[0] for i in range(400)]
            runs.append(codes)
    assert runs[0] == runs[1]  # same seed, same requests: same faults
    counts = {s: runs[0].count(s) for s in (200, 429, 503, 500)}
    assert 20 < counts[429] < 60 and 20 < counts[503] < 60 and 55 < counts[500] < 105
    assert counts[200] == 400 - counts[429] - counts[503] - counts[500]


async def test_latency_distribution_is_applied() -> None:
    config = sandbox_config_from_dict(
        {"webhooks": {"enabled": False}, "faults": {"latency": {"p50_ms": 20, "p99_ms": 200}}}
    )
    async with running_sandbox(config, seed=3) as sb:
        status, _ = await send(sb, hello())  # answered after its delay
        assert status == 200
        gateway = sb.state.gateway
        channel = sb.state.accounts.resolve("lat", 0.0)
        assert channel is not None
        delays = sorted(
            gateway.decide(channel, orjson.dumps(hello(to=f"1555600{i:04d}"))).delay_s * 1000
            for i in range(4000)
        )
    assert 17 < statistics.median(delays) < 23
    assert 160 < delays[int(0.99 * len(delays))] < 250


async def test_hang_never_answers_and_is_not_accepted(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(
        {**hooks(receiver.url), "faults": {"hang_ratio": 1.0, "hang_s": 0.2}}
    )
    async with running_sandbox(config) as sb:
        with pytest.raises(aiohttp.ClientError):
            await send(sb, hello())
        stats = await sb.wait_idle()
    assert stats["hangs"] == 1 and stats["accepted"] == 0 and stats["rejected_by_code"] == {}
    assert receiver.posts == []


async def test_reset_after_accept_still_sends_webhooks(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(
        {**hooks(receiver.url), "faults": {"reset_after_accept_ratio": 1.0}}
    )
    async with running_sandbox(config) as sb:
        with pytest.raises(aiohttp.ClientOSError):
            await send(sb, promo(callback="c7:m1"))
        await receiver.wait_for(lambda: len(receiver.statuses()) == 3)
        stats = await sb.wait_idle()
    assert stats["accepted"] == 1 and stats["resets_after_accept"] == 1
    assert {s["biz_opaque_callback_data"] for s in receiver.statuses()} == {"c7:m1"}


async def test_recipient_patterns(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(
        {
            **hooks(receiver.url),
            "faults": {
                "recipients": {
                    "undeliverable": [r"\d*01"],
                    "opted_out": [r"\d*02"],
                    "capped": [r"\d*03", r"4917\d+"],
                }
            },
        }
    )
    async with running_sandbox(config) as sb:
        for to in ("15550000001", "15550000002", "15550000003", "491700000000", "15550000004"):
            assert (await send(sb, promo(to=to, callback=to)))[0] == 200
        # opt-out and cap apply to marketing only: the utility template goes out
        for to in ("15550000002", "15550000003"):
            assert (await send(sb, hello(to=to, callback="u" + to), key="k2"))[0] == 200
        await receiver.wait_for(lambda: len(receiver.statuses()) == 4 + 3 + 6)
        stats = await sb.wait_idle()
    failed = {
        s["biz_opaque_callback_data"]: s["errors"][0]["code"]
        for s in receiver.statuses()
        if s["status"] == "failed"
    }
    assert failed == {
        "15550000001": 131026,
        "15550000002": 131050,
        "15550000003": 131049,
        "491700000000": 131049,
    }
    assert stats["failed_by_code"] == {"131026": 1, "131050": 1, "131049": 2}
    statuses = [s for s in receiver.statuses() if s["status"] == "failed"]
    assert_golden(
        "status_failed_131050", next(s for s in statuses if s["errors"][0]["code"] == 131050)
    )


async def test_tier_limit_is_per_portfolio_and_rolls_over(
    receiver: Receiver, clock: FakeClock
) -> None:
    config = sandbox_config_from_dict(
        {
            **hooks(receiver.url, {"delivered_ratio": 0.0}),
            "accounts": {
                "portfolios": {"small": {"tier": 250}, "big": {"tier": "unlimited"}},
                "keys": {
                    "a": {"portfolio": "small"},
                    "b": {"portfolio": "small"},
                    "c": {"portfolio": "big"},
                },
            },
        }
    )
    async with running_sandbox(config, clock=clock) as sb:
        for i in range(200):
            assert (await send(sb, hello(to=f"1555700{i:04d}"), key="a"))[0] == 200
        for i in range(200, 251):
            assert (await send(sb, hello(to=f"1555700{i:04d}"), key="b"))[0] == 200
        # already counted recipients still go out; other portfolios are unaffected
        assert (await send(sb, hello(to="15557000000"), key="b"))[0] == 200
        assert (await send(sb, hello(to="15557009999"), key="c"))[0] == 200
        stats = await sb.wait_idle()
        assert stats["failed_by_code"] == {"131048": 1}
        assert stats["statuses_emitted"]["sent"] == 252
        failed = [s for s in receiver.statuses() if s["status"] == "failed"]
        assert [s["recipient_id"] for s in failed] == ["15557000250"]
        clock.advance(86_400.0)  # the rolling window frees everyone
        assert (await send(sb, hello(to="15557000250"), key="b"))[0] == 200
        stats = await sb.wait_idle()
    assert stats["failed_by_code"] == {"131048": 1}
    assert sb.state.accounts.portfolios["small"].tier.count(clock()) == 1


async def test_held_and_dropped(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(
        {**hooks(receiver.url), "limits": {"held_ratio": 1.0, "held_drop_ratio": 1.0}}
    )
    async with running_sandbox(config) as sb:
        _, body = await send(sb, hello(callback="h1"))
        assert body["messages"][0]["message_status"] == "held_for_quality_assessment"
        stats = await sb.wait_idle()
    assert [s["errors"][0]["code"] for s in receiver.statuses()] == [132015]
    assert stats["held"] == 1 and stats["failed_by_code"] == {"132015": 1}


def test_fault_ratios_must_fit() -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="sum > 1"):
        sandbox_config_from_dict({"faults": {"gateway_429_ratio": 0.6, "hang_ratio": 0.5}})
