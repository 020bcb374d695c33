"""Status webhooks end to end: HTTP receiver -> inbox -> correlator -> outbox rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import aiohttp
import asyncpg
import orjson

from engine.webhooks.receiver import RunningReceiver
from tests.webhooks.helpers import (
    CHANNEL,
    PRICING,
    change,
    drained,
    envelope,
    error,
    eventually,
    headers,
    messages_change,
    seed_campaign,
    status,
    statuses_body,
)


def at(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


async def post(receiver: RunningReceiver, http: aiohttp.ClientSession, body: bytes) -> None:
    async with http.post(f"{receiver.url}/webhooks/{CHANNEL}", data=body, headers=headers()) as r:
        assert r.status == 200, await r.text()


async def settle(db: asyncpg.Connection) -> None:
    await eventually(lambda: drained(db))


async def row(db: asyncpg.Connection, message_id: int) -> asyncpg.Record:
    return await db.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)


async def test_progression_with_int_and_string_timestamps(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="prog", recipients=1)
    await post(receiver, http, statuses_body(status("wamid.prog.0", "sent", "1750030001")))
    await post(
        receiver,
        http,
        statuses_body(status("wamid.prog.0", "delivered", 1750030005, pricing=PRICING)),
    )
    await post(receiver, http, statuses_body(status("wamid.prog.0", "read", "1750030009")))
    await settle(db)
    r = await row(db, seed.message_ids[0])
    assert r["status"] == "read" and r["state"] == "accepted"
    assert (r["sent_at"], r["delivered_at"], r["read_at"]) == (
        at(1750030001),
        at(1750030005),
        at(1750030009),
    )
    assert (r["pricing_category"], r["pricing_type"], r["billable"]) == (
        "marketing",
        "regular",
        True,
    )
    problems = await db.fetch("SELECT problem FROM webhook_inbox WHERE problem IS NOT NULL")
    assert problems == []


async def test_duplicates_and_reordering_end_at_the_highest_status(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="dup", recipients=20)
    rng = random.Random(7)
    bodies = []
    for i in range(20):
        items = [
            status(f"wamid.dup.{i}", "sent", 100 + i),
            status(f"wamid.dup.{i}", "delivered", 200 + i),
            status(f"wamid.dup.{i}", "read", 300 + i),
        ]
        items += [rng.choice(items) for _ in range(3)]  # duplicates
        rng.shuffle(items)
        bodies += [statuses_body(item) for item in items]
    rng.shuffle(bodies)
    await asyncio.gather(*(post(receiver, http, b) for b in bodies))
    await settle(db)
    for i, mid in enumerate(seed.message_ids):
        r = await row(db, mid)
        assert r["status"] == "read", i
        assert r["read_at"] == at(300 + i)
        assert r["delivered_at"] is not None and r["sent_at"] is not None


async def test_read_alone_implies_delivered_and_sent(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="ro", recipients=1)
    await post(receiver, http, statuses_body(status("wamid.ro.0", "read", 1750000123)))
    await settle(db)
    r = await row(db, seed.message_ids[0])
    assert r["status"] == "read"
    assert r["delivered_at"] == r["sent_at"] == r["read_at"] == at(1750000123)


async def test_regression_changes_nothing(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="reg", recipients=1)
    await post(receiver, http, statuses_body(status("wamid.reg.0", "read", 50)))
    await settle(db)
    before = dict(await row(db, seed.message_ids[0]))
    await post(receiver, http, statuses_body(status("wamid.reg.0", "delivered", 40)))
    await post(receiver, http, statuses_body(status("wamid.reg.0", "sent", 30)))
    await post(receiver, http, statuses_body(status("wamid.reg.0", "read", 50)))
    await settle(db)
    assert dict(await row(db, seed.message_ids[0])) == before


async def test_multi_entry_multi_change_batch_with_unknown_fields(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="multi", recipients=4)
    s0 = status("wamid.multi.0", "sent", 10, conversation=True, pricing=PRICING)
    s0["some_future_field"] = {"nested": [1, 2, 3]}
    s1 = status("wamid.multi.1", "delivered", 11)  # no pricing, no conversation
    s2 = status("wamid.multi.2", "read", "12", recipient=None, bsuid="US.1349120865530274")
    s3 = status("wamid.multi.3", "sent", 13)
    body = {
        "object": "whatsapp_business_account",
        "unknown_top_level": True,
        "entry": [
            {
                "id": "1",
                "changes": [
                    messages_change(statuses=[s0, s1]),
                    change("template_category_update", {"new_category": "MARKETING"}),
                ],
            },
            {
                "id": "2",
                "changes": [messages_change(statuses=[s2]), messages_change(statuses=[s3])],
            },
        ],
    }
    await post(receiver, http, orjson.dumps(body))
    await settle(db)
    got = [(await row(db, m))["status"] for m in seed.message_ids]
    assert got == ["sent", "delivered", "read", "sent"]
    assert (await row(db, seed.message_ids[0]))["pricing_category"] == "marketing"


async def test_status_before_the_wamid_is_recorded_is_applied_later(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(
        db, name="early", recipients=1, message_state="in_flight", with_wamid=False
    )
    mid = seed.message_ids[0]
    await post(receiver, http, statuses_body(status("wamid.early", "delivered", 77)))
    await settle(db)
    assert await db.fetchval("SELECT count(*) FROM pending_statuses") == 1
    assert (await row(db, mid))["status"] is None
    # the recorder stores the send response late
    await db.execute(
        "UPDATE messages SET wamid = 'wamid.early', state = 'accepted', accepted_at = now()"
        " WHERE id = $1",
        mid,
    )
    r = await eventually(
        lambda: db.fetchrow("SELECT * FROM messages WHERE id = $1 AND status IS NOT NULL", mid)
    )
    assert r["status"] == "delivered" and r["delivered_at"] == at(77)
    assert await db.fetchval("SELECT count(*) FROM pending_statuses") == 0


async def test_callback_data_settles_unknown_rows(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(
        db, name="unk", recipients=3, message_state="unknown", with_wamid=False
    )
    cid, (m0, m1, m2) = seed.campaign_id, seed.message_ids
    await post(
        receiver,
        http,
        statuses_body(
            status("wamid.s0", "sent", 5, callback=f"c{cid}:m{m0}"),
            status("wamid.s1", "failed", 6, callback=f"c{cid}:m{m1}", errors=[error(131026)]),
            status("wamid.s2", "sent", 7, callback=f"camp{cid}:{m2}"),  # not our format
        ),
    )
    await settle(db)
    r0, r1, r2 = [await row(db, m) for m in (m0, m1, m2)]
    assert (r0["wamid"], r0["state"], r0["status"]) == ("wamid.s0", "accepted", "sent")
    assert r0["accepted_at"] is not None
    assert (r1["wamid"], r1["state"], r1["status"], r1["error_code"]) == (
        "wamid.s1",
        "failed",
        "failed",
        131026,
    )
    assert (r2["wamid"], r2["state"]) == (None, "unknown")
    assert await db.fetchval("SELECT wamid FROM pending_statuses") == "wamid.s2"
    # later statuses find the settled row by its wamid
    await post(receiver, http, statuses_body(status("wamid.s0", "delivered", 9)))
    await settle(db)
    assert (await row(db, m0))["status"] == "delivered"


async def test_callback_never_touches_a_row_that_is_not_waiting(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(
        db, name="pend", recipients=1, message_state="pending", with_wamid=False
    )
    cid, mid = seed.campaign_id, seed.message_ids[0]
    await post(
        receiver, http, statuses_body(status("wamid.p", "sent", 5, callback=f"c{cid}:m{mid}"))
    )
    await settle(db)
    r = await row(db, mid)
    assert (r["state"], r["wamid"], r["status"]) == ("pending", None, None)
    assert await db.fetchval("SELECT count(*) FROM pending_statuses") == 1  # kept, not dropped


async def test_failed_131050_suppresses_phone_and_bsuid(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="optout", recipients=2)
    await db.execute("UPDATE messages SET bsuid = 'US.777' WHERE id = $1", seed.message_ids[0])
    item = status("wamid.optout.0", "failed", 20, recipient=None, errors=[error(131050)])
    await post(receiver, http, statuses_body(item))
    await settle(db)
    r = await row(db, seed.message_ids[0])
    assert (r["status"], r["state"], r["error_code"]) == ("failed", "failed", 131050)
    assert r["failed_at"] == at(20) and r["error_detail"] == "details of 131050"
    got = await db.fetch("SELECT phone, bsuid, reason FROM suppressions ORDER BY id")
    identities = {v for g in got for v in (g["phone"], g["bsuid"]) if v}
    assert identities == {seed.phones[0], "US.777"}
    assert {g["reason"] for g in got} == {"opt_out"}


async def test_delivered_after_failed_wins(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    """core.merge: sent < failed < delivered < read (multi-device delivery after a failure)."""
    seed = await seed_campaign(db, name="md", recipients=1)
    await post(
        receiver, http, statuses_body(status("wamid.md.0", "failed", 5, errors=[error(131000)]))
    )
    await settle(db)
    assert (await row(db, seed.message_ids[0]))["state"] == "failed"
    await post(receiver, http, statuses_body(status("wamid.md.0", "delivered", 6)))
    await settle(db)
    r = await row(db, seed.message_ids[0])
    assert (r["status"], r["state"]) == ("delivered", "accepted")


async def test_132015_burst_pauses_campaigns_on_the_template(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="burst", recipients=6, template="promo_x")
    other = await seed_campaign(db, name="burst2", recipients=0, template="promo_x")
    unrelated = await seed_campaign(db, name="calm", recipients=0, template="other")
    items = [status(f"wamid.burst.{i}", "failed", 30, errors=[error(132015)]) for i in range(4)]
    await post(receiver, http, statuses_body(*items))
    await settle(db)
    assert (
        await db.fetchval("SELECT state FROM campaigns WHERE id = $1", seed.campaign_id)
        == "running"
    )
    await post(
        receiver, http, statuses_body(status("wamid.burst.5", "failed", 31, errors=[error(132015)]))
    )
    await settle(db)
    states = {
        r["id"]: (r["state"], r["state_reason"])
        for r in await db.fetch("SELECT id, state, state_reason FROM campaigns")
    }
    assert states[seed.campaign_id][0] == "paused"
    assert "promo_x" in states[seed.campaign_id][1] and "132015" in states[seed.campaign_id][1]
    assert states[other.campaign_id][0] == "paused"
    assert states[unrelated.campaign_id][0] == "running"


async def test_unmerged_statuses_and_out_of_band_errors_are_harmless(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="odd", recipients=1)
    value = {
        "messaging_product": "whatsapp",
        "statuses": [status("wamid.odd.0", "played", 5), status("wamid.odd.0", "deleted", 6)],
        "errors": [error(131000)],
    }
    await post(receiver, http, orjson.dumps(envelope(change("messages", value))))
    await settle(db)
    assert (await row(db, seed.message_ids[0]))["status"] is None
    problem = await db.fetchval("SELECT problem FROM webhook_inbox")
    assert "131000" in problem
    assert receiver.correlator is not None and receiver.correlator.alive


async def test_two_receivers_share_the_inbox_and_stay_correct(
    db_dsn: str, db: asyncpg.Connection, http: aiohttp.ClientSession
) -> None:
    from engine.webhooks.receiver import running_receiver
    from tests.webhooks.helpers import settings

    n = 40
    seed = await seed_campaign(db, name="two", recipients=n)
    rng = random.Random(3)
    items = [
        statuses_body(status(f"wamid.two.{i}", st, ts))
        for i in range(n)
        for st, ts in (("sent", 1), ("delivered", 2), ("read", 3), ("delivered", 2))
    ]
    rng.shuffle(items)
    async with running_receiver(db_dsn, settings()) as a, running_receiver(db_dsn, settings()) as b:
        await asyncio.gather(*(post(rng.choice((a, b)), http, body) for body in items))
        await settle(db)
        assert a.correlator is not None and b.correlator is not None
        processed = a.correlator.counts["bodies"] + b.correlator.counts["bodies"]
    assert processed == len(items)  # every body claimed by exactly one correlator
    got = await db.fetch(
        "SELECT status, read_at FROM messages WHERE campaign_id = $1", seed.campaign_id
    )
    assert {r["status"] for r in got} == {"read"}
    assert {r["read_at"] for r in got} == {at(3)}
