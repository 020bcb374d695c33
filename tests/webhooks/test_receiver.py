"""The receiver over real HTTP: auth, size cap, JSON check, storage, group commit, shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import orjson
import pytest

from engine.webhooks.receiver import RunningReceiver, running_receiver, signature_ok
from engine.webhooks.settings import ChannelAuth, CorrelatorSettings, ReceiverSettings
from tests.webhooks.helpers import (
    CHANNEL,
    SECRET,
    SIGNING,
    headers,
    seed_campaign,
    settings,
    status,
    statuses_body,
)

BODY = statuses_body(status("wamid.x", "sent"))


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, hdrs: dict[str, str] | None = None
) -> int:
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body  # aiohttp warns on big bytes
    async with http.post(url, data=data, headers=headers() if hdrs is None else hdrs) as resp:
        await resp.read()
        return resp.status


async def test_stores_raw_body_and_answers_200(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    assert await post(http, f"{receiver.url}/webhooks/{CHANNEL}", BODY) == 200
    row = await db.fetchrow("SELECT channel, body FROM webhook_inbox")
    assert row["channel"] == CHANNEL
    assert bytes(row["body"]) == BODY  # byte for byte


async def test_unknown_json_content_is_stored_too(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    for body in (b"[]", b"42", b'"text"', b'{"object": "page", "x": [1, 2]}', b"null"):
        assert await post(http, f"{receiver.url}/webhooks/{CHANNEL}", body) == 200
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 5


async def test_bad_secret_is_401_and_nothing_stored(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    url = f"{receiver.url}/webhooks/{CHANNEL}"
    assert await post(http, url, BODY, headers("wrong")) == 401
    assert await post(http, url, BODY, {"Content-Type": "application/json"}) == 401
    assert await post(http, url, BODY, headers(SECRET + "x")) == 401
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 0


async def test_unknown_channel_is_404(
    receiver: RunningReceiver, http: aiohttp.ClientSession
) -> None:
    assert await post(http, f"{receiver.url}/webhooks/other", BODY) == 404


async def test_not_json_is_400(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    url = f"{receiver.url}/webhooks/{CHANNEL}"
    for body in (b"", b"{", b"not json", b"\xff\xfe", b"NaN", b'{"a": 1} trailing'):
        assert await post(http, url, body) == 400, body
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 0


async def test_integers_beyond_64_bits_are_still_json(
    receiver: RunningReceiver, http: aiohttp.ClientSession
) -> None:
    body = b'{"n": 123456789012345678901234567890}'
    assert await post(http, f"{receiver.url}/webhooks/{CHANNEL}", body) == 200


async def test_over_3mb_is_413_by_length_and_while_reading(
    receiver: RunningReceiver, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    url = f"{receiver.url}/webhooks/{CHANNEL}"
    big = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert await post(http, url, big) == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(4):
            yield b" " * (1024 * 1024)

    async with http.post(url, data=chunks(), headers=headers()) as resp:
        assert resp.status == 413
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 0
    just_under = b'{"pad": "' + b"x" * (3 * 1024 * 1024 - 20) + b'"}'
    assert await post(http, url, just_under) == 200


async def test_signature_when_configured(db_dsn: str, http: aiohttp.ClientSession) -> None:
    auth = ChannelAuth(secret=SECRET, signing_secret=SIGNING)
    async with running_receiver(db_dsn, settings(channels={CHANNEL: auth})) as r:
        url = f"{r.url}/webhooks/{CHANNEL}"
        digest = hmac.new(SIGNING.encode(), BODY, hashlib.sha256).hexdigest()
        for sig, expected in (
            (digest, 200),
            ("sha256=" + digest, 200),
            ("SHA256=" + digest.upper(), 200),
            ("sha256=" + "0" * 64, 401),
            ("", 401),
        ):
            hdrs = {**headers(), "x-360dialog-signature": sig}
            assert await post(http, url, BODY, hdrs) == expected, sig
        assert await post(http, url, BODY) == 401  # header missing


def test_signature_ok_edge_cases() -> None:
    digest = hmac.new(b"k", b"body", hashlib.sha256).hexdigest()
    assert signature_ok(b"body", f" sha256={digest} ", "k")
    assert not signature_ok(b"body", None, "k")
    assert not signature_ok(b"body", "sha256=\u00e9", "k")  # non-ASCII never raises
    assert not signature_ok(b"other", digest, "k")


async def test_env_fallback_admits_every_channel_in_the_table(
    db_dsn: str, db: asyncpg.Connection, http: aiohttp.ClientSession
) -> None:
    await seed_campaign(db, channel="second", recipients=0)
    fallback = ReceiverSettings(
        fallback=ChannelAuth(secret=SECRET, header="X-Other"),
        correlator=CorrelatorSettings(enabled=False),
    )
    async with running_receiver(db_dsn, fallback) as r:
        good = {"X-Other": SECRET}
        assert await post(http, f"{r.url}/webhooks/second", BODY, good) == 200
        assert await post(http, f"{r.url}/webhooks/second", BODY, headers()) == 401
        assert await post(http, f"{r.url}/webhooks/nope", BODY, good) == 404


async def test_group_commit_shares_commits(
    db_dsn: str, http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    n = 300
    bodies = [statuses_body(status(f"wamid.g{i}", "sent")) for i in range(n)]
    # correlator off: its updates would give the rows new xmins
    quiet = settings(correlator=CorrelatorSettings(enabled=False))
    async with running_receiver(db_dsn, quiet) as receiver:
        url = f"{receiver.url}/webhooks/{CHANNEL}"
        codes = await asyncio.gather(*(post(http, url, b) for b in bodies))
        commits = receiver.writer.commits
    assert codes == [200] * n
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == n
    stored = {bytes(r["body"]) for r in await db.fetch("SELECT body FROM webhook_inbox")}
    assert stored == set(bodies)
    # one transaction id per commit: fewer transactions than requests
    xids = await db.fetchval("SELECT count(DISTINCT xmin::text) FROM webhook_inbox")
    assert xids < n
    assert commits == xids


async def test_healthz(receiver: RunningReceiver, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{receiver.url}/healthz") as resp:
        assert resp.status == 200
        body = orjson.loads(await resp.read())
    assert body["ok"] is True
    assert body["correlator"]["alive"] is True


async def test_graceful_shutdown_finishes_requests_in_flight(
    db_dsn: str, db: asyncpg.Connection, http: aiohttp.ClientSession
) -> None:
    started = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield BODY[:10]
        started.set()
        await asyncio.sleep(0.3)
        yield BODY[10:]

    async def slow_post(url: str) -> int:
        async with http.post(url, data=slow_body(), headers=headers()) as resp:
            return resp.status

    async with running_receiver(db_dsn, settings()) as r:
        task = asyncio.create_task(slow_post(f"{r.url}/webhooks/{CHANNEL}"))
        await started.wait()
        await asyncio.sleep(0.05)
    # the receiver has stopped; the request that was in flight was answered and stored
    assert await task == 200
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 1


async def test_database_down_is_503(db_dsn: str, http: aiohttp.ClientSession) -> None:
    async with running_receiver(db_dsn, settings()) as r:
        await r.pool.execute("ALTER TABLE webhook_inbox RENAME TO webhook_inbox_gone")
        try:
            assert await post(http, f"{r.url}/webhooks/{CHANNEL}", BODY) == 503
        finally:
            await r.pool.execute("ALTER TABLE webhook_inbox_gone RENAME TO webhook_inbox")
        assert await post(http, f"{r.url}/webhooks/{CHANNEL}", BODY) == 200


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_other_methods_are_405(
    receiver: RunningReceiver, http: aiohttp.ClientSession, method: str
) -> None:
    async with http.request(method, f"{receiver.url}/webhooks/{CHANNEL}") as resp:
        assert resp.status == 405
