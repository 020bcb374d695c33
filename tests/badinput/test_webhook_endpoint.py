"""`POST /webhooks/{channel}` with hostile or malformed requests, over real HTTP.

One receiver (``running_receiver``: real aiohttp server, real Postgres, correlator on) runs
for the whole module on its own thread and loop; each case sends raw HTTP with
``http.client`` (exact bytes, headers and framing) and checks the status and how many rows
``webhook_inbox`` gained: a body is stored only when the request is authenticated and the
body is JSON. Nothing may answer 5xx, and the correlator must outlive every body stored.

Content type is deliberately not checked: 360dialog's content type is not part of the
contract, the body is stored raw and parsed later, and refusing an authenticated JSON body
over a header would make the sender retry it forever. So ``text/plain`` with a JSON body is
stored, and a non-JSON body is 400 whatever its declared type.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
import uvloop

from engine.webhooks.receiver import running_receiver
from engine.webhooks.settings import MAX_BODY_BYTES
from tests.helpers import run_isolated
from tests.webhooks.helpers import (
    CHANNEL,
    SECRET,
    envelope,
    messages_change,
    settings,
    status,
    statuses_body,
)

BODY = statuses_body(status("wamid.badinput", "delivered"))


@dataclass
class Live:
    """The module's receiver: where it listens, its database, errors its loop saw."""

    host: str
    port: int
    dsn: str
    loop_errors: list[dict[str, Any]] = field(default_factory=list)

    def post(
        self,
        body: bytes | Iterator[bytes],
        headers: dict[str, str | None] | None = None,
        *,
        path: str = f"/webhooks/{CHANNEL}",
        method: str = "POST",
    ) -> int:
        given: dict[str, str | None] = {
            "X-Webhook-Secret": SECRET,
            "Content-Type": "application/json",
            **(headers or {}),
        }
        hdrs = {k: v for k, v in given.items() if v is not None}  # None: leave the header out
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            chunked = not isinstance(body, bytes)
            conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (ConnectionResetError, BrokenPipeError):
            # The server answered early (413/401) and closed while the body was still being
            # sent; read what it said if we can, else report the reset as 0.
            return 0
        finally:
            conn.close()

    def stored(self) -> int:
        return int(run_isolated(_fetchval(self.dsn, "SELECT count(*) FROM webhook_inbox")))

    def health(self) -> int:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()


async def _fetchval(dsn: str, sql: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def live(pg_admin_dsn: str, template_db: str) -> Iterator[Live]:
    name = f"ce_badwh_{uuid.uuid4().hex[:12]}"
    run_isolated(_admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    dsn = urlunsplit(urlsplit(pg_admin_dsn)._replace(path="/" + name))
    started = threading.Event()
    box: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []

    async def serve() -> None:
        stop = asyncio.Event()
        async with running_receiver(dsn, settings()) as receiver:
            box["url"], box["stop"] = receiver.url, stop
            box["loop"] = asyncio.get_running_loop()
            started.set()
            await stop.wait()

    def thread_main() -> None:
        loop = uvloop.new_event_loop()  # the loop production runs on
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported by the fixture, never swallowed
            box["error"] = exc
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=thread_main, name="badinput-receiver", daemon=True)
    thread.start()
    assert started.wait(30), "receiver did not start"
    if "error" in box:
        raise box["error"]
    parts = urlsplit(box["url"])
    assert parts.hostname is not None and parts.port is not None
    yield Live(parts.hostname, parts.port, dsn, errors)
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(30)
    run_isolated(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert "error" not in box, box.get("error")
    assert not errors, errors


def check(live: Live, expected: int | tuple[int, ...], stored: int, *args: Any, **kw: Any) -> int:
    """Send one request; assert its status and how many inbox rows it added."""
    before = live.stored()
    got = live.post(*args, **kw)
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert got in allowed, f"HTTP {got}, expected {allowed}"
    assert live.stored() - before == stored
    assert live.health() == 200, "receiver or correlator died"
    assert not live.loop_errors, live.loop_errors
    return got


# ---- authentication and routing --------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Webhook-Secret": "wrong"},
        {"X-Webhook-Secret": None},
        {"X-Webhook-Secret": ""},
        {"X-Webhook-Secret": None, "Authorization": f"Bearer {SECRET}"},
        {"X-Webhook-Secret": SECRET[:-1]},
        {"X-Webhook-Secret": "s3cret-h\u00e9ader-value"},
    ],
    ids=["wrong", "missing", "empty", "other-header", "prefix", "latin-1-bytes"],
)
def test_bad_secret_is_401_and_stores_nothing(live: Live, headers: dict[str, str | None]) -> None:
    check(live, 401, 0, BODY, headers)


