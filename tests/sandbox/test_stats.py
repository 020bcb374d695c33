"""``/_sandbox/stats`` counters are exact, reset clears them, and seeds make runs repeat."""

from __future__ import annotations

from typing import Any

from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from tests.sandbox.conftest import FakeClock, Receiver, hello, promo, send
from tests.sandbox.test_webhooks import hooks


async def test_counters_are_exact(receiver: Receiver, clock: FakeClock) -> None:
    receiver.script = [500]  # the first webhook POST fails once
    config = sandbox_config_from_dict(
        {
            **hooks(receiver.url, {"read_ratio": 0.0}, batch_max=1),
            "accounts": {"keys": {"a": {"mps": 100}, "b": {"mps": 2}}},
        }
    )
    async with running_sandbox(config, clock=clock) as sb:
        for i in range(3):  # t = 0.0: three accepts on a
            assert (await send(sb, hello(to=f"1555000000{i}"), key="a"))[0] == 200
        clock.advance(0.5)
        for i in range(3, 5):  # t = 0.5: two more (window (-0.5, 0.5] holds 5)
            assert (await send(sb, hello(to=f"1555000000{i}"), key="a"))[0] == 200
        clock.advance(0.5)
        for i in range(5, 7):  # t = 1.0: window (0, 1] holds only 4
            assert (await send(sb, hello(to=f"1555000000{i}"), key="a"))[0] == 200
        clock.advance(10.0)
        # duplicates: same recipient + same template again (after the pair limit)
        assert (await send(sb, hello(to="15550000000"), key="a"))[0] == 200
        assert (await send(sb, hello(to="15550000001"), key="b"))[0] == 200
        # same recipient, another template: not a duplicate
        assert (await send(sb, promo(to="15550000002"), key="b"))[0] == 200
        assert (await send(sb, promo(to="15550000003"), key="b"))[0] == 400  # 130429 (b: 2 mps)
        assert (await send(sb, promo(to="15550000002"), key="a"))[0] == 200
        assert (await send(sb, promo(to="15550000002"), key="a"))[0] == 400  # 131056
        assert (await send(sb, promo(to="abc"), key="a"))[0] == 400  # 131009
        assert (await send(sb, hello(), key=None))[0] == 401
        await receiver.wait_for(lambda: len(receiver.posts) == 2 * 11 + 1)
        stats = await sb.wait_idle()

        assert stats["requests"] == 15
        assert stats["accepted"] == 11
        assert stats["rejected_by_code"] == {"130429": 1, "131056": 1, "131009": 1, "http_401": 1}
        assert stats["unique_recipients"] == 7
        assert stats["duplicate_sends"] == 3
        assert stats["max_rps_1s"] == {"a": 5, "b": 2}
        distinct = {(s["id"], s["status"]) for s in receiver.statuses()}
        assert len(distinct) == 22
        assert stats["statuses_emitted"] == {"sent": 11, "delivered": 11, "read": 0, "failed": 0}
        assert stats["webhooks_sent"] == 22
        assert stats["webhook_statuses_sent"] == 22
        assert stats["webhook_attempts_failed"] == 1
        assert stats["webhook_drops"] == 0 and stats["webhooks_pending"] == 0

        await sb.reset()
        stats = await sb.stats()
        assert stats["requests"] == 0 and stats["accepted"] == 0
        assert stats["rejected_by_code"] == {} and stats["max_rps_1s"] == {}
        assert stats["unique_recipients"] == 0 and stats["duplicate_sends"] == 0
        assert stats["statuses_emitted"] == {"sent": 0, "delivered": 0, "read": 0, "failed": 0}
        assert stats["webhooks_sent"] == 0
        # limits are fresh too: b's bucket is full and a's pair history is gone
        assert (await send(sb, promo(to="15550000002"), key="a"))[0] == 200
        assert (await send(sb, promo(to="15550000005"), key="b"))[0] == 200
        assert (await send(sb, promo(to="15550000006"), key="b"))[0] == 200


async def _scenario(seed: int, receiver: Receiver) -> tuple[list[Any], set[tuple[Any, ...]]]:
    config = sandbox_config_from_dict(
        {
            **hooks(
                receiver.url,
                {
                    "delivered_ratio": 0.7,
                    "read_ratio": 0.5,
                    "duplicate_ratio": 0.2,
                    "reorder_ratio": 0.3,
                    "skip_delivered_ratio": 0.2,
                },
            ),
            "limits": {"held_ratio": 0.2, "held_drop_ratio": 0.3},
            "faults": {
                "error_5xx_ratio": 0.1,
                "gateway_429_ratio": 0.05,
                "recipients": {"undeliverable": [r"\d*7"]},
            },
        }
    )
    receiver.posts.clear()
    async with running_sandbox(config, seed=seed, clock=FakeClock()) as sb:
        answers = [
            await send(sb, promo(to=f"1555900{i:04d}", callback=f"c:{i}")) for i in range(60)
        ]
        await sb.wait_idle()
    statuses = {
        (
            s["id"],
            s["status"],
            s["biz_opaque_callback_data"],
            tuple(e["code"] for e in s.get("errors", ())),
        )
        for s in receiver.statuses()
    }
    return [(status, body.get("messages")) for status, body in answers], statuses


async def test_same_seed_same_outcomes(receiver: Receiver) -> None:
    first = await _scenario(5, receiver)
    again = await _scenario(5, receiver)
    other = await _scenario(6, receiver)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]
    kinds = {s[1] for s in first[1]}
    assert kinds == {"sent", "delivered", "read", "failed"}
