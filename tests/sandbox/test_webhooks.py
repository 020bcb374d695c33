"""Webhook configuration and status emission over real HTTP (sandbox → local receiver)."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from tests.sandbox.conftest import (
    FAST_DELIVERY,
    FAST_LIFECYCLE,
    T0,
    FakeClock,
    Receiver,
    assert_golden,
    hello,
    promo,
    send,
)


def hooks(
    url: str | None = None, lifecycle: dict[str, Any] | None = None, **delivery: Any
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "lifecycle": {**FAST_LIFECYCLE, **(lifecycle or {})},
        "delivery": {**FAST_DELIVERY, **delivery},
    }
    if url is not None:
        section["default_url"] = url
    return {"webhooks": section}


async def test_webhook_config_rules() -> None:
    config = sandbox_config_from_dict({"webhooks": {"allow_loopback_ports": False}})
    async with running_sandbox(config) as sb:
        path = "/v1/configs/webhook"
        ok = {"url": "https://hooks.example.com/wa/1", "headers": {"X-Secret": "s3"}}
        status, body = await sb.post_json(path, ok, api_key="k1")
        assert (status, body) == (200, ok)
        async with sb.session.get(sb.base_url + path, headers={"D360-API-KEY": "k1"}) as resp:
            assert resp.status == 200
            assert_golden("webhook_config", await resp.json())
        async with sb.session.get(sb.base_url + path, headers={"D360-API-KEY": "k2"}) as resp:
            assert await resp.json() == {"url": None, "headers": {}}
        status, body = await sb.post_json(
            path, {"url": "https://my_hooks.example.com/x"}, api_key="k1"
        )
        assert status == 400
        assert_golden("error_webhook_underscore", body)
        for bad in (
            {"url": "https://hooks.example.com:8443/x"},
            {"url": "http://127.0.0.1:9000/x"},  # loopback ports not allowed by this config
            {"url": "ftp://hooks.example.com/x"},
            {"url": ""},
            {"url": "https://hooks.example.com/x", "headers": {"X": 1}},
            {"url": "https://hooks.example.com/x", "headers": ["X"]},
            ["not", "an", "object"],
        ):
            status, body = await sb.post_json(path, bad, api_key="k1")
            assert status == 400, bad
            assert body["meta"]["success"] is False
        status, _ = await sb.post_json(path, b"nope", api_key="k1")
        assert status == 400
        status, _ = await sb.post_json(path, ok, api_key=None)
        assert status == 401
        # the stored config is unchanged by refused updates
        async with sb.session.get(sb.base_url + path, headers={"D360-API-KEY": "k1"}) as resp:
            assert await resp.json() == ok
    async with running_sandbox() as sb:  # default: loopback ports allowed for local receivers
        status, _ = await sb.post_json(path, {"url": "http://127.0.0.1:9000/x"}, api_key="k1")
        assert status == 200
        status, _ = await sb.post_json(path, {"url": "http://localhost:9000/x"}, api_key="k1")
        assert status == 200
        status, _ = await sb.post_json(path, {"url": "http://example.com:9000/x"}, api_key="k1")
        assert status == 400


async def test_statuses_shape_headers_and_echo(receiver: Receiver, clock: FakeClock) -> None:
    config = sandbox_config_from_dict(
        {
            "accounts": {
                "portfolios": {"acme": {"tier": "unlimited", "waba_id": "102290129340398"}},
                "keys": {
                    "k1": {
                        "portfolio": "acme",
                        "phone_number": "15550783881",
                        "phone_number_id": "106540352242922",
                    }
                },
            },
            **hooks(),
        }
    )
    async with running_sandbox(config, clock=clock) as sb:
        status, _ = await sb.post_json(
            "/v1/configs/webhook",
            {"url": receiver.url, "headers": {"X-Webhook-Secret": "s3"}},
            api_key="k1",
        )
        assert status == 200
        status, body = await send(sb, promo(to="16505551234", callback="c12:m3456"))
        assert status == 200
        wamid = body["messages"][0]["id"]
        await receiver.wait_for(lambda: len(receiver.statuses()) == 3)
        stats = await sb.wait_idle()
    assert all(h.get("X-Webhook-Secret") == "s3" for h, _ in receiver.posts)
    assert all(h.get("Content-Type") == "application/json" for h, _ in receiver.posts)
    by_status = {s["status"]: s for s in receiver.statuses()}
    assert set(by_status) == {"sent", "delivered", "read"}
    assert {s["id"] for s in by_status.values()} == {wamid}
    assert all(s["timestamp"] == str(int(T0)) for s in by_status.values())
    first = receiver.accepted_posts()[0]
    envelope = {
        **first,
        "entry": [{**first["entry"][0], "changes": [first["entry"][0]["changes"][0]]}],
    }
    envelope["entry"][0]["changes"][0]["value"]["statuses"] = [by_status["sent"]]
    assert_golden("webhook_status_sent", envelope)
    assert_golden("status_delivered", by_status["delivered"])
    assert_golden("status_read", by_status["read"])
    assert stats["statuses_emitted"] == {"sent": 1, "delivered": 1, "read": 1, "failed": 0}
    assert stats["webhook_statuses_sent"] == 3


async def test_failed_status_shape(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(
        {**hooks(receiver.url), "faults": {"recipients": {"undeliverable": [r"\d+0000"]}}}
    )
    async with running_sandbox(config) as sb:
        status, _ = await send(sb, hello(to="15550000", callback="c1:m9"))
        assert status == 200
        await receiver.wait_for(lambda: len(receiver.statuses()) == 1)
        stats = await sb.wait_idle()
    assert_golden("status_failed_131026", receiver.statuses()[0])
    assert stats["failed_by_code"] == {"131026": 1}


async def test_batches_respect_batch_max(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(hooks(receiver.url, batch_max=4, batch_window_ms=30))
    async with running_sandbox(config) as sb:
        results = await asyncio.gather(*(send(sb, hello(to=f"1555300{i:04d}")) for i in range(20)))
        assert all(status == 200 for status, _ in results)
        await receiver.wait_for(lambda: len(receiver.statuses()) == 60)
        stats = await sb.wait_idle()
    sizes = [
        len(body["entry"][0]["changes"][0]["value"]["statuses"])
        for body in receiver.accepted_posts()
    ]
    assert max(sizes) <= 4 and max(sizes) > 1
    assert stats["webhooks_sent"] == len(sizes) < 60


async def test_duplicates_reordering_and_skipped_delivered(receiver: Receiver) -> None:
    config = sandbox_config_from_dict(hooks(receiver.url, {"duplicate_ratio": 1.0}))
    async with running_sandbox(config) as sb:
        await send(sb, hello())
        await receiver.wait_for(lambda: len(receiver.statuses()) == 6)
        stats = await sb.wait_idle()
    assert (
        sorted(s["status"] for s in receiver.statuses())
        == ["delivered"] * 2 + ["read"] * 2 + ["sent"] * 2
    )
    assert stats["statuses_emitted"] == {"sent": 1, "delivered": 1, "read": 1, "failed": 0}
    assert stats["webhook_statuses_sent"] == 6

    receiver.posts.clear()
    lifecycle = {
        "reorder_ratio": 1.0,
        "sent_delay": {"p50_ms": 5, "p99_ms": 5},
        "delivered_delay": {"p50_ms": 120, "p99_ms": 120},
        "read_delay": {"p50_ms": 120, "p99_ms": 120},
    }
    async with running_sandbox(sandbox_config_from_dict(hooks(receiver.url, lifecycle))) as sb:
        await send(sb, hello())
        await receiver.wait_for(lambda: len(receiver.statuses()) == 3)
    assert [s["status"] for s in receiver.statuses()] == ["sent", "read", "delivered"]

    receiver.posts.clear()
    config = sandbox_config_from_dict(hooks(receiver.url, {"skip_delivered_ratio": 1.0}))
    async with running_sandbox(config) as sb:
        await send(sb, hello())
        await receiver.wait_for(lambda: len(receiver.statuses()) == 2)
        stats = await sb.wait_idle()
    read = next(s for s in receiver.statuses() if s["status"] == "read")
    assert sorted(s["status"] for s in receiver.statuses()) == ["read", "sent"]
    assert read["pricing"]["category"] == "utility"  # priced when delivered is skipped
    assert stats["statuses_emitted"] == {"sent": 1, "delivered": 0, "read": 1, "failed": 0}


async def test_retries_until_200(receiver: Receiver) -> None:
    receiver.script = [500, 503, 404]
    config = sandbox_config_from_dict(hooks(receiver.url, {"delivered_ratio": 0.0}))
    async with running_sandbox(config) as sb:
        await send(sb, hello(callback="c1:m1"))
        await receiver.wait_for(lambda: len(receiver.posts) == 4)
        stats = await sb.wait_idle()
    assert [
        b["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
        for b in receiver.accepted_posts()
    ] == ["sent"] * 4
    assert stats["webhook_attempts_failed"] == 3
    assert stats["webhooks_sent"] == 1
    assert stats["statuses_emitted"]["sent"] == 1  # retries are not new statuses


async def test_timeouts_are_retried(receiver: Receiver) -> None:
    receiver.script = [1.5]  # the first POST stalls far beyond the sandbox's timeout
    config = sandbox_config_from_dict(
        hooks(receiver.url, {"delivered_ratio": 0.0}, request_timeout_ms=300)
    )
    async with running_sandbox(config) as sb:
        await send(sb, hello())
        stats = await sb.wait_idle()
    assert stats["webhook_attempts_failed"] == 1
    assert stats["webhooks_sent"] == 1


async def test_retry_horizon_is_bounded(receiver: Receiver) -> None:
    receiver.script = [500] * 1000
    config = sandbox_config_from_dict(
        hooks(receiver.url, {"delivered_ratio": 0.0}, retry_horizon_s=0.15, retry_max_ms=20)
    )
    async with running_sandbox(config) as sb:
        await send(sb, hello())
        stats = await sb.wait_idle()
    assert stats["webhooks_abandoned"] == 1
    assert stats["webhooks_sent"] == 0
    assert stats["webhook_attempts_failed"] == len(receiver.posts) >= 3


async def test_full_queue_drops_and_never_blocks_sends(receiver: Receiver) -> None:
    receiver.script = [2.0] * 5  # the receiver stalls every POST
    config = sandbox_config_from_dict(hooks(receiver.url, queue_size=7))
    async with running_sandbox(config) as sb:
        answers = [await send(sb, hello(to=f"1555400{i:04d}")) for i in range(10)]
        assert all(status == 200 for status, _ in answers)
        assert receiver.posts == []  # every send answered while no webhook got through
        stats = await sb.stats()
        assert stats["webhook_drops"] == 3 * 8  # 2 messages fit (6 statuses), 8 dropped
        assert stats["webhooks_pending"] == 6
        await sb.reset()
        stats = await sb.stats()
    assert stats["webhooks_pending"] == 0 and stats["webhook_drops"] == 0


async def test_unrouted_and_disabled() -> None:
    async with running_sandbox(sandbox_config_from_dict(hooks())) as sb:
        await send(sb, hello())
        stats = await sb.wait_idle()
    assert stats["webhooks_unrouted"] == 3 and stats["webhooks_sent"] == 0
    async with running_sandbox(sandbox_config_from_dict({"webhooks": {"enabled": False}})) as sb:
        await send(sb, hello())
        stats = await sb.stats()
    assert stats["webhooks_pending"] == 0 and stats["statuses_emitted"]["sent"] == 0


async def test_signature_header(receiver: Receiver) -> None:
    import hashlib
    import hmac

    data = hooks(receiver.url, {"delivered_ratio": 0.0})
    data["webhooks"]["signing_secret"] = "psst"
    async with running_sandbox(sandbox_config_from_dict(data)) as sb:
        await send(sb, hello())
        await sb.wait_idle()
    signature = receiver.posts[0][0]["x-360dialog-signature"]
    assert signature == hmac.new(b"psst", receiver.raw[0], hashlib.sha256).hexdigest()