@pytest.mark.parametrize(
    "path",
    ["/webhooks/other", "/webhooks/MAIN", "/webhooks/" + "c" * 2000, "/webhooks/%00"],
    ids=["other", "case", "2000-chars", "nul"],
)
def test_unknown_channel_is_404(live: Live, path: str) -> None:
    check(live, 404, 0, BODY, path=path)


def test_unknown_channel_is_404_before_auth(live: Live) -> None:
    check(live, 404, 0, BODY, {"X-Webhook-Secret": None}, path="/webhooks/other")


def test_get_is_405(live: Live) -> None:
    check(live, 405, 0, b"", method="GET")


# ---- size ------------------------------------------------------------------------------


def test_body_over_3mb_is_413(live: Live) -> None:
    big = b'{"p": "' + b"x" * MAX_BODY_BYTES + b'"}'
    check(live, (413, 0), 0, big)


def test_chunked_body_over_3mb_is_413(live: Live) -> None:
    chunks = (b"[" if i == 0 else b'"' + b"x" * 65_000 + b'",' for i in range(60))
    check(live, (413, 0), 0, chunks)


def test_unauthenticated_huge_body_is_refused_unread(live: Live) -> None:
    check(live, (401, 0), 0, b"[" + b"1," * MAX_BODY_BYTES + b"1]", {"X-Webhook-Secret": "no"})


def test_body_of_exactly_3mb_is_stored(live: Live) -> None:
    head, tail = b'{"p": "', b'"}'
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    check(live, 200, 1, body)


def test_gzip_bomb_is_refused(live: Live) -> None:
    # 3 MB on the wire would be ~3 GB inflated: the cap applies to what is read, inflated.
    bomb = gzip.compress(b"[" + b"0," * (40 << 20) + b"0]", compresslevel=9)
    check(live, (400, 413, 415), 0, bomb, {"Content-Encoding": "gzip"})


# ---- not JSON --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        BODY[: len(BODY) // 2],
        b'{"object": "whatsapp_business_account", "entry": [',
        b"\xff\xfe{}",
        b'{"a": "caf\xe9"}',
        b"[" * 100_000 + b"]" * 100_000,
        b"{" * 50_000,
        "{}".encode("utf-16"),
    ],
    ids=[
        "empty",
        "truncated",
        "truncated-envelope",
        "utf-16-bom",
        "invalid-utf-8",
        "100k-nested-arrays",
        "50k-open-braces",
        "utf-16",
    ],
)
def test_not_json_is_400_and_stores_nothing(live: Live, body: bytes) -> None:
    check(live, 400, 0, body)


def test_deep_but_parseable_json_does_not_crash(live: Live) -> None:
    # Under orjson's nesting limit: stored (it is JSON) and the correlator must survive it.
    body = b"[" * 500 + b"]" * 500
    check(live, 200, 1, body)
    _wait_processed(live)


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "whatsapp_business_account", "entry": [{"changes": '
        b'[{"field": "messages", "value": {"statuses": [{"id": "wamid.\\ud800", '
        b'"status": "read", "timestamp": "1", "recipient_id": "\\u0000"}]}}]}]}',
        statuses_body(status("wamid.\u0000nul", "failed", recipient="49\u0000151")),
        json.dumps(
            envelope(messages_change(statuses=[status("w.big", "sent", ts=10**30)]))
        ).encode(),
        b'{"n": 1e999999, "i": 123456789012345678901234567890}',
        orjson.dumps({"entry": [{"changes": [{"value": {"statuses": "not-a-list"}}]}]}),
        orjson.dumps({"entry": "x" * 100_000}),
    ],
    ids=["lone-surrogate", "nul-escapes", "huge-timestamp", "huge-numbers", "wrong-shapes", "long"],
)
def test_odd_json_is_stored_and_the_correlator_survives(live: Live, body: bytes) -> None:
    check(live, 200, 1, body)
    _wait_processed(live)


# ---- content types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        None,
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "multipart/form-data; boundary=zzz",
    ],
    ids=["text-plain", "none", "form", "json-latin-1", "multipart"],
)
def test_authenticated_json_is_stored_whatever_its_content_type(
    live: Live, content_type: str | None
) -> None:
    check(live, 200, 1, BODY, {"Content-Type": content_type})


def test_form_body_declared_as_json_is_400(live: Live) -> None:
    check(live, 400, 0, b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"})


def _wait_processed(live: Live, timeout_s: float = 10.0) -> None:
    """Every stored body is eventually processed (or quarantined): the correlator lives."""
    deadline = time.monotonic() + timeout_s
    sql = "SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL"
    while time.monotonic() < deadline:
        if run_isolated(_fetchval(live.dsn, sql)) == 0:
            assert live.health() == 200
            return
        time.sleep(0.05)
    raise AssertionError("the correlator left stored bodies unprocessed")
