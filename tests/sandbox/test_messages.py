"""``POST /messages`` over real HTTP: auth, validation, limits, response shapes."""

from __future__ import annotations

from typing import Any

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from tests.sandbox.conftest import FakeClock, assert_golden, hello, promo, send
from tests.sandbox.test_validate import CASES

NO_HOOKS: dict[str, Any] = {"webhooks": {"enabled": False}}


async def test_accepted_response_shape() -> None:
    async with running_sandbox() as sb:
        status, body = await send(sb, promo(to="+4915112345678", callback="c12:m3456"))
        assert status == 200
        assert_golden("accepted", body)
        assert body["contacts"] == [{"input": "+4915112345678", "wa_id": "4915112345678"}]
        status, body = await send(sb, hello(), key="any-other-non-empty-key")
        assert status == 200 and body["messages"][0]["message_status"] == "accepted"


async def test_missing_or_unknown_key_is_401() -> None:
    config = sandbox_config_from_dict(
        {"accounts": {"accept_any_key": False, "keys": {"good": {"mps": 10}}}}
    )
    async with running_sandbox(config) as sb:
        status, body = await send(sb, hello(), key=None)
        assert status == 401
        assert_golden("error_401", body)
        status, body = await send(sb, hello(), key="")
        assert status == 401
        status, _ = await send(sb, hello(), key="wrong")
        assert status == 401
        status, _ = await send(sb, hello(), key="good")
        assert status == 200
        stats = await sb.stats()
    assert stats["requests"] == 4
    assert stats["accepted"] == 1
    assert stats["rejected_by_code"] == {"http_401": 3}


async def test_body_not_json_is_400_with_error_object() -> None:
    async with running_sandbox() as sb:
        status, body = await send(sb, b"{not json")
        assert status == 400
        assert_golden("error_not_json", body)


async def test_every_validation_rule_over_http() -> None:
    templates = [
        {"name": "hello_world", "language": "en_US", "category": "utility"},
        {
            "name": "demo_promo",
            "language": "en",
            "body_params": 2,
            "buttons": [{"type": "url", "params": 1}],
        },
        {
            "name": "order_update",
            "language": "en_US",
            "category": "utility",
            "header_format": "image",
            "body_params": 3,
            "buttons": [{"type": "quick_reply"}, {"type": "url", "params": 1}],
        },
    ]
    config = sandbox_config_from_dict({**NO_HOOKS, "templates": templates})
    async with running_sandbox(config) as sb:
        for case, body, code in CASES:
            status, answer = await send(sb, body)
            assert status == 400, case
            assert answer["error"]["code"] == code, (case, answer)
        status, answer = await send(sb, promo(name="x\ny"))
        assert_golden("error_132012", answer)
        status, answer = await send(sb, hello(to="12ab"))
        assert_golden("error_131009", answer)
        status, answer = await send(
            sb, {**hello(), "template": {"name": "nope", "language": {"code": "en"}}}
        )
        assert_golden("error_132001", answer)
        stats = await sb.stats()
    assert stats["accepted"] == 0
    assert sum(stats["rejected_by_code"].values()) == stats["requests"]


async def test_throughput_limit_per_key(clock: FakeClock) -> None:
    for http_status in (400, 429):
        config = sandbox_config_from_dict(
            {
                **NO_HOOKS,
                "accounts": {"keys": {"slow": {"mps": 5}, "other": {"mps": 5}}},
                "limits": {"throughput_status": http_status},
            }
        )
        async with running_sandbox(config, clock=clock) as sb:
            results = [await send(sb, hello(to=f"1555000{i:04d}"), key="slow") for i in range(8)]
            assert [s for s, _ in results] == [200] * 5 + [http_status] * 3
            assert results[-1][1]["error"]["code"] == 130429
            if http_status == 429:
                assert_golden("error_130429", results[-1][1])
            status, _ = await send(sb, hello(to="15559999999"), key="other")
            assert status == 200  # buckets are per key
            clock.advance(0.4)  # 2 tokens
            again = [await send(sb, hello(to=f"1555100{i:04d}"), key="slow") for i in range(3)]
            assert [s for s, _ in again] == [200, 200, http_status]
            stats = await sb.stats()
        assert stats["rejected_by_code"] == {"130429": 4}
        assert stats["max_rps_1s"] == {"slow": 7, "other": 1}


async def test_pair_rate_limit(clock: FakeClock) -> None:
    async with running_sandbox(sandbox_config_from_dict(NO_HOOKS), clock=clock) as sb:
        assert (await send(sb, hello(to="15550001111")))[0] == 200
        clock.advance(5.9)
        status, body = await send(sb, promo(to="15550001111"))  # another template: same pair
        assert status == 400 and body["error"]["code"] == 131056
        assert_golden("error_131056", body)
        assert (await send(sb, hello(to="15550002222")))[0] == 200
        assert (await send(sb, hello(to="15550001111"), key="k2"))[0] == 200  # other number
        clock.advance(0.1)
        assert (await send(sb, hello(to="15550001111")))[0] == 200
        stats = await sb.stats()
    assert stats["rejected_by_code"] == {"131056": 1}
    assert stats["duplicate_sends"] == 2


async def test_held_for_quality_assessment_fraction() -> None:
    config = sandbox_config_from_dict({**NO_HOOKS, "limits": {"held_ratio": 0.3}})
    async with running_sandbox(config, seed=11) as sb:
        held = 0
        for i in range(300):
            status, body = await send(sb, hello(to=f"1555200{i:04d}"))
            assert status == 200
            held += body["messages"][0]["message_status"] == "held_for_quality_assessment"
        stats = await sb.stats()
    assert 60 < held < 120
    assert stats["held"] == held and stats["accepted"] == 300


async def test_other_routes() -> None:
    async with running_sandbox() as sb:
        async with sb.session.get(
            sb.base_url + "/health_status", headers={"D360-API-KEY": "k"}
        ) as r:
            assert r.status == 200
            assert_golden("health_available", await r.json())
        async with sb.session.get(sb.base_url + "/health_status") as r:
            assert r.status == 401
        async with sb.session.get(
            sb.base_url + "/v1/configs/templates", headers={"D360-API-KEY": "k"}
        ) as r:
            assert r.status == 200
            assert_golden("templates", await r.json())
        status, _ = await sb.post_json("/v1/messages", hello(), api_key="k")
        assert status == 200
