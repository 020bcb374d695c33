"""Inbound opt-outs, user preferences, template and governance events, poison bodies."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest

from engine.db.webhooks import UNLIMITED_TIER
from engine.webhooks.receiver import RunningReceiver
from tests.webhooks.helpers import (
    CHANNEL,
    change,
    drained,
    envelope,
    eventually,
    headers,
    messages_change,
    seed_campaign,
    status,
    statuses_body,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


async def post(receiver: RunningReceiver, http: aiohttp.ClientSession, body: bytes) -> None:
    async with http.post(f"{receiver.url}/webhooks/{CHANNEL}", data=body, headers=headers()) as r:
        assert r.status == 200, await r.text()


async def settle(db: asyncpg.Connection) -> None:
    await eventually(lambda: drained(db))


def inbound(kind: str, content: dict[str, object], phone: str = "16505551234") -> bytes:
    msg = {"from": phone, "id": f"wamid.in.{kind}", "timestamp": "1749416383", "type": kind}
    msg.update(content)
    contacts = [{"profile": {"name": "S"}, "wa_id": phone, "user_id": "US.42"}]
    return orjson.dumps(envelope(messages_change(messages=[msg], contacts=contacts)))


async def suppressed(db: asyncpg.Connection) -> set[str]:
    rows = await db.fetch("SELECT phone, bsuid FROM suppressions")
    return {v for r in rows for v in (r["phone"], r["bsuid"]) if v}


@pytest.mark.parametrize(
    ("kind", "content", "stops"),
    [
        ("text", {"text": {"body": "STOP"}}, True),
        ("text", {"text": {"body": "  unsubscribe! "}}, True),
        ("text", {"text": {"body": "don't stop sending"}}, False),
        ("text", {"text": {"body": "Stop by tomorrow?"}}, False),
        ("button", {"button": {"payload": "STOP_PROMO", "text": "No more offers"}}, True),
        ("button", {"button": {"payload": "BUY_NOW", "text": "Buy"}}, False),
        (
            "interactive",
            {"interactive": {"type": "button_reply", "button_reply": {"id": "x", "title": "STOP"}}},
            True,
        ),
    ],
)
async def test_inbound_opt_out(
    receiver: RunningReceiver,
    http: aiohttp.ClientSession,
    db: asyncpg.Connection,
    kind: str,
    content: dict[str, object],
    stops: bool,
) -> None:
    await seed_campaign(db, name="opt", recipients=0, opt_out_payloads=["STOP_PROMO"])
    await post(receiver, http, inbound(kind, content))
    await settle(db)
    assert await suppressed(db) == ({"+16505551234", "US.42"} if stops else set())


async def test_user_preferences_stop_then_resume(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    def pref(value: str, ts: int) -> bytes:
        item = {"wa_id": "16505551234", "user_id": "US.9", "category": "marketing_messages"}
        item |= {"value": value, "timestamp": ts, "detail": "user choice"}
        body = {"messaging_product": "whatsapp", "user_preferences": [item]}
        return orjson.dumps(envelope(change("user_preferences", body)))

    await post(receiver, http, pref("stop", 1))
    await settle(db)
    assert await suppressed(db) == {"+16505551234", "US.9"}
    await post(receiver, http, pref("resume", 2))
    await settle(db)
    assert await suppressed(db) == set()


def template_event(event: str, name: str = "demo_promo") -> bytes:
    value = {
        "event": event,
        "message_template_id": 1689556908129832,
        "message_template_name": name,
        "message_template_language": "en_US",
        "reason": None,
        "other_info": {"title": "FIRST_PAUSE", "description": "paused for 3 hours"},
    }
    return orjson.dumps(envelope(change("message_template_status_update", value)))


async def test_template_paused_pauses_running_campaigns_within_a_second(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    running = await seed_campaign(db, name="run1", recipients=0)
    done = await seed_campaign(db, name="done", recipients=0, state="completed")
    other = await seed_campaign(db, name="oth", recipients=0, template="other_tpl")
    started = time.monotonic()
    await post(receiver, http, template_event("PAUSED"))
    reason = await eventually(
        lambda: db.fetchval(
            "SELECT state_reason FROM campaigns WHERE id = $1 AND state = 'paused'",
            running.campaign_id,
        ),
        timeout_s=1.0,
        poll_s=0.005,
    )
    assert time.monotonic() - started < 1.0
    assert reason == "template demo_promo PAUSED: FIRST_PAUSE"
    states = dict(await db.fetch("SELECT id, state FROM campaigns"))
    assert states[done.campaign_id] == "completed"
    assert states[other.campaign_id] == "running"
    await post(receiver, http, template_event("REINSTATED"))
    await settle(db)
    got = await db.fetchrow("SELECT status, language FROM template_statuses")
    assert tuple(got) == ("REINSTATED", "en_US")


async def test_governance_events_reach_channel_and_portfolio(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await seed_campaign(db, name="gov", recipients=0)
    quality = {
        "display_phone_number": "15550783881",
        "event": "FLAGGED",
        "current_limit": "TIER_10K",
    }
    await post(
        receiver, http, orjson.dumps(envelope(change("phone_number_quality_update", quality)))
    )
    await settle(db)
    ch = await db.fetchrow("SELECT quality_event FROM channels WHERE name = $1", CHANNEL)
    assert ch["quality_event"] == "FLAGGED"
    assert await db.fetchval("SELECT tier_limit FROM portfolios") == 10_000
    cap = {"max_daily_conversations_per_business": 2000}
    await post(receiver, http, orjson.dumps(envelope(change("business_capability_update", cap))))
    account = {"event": "ACCOUNT_RESTRICTION", "restriction_info": [{"restriction_type": "X"}]}
    await post(receiver, http, orjson.dumps(envelope(change("account_update", account))))
    await settle(db)
    assert await db.fetchval("SELECT tier_limit FROM portfolios") == 2000
    ch = await db.fetchrow("SELECT account_event FROM channels WHERE name = $1", CHANNEL)
    assert ch["account_event"] == "ACCOUNT_RESTRICTION"
    fields = [r["field"] for r in await db.fetch("SELECT field FROM governance_events ORDER BY id")]
    assert fields == [
        "phone_number_quality_update",
        "business_capability_update",
        "account_update",
    ]


async def test_every_reference_fixture_is_stored_and_processed(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) >= 10
    spring = await seed_campaign(db, name="spring", recipients=0, template="spring_sale")
    for path in files:
        await post(receiver, http, path.read_bytes())
    await settle(db)
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == len(files)
    paused = await db.fetchval("SELECT state FROM campaigns WHERE id = $1", spring.campaign_id)
    assert paused == "paused"  # template_status_paused.json
    assert await db.fetchval("SELECT tier_limit FROM portfolios") in (2000, UNLIMITED_TIER)
    assert "+16505551234" in await suppressed(db)  # inbound STOP / user_preferences
    assert receiver.correlator is not None and receiver.correlator.alive
    assert receiver.correlator.counts["quarantined"] == 0


async def test_a_poison_body_is_quarantined_and_the_rest_applied(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="poison", recipients=1)
    # a database-side failure tied to one body's content
    await db.execute(
        """CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.wamid = 'wamid.poison' THEN
               RAISE EXCEPTION 'poisoned' USING ERRCODE = 'data_exception'; END IF;
           RETURN NEW; END $$;
           CREATE TRIGGER poison BEFORE INSERT ON pending_statuses
           FOR EACH ROW EXECUTE FUNCTION poison();"""
    )
    assert receiver.correlator is not None
    await post(receiver, http, statuses_body(status("wamid.poison", "sent", 1)))
    await post(receiver, http, statuses_body(status("wamid.poison.0", "sent", 2)))
    await settle(db)
    problems = await db.fetch("SELECT problem FROM webhook_inbox ORDER BY id")
    assert "poisoned" in problems[0]["problem"]
    assert problems[1]["problem"] is None
    assert (
        await db.fetchval("SELECT status FROM messages WHERE id = $1", seed.message_ids[0])
        == "sent"
    )
    assert receiver.correlator.counts["quarantined"] == 1 and receiver.correlator.alive


async def test_systemic_errors_back_off_without_losing_bodies(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="sys", recipients=1)
    assert receiver.correlator is not None
    await db.execute("ALTER TABLE pending_statuses RENAME TO pending_gone")
    try:
        await post(receiver, http, statuses_body(status("wamid.sys.0", "sent", 1)))
        await eventually(lambda: _errors(receiver))
        assert (
            await db.fetchval("SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL") == 1
        )
    finally:
        await db.execute("ALTER TABLE pending_gone RENAME TO pending_statuses")
    await settle(db)
    assert (
        await db.fetchval("SELECT status FROM messages WHERE id = $1", seed.message_ids[0])
        == "sent"
    )
    assert receiver.correlator.counts["quarantined"] == 0 and receiver.correlator.alive


async def _errors(receiver: RunningReceiver) -> bool:
    assert receiver.correlator is not None
    return receiver.correlator.counts["errors"] > 0
