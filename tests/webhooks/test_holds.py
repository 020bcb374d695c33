"""Holds placed and lifted by webhooks: number quality, account restriction, 131048 bursts.

Real HTTP into the receiver, real Postgres; each test asserts campaign states and the
``holds`` rows a job would read."""

from __future__ import annotations

import aiohttp
import asyncpg
import orjson

from engine.db import holds
from engine.webhooks.receiver import RunningReceiver
from tests.webhooks.helpers import (
    CHANNEL,
    DISPLAY_PHONE,
    change,
    drained,
    envelope,
    error,
    eventually,
    headers,
    seed_campaign,
    status,
    statuses_body,
)


async def post(receiver: RunningReceiver, http: aiohttp.ClientSession, body: bytes) -> None:
    async with http.post(f"{receiver.url}/webhooks/{CHANNEL}", data=body, headers=headers()) as r:
        assert r.status == 200, await r.text()


async def settle(db: asyncpg.Connection) -> None:
    await eventually(lambda: drained(db))


async def add_channel(db: asyncpg.Connection, name: str, portfolio: str, phone: str) -> None:
    await db.execute("INSERT INTO portfolios (name) VALUES ($1) ON CONFLICT DO NOTHING", portfolio)
    await db.execute(
        "INSERT INTO channels (name, portfolio, base_url, display_phone) VALUES ($1, $2, 'x', $3)",
        name,
        portfolio,
        phone,
    )


async def states(db: asyncpg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = await db.fetch("SELECT name, state, state_reason FROM campaigns")
    return {r["name"]: (r["state"], r["state_reason"]) for r in rows}


async def active_holds(db: asyncpg.Connection) -> list[tuple[str, str, str]]:
    rows = await db.fetch(
        "SELECT scope, source, reason FROM holds WHERE lifted_at IS NULL ORDER BY id"
    )
    return [(r["scope"], r["source"], r["reason"]) for r in rows]


def quality(event: str, **extra: object) -> bytes:
    value = {"display_phone_number": DISPLAY_PHONE, "event": event, **extra}
    return orjson.dumps(envelope(change("phone_number_quality_update", value)))


def account(event: str) -> bytes:
    value = {"event": event, "restriction_info": [{"restriction_type": "RESTRICTED_ADD_PHONE"}]}
    return orjson.dumps(envelope(change("account_update", value)))


async def test_quality_flagged_holds_the_number_and_unflagged_lifts_it(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await add_channel(db, "second", "default", "+15550000002")
    await seed_campaign(db, name="on-main", recipients=0)
    await seed_campaign(db, name="on-main-done", recipients=0, state="completed")
    await seed_campaign(db, name="on-second", recipients=0, channel="second")

    await post(receiver, http, quality("FLAGGED"))
    await settle(db)

    got = await states(db)
    assert got["on-main"] == ("paused", "number quality FLAGGED")
    assert got["on-main-done"][0] == "completed"
    assert got["on-second"][0] == "running"
    assert await active_holds(db) == [("channel", "quality", "number quality FLAGGED")]

    await post(receiver, http, quality("UNFLAGGED"))
    await settle(db)
    assert await active_holds(db) == []
    # Lifting the hold does not resume: that stays the operator's decision.
    assert (await states(db))["on-main"][0] == "paused"


async def test_a_red_quality_rating_holds_the_number(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await seed_campaign(db, name="c", recipients=0)
    await post(receiver, http, quality("UPGRADE", quality_rating="RED"))
    await settle(db)
    assert (await states(db))["c"] == ("paused", "number quality RED")


async def test_account_restriction_holds_every_channel_of_the_portfolio(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await add_channel(db, "second", "default", "+15550000002")
    await add_channel(db, "elsewhere", "other", "+15550000003")
    await seed_campaign(db, name="a", recipients=0)
    await seed_campaign(db, name="b", recipients=0, channel="second", state="throttled")
    await seed_campaign(db, name="c", recipients=0, channel="elsewhere", portfolio="other")

    await post(receiver, http, account("ACCOUNT_VIOLATION"))  # a warning: holds nothing
    await settle(db)
    assert {s for s, _ in (await states(db)).values()} == {"running", "throttled"}

    await post(receiver, http, account("ACCOUNT_RESTRICTION"))
    await settle(db)
    got = await states(db)
    assert got["a"][0] == got["b"][0] == "paused"
    assert got["a"][1] is not None and got["a"][1].startswith("account ACCOUNT_RESTRICTION")
    assert got["c"][0] == "running"
    [(scope, source, _)] = await active_holds(db)
    assert (scope, source) == ("portfolio", "account")


async def test_131048_burst_holds_the_channel_once_per_burst(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await add_channel(db, "second", "default", "+15550000002")
    seed = await seed_campaign(db, name="spam", recipients=12)
    await seed_campaign(db, name="sibling", recipients=0, phone_base=4915112346000)
    await seed_campaign(
        db, name="other-number", recipients=0, channel="second", phone_base=4915112347000
    )

    def spam(i: int) -> dict[str, object]:
        return status(
            f"wamid.spam.{i}",
            "failed",
            40 + i,
            recipient=seed.phones[i][1:],
            errors=[error(131048)],
        )

    await post(receiver, http, statuses_body(*(spam(i) for i in range(4))))
    await settle(db)
    assert {s for s, _ in (await states(db)).values()} == {"running"}

    await post(receiver, http, statuses_body(spam(4)))
    await settle(db)
    got = await states(db)
    assert got["spam"][0] == got["sibling"][0] == "paused"
    assert got["spam"][1] == "channel 'main': 5 x 131048 within 60s"
    assert got["other-number"][0] == "running"

    # `campaign resume` lifts the hold; the five failures already counted do not pause
    # again, so one more failure changes nothing ...
    lifted = await holds.lift_for_campaign(db, seed.campaign_id, by="test")
    assert [scope for _, scope, _ in lifted] == ["channel"]
    await db.execute("UPDATE campaigns SET state = 'running' WHERE name IN ('spam', 'sibling')")
    await post(receiver, http, statuses_body(spam(5)))
    await settle(db)
    assert (await states(db))["spam"][0] == "running"
    # ... but a new burst does.
    await post(receiver, http, statuses_body(*(spam(i) for i in range(6, 10))))
    await settle(db)
    assert (await states(db))["spam"][0] == "paused"
    assert [h[0] for h in await active_holds(db)] == ["channel"]
