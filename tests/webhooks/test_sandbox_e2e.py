"""End to end with the sandbox: configure its webhook at our receiver, send through it,
and watch its Meta-shaped status webhooks land on the outbox rows (unknown rows settled
by callback data, statuses that outrun the recorded wamid applied later)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.commands.webhooks import webhooks_configure
from engine.sandbox.config import sandbox_config_from_dict
from engine.sandbox.testing import running_sandbox
from engine.webhooks.payload import format_callback
from engine.webhooks.receiver import running_receiver
from engine.webhooks.settings import ChannelAuth
from tests.webhooks.helpers import drained, eventually, seed_campaign, settings

EXAMPLE = Path(__file__).resolve().parents[2] / "campaigns" / "example-sandbox.yaml"
SECRET = "e2e-secret-value"
FAST = {
    "webhooks": {
        "lifecycle": {
            "delivered_ratio": 1.0,
            "read_ratio": 1.0,
            "sent_delay": {"p50_ms": 0, "p99_ms": 0},
            "delivered_delay": {"p50_ms": 5, "p99_ms": 20},
            "read_delay": {"p50_ms": 10, "p99_ms": 30},
        },
        "delivery": {"batch_window_ms": 2, "retry_initial_ms": 10, "retry_max_ms": 50},
    }
}


def promo(to: str, callback: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "biz_opaque_callback_data": callback,
        "template": {
            "name": "demo_promo",
            "language": {"policy": "deterministic", "code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "X1"}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "X1"}],
                },
            ],
        },
    }


@pytest.mark.slow
async def test_sandbox_statuses_settle_the_outbox(
    db_dsn: str, db: asyncpg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D360_API_KEY", "k1")
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    n = 30
    seed = await seed_campaign(
        db, channel="sandbox", name="e2e", recipients=n, message_state="in_flight", with_wamid=False
    )
    auth = {"sandbox": ChannelAuth(secret=SECRET)}
    async with (
        running_receiver(db_dsn, settings(channels=auth)) as receiver,
        running_sandbox(sandbox_config_from_dict(FAST)) as sb,
    ):
        spec = tmp_path / "spec.yaml"
        spec.write_text(EXAMPLE.read_text().replace("http://127.0.0.1:8360", sb.base_url))
        args = argparse.Namespace(
            channel="sandbox",
            url=f"{receiver.url}/webhooks/sandbox",
            spec=str(spec),
            allow_local=True,
        )
        assert await webhooks_configure(args) == 0
        wamids: dict[int, str] = {}
        for i, (mid, phone) in enumerate(zip(seed.message_ids, seed.phones, strict=True)):
            code, body = await sb.post_json(
                "/messages",
                promo(phone.lstrip("+"), format_callback(seed.campaign_id, mid)),
                api_key="k1",
            )
            assert code == 200, body
            wamids[mid] = body["messages"][0]["id"]
            if (
                i % 3 == 0
            ):  # the response was lost: the row is unknown, only callback data can settle it
                await db.execute("UPDATE messages SET state = 'unknown' WHERE id = $1", mid)
        for i, mid in enumerate(seed.message_ids):  # the recorder catches up (after some webhooks)
            if i % 3:
                await db.execute(
                    "UPDATE messages SET wamid = $2, state = 'accepted', accepted_at = now()"
                    " WHERE id = $1 AND wamid IS NULL",
                    mid,
                    wamids[mid],
                )

        async def all_read() -> bool:
            n_read = await db.fetchval(
                "SELECT count(*) FROM messages WHERE campaign_id = $1 AND status = 'read'",
                seed.campaign_id,
            )
            return bool(n_read == n) and await drained(db)

        await eventually(all_read, timeout_s=20)
        stats = await sb.wait_idle()
    rows = await db.fetch(
        "SELECT id, wamid, state, sent_at, delivered_at, read_at FROM messages ORDER BY id"
    )
    assert all(r["wamid"] == wamids[r["id"]] for r in rows)
    assert {r["state"] for r in rows} == {"accepted"}
    assert all(r["sent_at"] and r["delivered_at"] and r["read_at"] for r in rows)
    assert await db.fetchval("SELECT count(*) FROM pending_statuses") == 0
    assert stats["webhook_attempts_failed"] == 0
