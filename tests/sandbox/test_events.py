"""``POST /_sandbox/events``: notification shapes and their effects on the sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from tests.sandbox.conftest import Receiver, assert_golden, hello, promo, send
from tests.sandbox.test_webhooks import hooks

KEYS: dict[str, Any] = {
    "accounts": {
        "keys": {
            "k1": {"phone_number": "15550783881", "phone_number_id": "106540352242922"},
        },
        "portfolios": {"default": {"waba_id": "102290129340398"}},
    }
}


async def test_event_shapes(receiver: Receiver) -> None:
    config = sandbox_config_from_dict({**hooks(receiver.url), **KEYS})
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "event_inbound_text",
            {"type": "inbound_text", "from": "+16505551234", "text": "STOP", "name": "Sheena"},
        ),
        (
            "event_inbound_button",
            {
                "type": "inbound_button",
                "from": "16505551234",
                "payload": "STOP_PROMO",
                "text": "Stop promotions",
                "context_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI=",
            },
        ),
        (
            "event_user_preferences",
            {"type": "user_preferences", "wa_id": "16505551234", "value": "stop"},
        ),
        (
            "event_template_status",
            {
                "type": "template_status",
                "template": "demo_promo",
                "event": "PAUSED",
                "reason": "LOW_QUALITY",
            },
        ),
        (
            "event_phone_quality",
            {"type": "phone_number_quality", "event": "DOWNGRADE", "limit": "TIER_2K"},
        ),
        (
            "event_account_update",
            {
                "type": "account_update",
                "event": "ACCOUNT_RESTRICTION",
                "restriction_info": [
                    {
                        "restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                        "expiration": 1750000000,
                    }
                ],
            },
        ),
    ]
    async with running_sandbox(config) as sb:
        for i, (golden, event) in enumerate(events, start=1):
            answer = await sb.event({**event, "api_key": "k1"})
            assert answer["queued"] is True
            await receiver.wait_for(lambda n=i: len(receiver.posts) == n)
            assert receiver.accepted_posts()[-1] == answer["payload"]
            assert_golden(golden, answer["payload"])
        stats = await sb.wait_idle()
    assert stats["events_emitted"] == {
        "inbound_text": 1,
        "inbound_button": 1,
        "user_preferences": 1,
        "template_status": 1,
        "phone_number_quality_update": 1,
        "account_update": 1,
    }
    assert stats["webhooks_sent"] == 6


async def test_template_status_changes_sends() -> None:
    async with running_sandbox(sandbox_config_from_dict({"webhooks": {"enabled": False}})) as sb:
        for event, code in (("PAUSED", 132015), ("DISABLED", 132016), ("REINSTATED", None)):
            answer = await sb.event(
                {"type": "template_status", "template": "demo_promo", "event": event}
            )
            assert answer["queued"] is False  # webhooks disabled
            status, body = await send(sb, promo(to=f"1555800{len(event):04d}"))
            if code is None:
                assert status == 200
            else:
                assert status == 400 and body["error"]["code"] == code
        assert (await send(sb, hello()))[0] == 200  # other templates unaffected


async def test_user_preferences_stop_and_resume(receiver: Receiver) -> None:
    async with running_sandbox(
        sandbox_config_from_dict(hooks(receiver.url, {"delivered_ratio": 0.0}))
    ) as sb:
        await sb.event({"type": "user_preferences", "wa_id": "15550001234", "value": "stop"})
        await send(sb, promo(to="15550001234", callback="m1"))
        await send(sb, hello(to="15550001234", callback="u1"), key="k2")
        await sb.wait_idle()
        await sb.event({"type": "user_preferences", "wa_id": "15550001234", "value": "resume"})
        await send(sb, promo(to="15550001234", callback="m2"), key="k3")
        stats = await sb.wait_idle()
    outcome = {s["biz_opaque_callback_data"]: s["status"] for s in receiver.statuses()}
    assert outcome == {"m1": "failed", "u1": "sent", "m2": "sent"}
    assert stats["failed_by_code"] == {"131050": 1}


async def test_health_and_tier_events() -> None:
    config = sandbox_config_from_dict({"webhooks": {"enabled": False}})
    async with running_sandbox(config) as sb:
        await sb.event({"type": "health_status", "value": "BLOCKED"})
        async with sb.session.get(
            sb.base_url + "/health_status", headers={"D360-API-KEY": "k"}
        ) as r:
            assert_golden("health_blocked", await r.json())
        await sb.event({"type": "phone_number_quality", "event": "DOWNGRADE", "limit": "TIER_250"})
        assert sb.state.accounts.portfolios["default"].tier.limit == 250
        await sb.reset()
        assert sb.state.accounts.portfolios["default"].tier.limit is None
        async with sb.session.get(
            sb.base_url + "/health_status", headers={"D360-API-KEY": "k"}
        ) as r:
            body = await r.json()
            assert body["health_status"]["can_send_message"] == "AVAILABLE"


async def test_throughput_upgrade_puts_the_number_in_maintenance() -> None:
    """Reference §2: the upgrade to 1,000 mps makes the number unusable for up to a minute
    (131057); other numbers keep sending; the tier, when given, is applied too."""
    async with running_sandbox(sandbox_config_from_dict({"webhooks": {"enabled": False}})) as sb:
        await sb.event(
            {
                "type": "phone_number_quality",
                "event": "THROUGHPUT_UPGRADE",
                "limit": "TIER_UNLIMITED",
                "maintenance_s": 0.5,
                "api_key": "k",
            }
        )
        status, body = await send(sb, promo(to="15558000001"), key="k")
        assert status == 400 and body["error"]["code"] == 131057
        assert (await send(sb, promo(to="15558000002"), key="other"))[0] == 200
        await asyncio.sleep(0.6)
        assert (await send(sb, promo(to="15558000003"), key="k"))[0] == 200
        assert sb.state.accounts.portfolios["default"].tier.limit is None  # unlimited
        assert (await sb.stats())["rejected_by_code"] == {"131057": 1}


async def test_bad_events_are_400() -> None:
    async with running_sandbox() as sb:
        for bad in (
            {"type": "nope"},
            {"type": "inbound_text", "from": "abc", "text": "x"},
            {"type": "inbound_text", "from": "15550001111"},
            {"type": "user_preferences", "wa_id": "15550001111", "value": "maybe"},
            {"type": "template_status", "template": "unknown", "event": "PAUSED"},
            {"type": "template_status", "template": "demo_promo", "event": "SLEEPY"},
            {"type": "phone_number_quality", "event": "UPGRADE", "limit": "TIER_3"},
            {"type": "phone_number_quality", "event": "THROUGHPUT_UPGRADE", "maintenance_s": -1},
            {"type": "phone_number_quality", "event": "THROUGHPUT_UPGRADE", "maintenance_s": "1"},
            {"type": "health_status", "value": "GREEN"},
            {"type": "inbound_text", "from": "15550001111", "text": "x", "api_key": 5},
        ):
            status, body = await sb.post_json("/_sandbox/events", bad)
            assert status == 400, bad
            assert isinstance(body["error"], str)
        status, _ = await sb.post_json("/_sandbox/events", b"[")
        assert status == 400
