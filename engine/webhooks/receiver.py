"""The webhook HTTP server: authenticate, cap, store durably, then answer.

``POST /webhooks/{channel}``:

- 404 the channel is neither configured nor (with a fallback secret) in the channels table;
- 401 the channel's secret header does not match (constant-time compare), or a signing
  secret is configured and ``x-360dialog-signature`` (HMAC-SHA256 of the raw body, bare hex
  or ``sha256=hex``) is missing or wrong;
- 413 the body is over ``max_body_bytes`` (Content-Length checked first, the limit also
  enforced while reading a chunked body);
- 400 the body is not JSON;
- 200 once the raw body is committed to ``webhook_inbox`` (group commit, ``inbox``), whatever
  its content: unknown payloads are the correlator's problem, never a reason to make
  360dialog retry;
- 503 the database did not take the body (the sender retries later).

``Content-Type`` is not checked: an authenticated body that parses as JSON is stored
whatever type it declares (``text/plain`` included), and a body that does not is 400 even
when declared ``application/json``. The sender's header is not part of the contract, and
refusing a good body over it would only make 360dialog retry it forever. A compressed body
(``Content-Encoding: gzip``) is inflated by aiohttp and the size cap applies to the
inflated bytes, so a zip bomb is a 413.

``GET /healthz`` answers 200 while the inbox writer and the correlator run, else 503.

The app owns the inbox writer and the correlator (started with the app, stopped after the
server finished the requests in flight), so tests, the demo and benchmarks run the receiver
in-process with ``running_receiver``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import orjson
from aiohttp import web

from engine.db import webhooks as store
from engine.db.pool import create_pool
from engine.logs import get_logger
from engine.webhooks.correlator import Correlator
from engine.webhooks.inbox import InboxUnavailable, InboxWriter
from engine.webhooks.payload import is_json
from engine.webhooks.settings import ChannelAuth, ReceiverSettings

log = get_logger("engine.webhooks.receiver")

SIGNATURE_HEADER = "x-360dialog-signature"
_DIRECTORY_REFRESH_S = 1.0


class ChannelDirectory:
    """Channel name -> auth: the configured channels, plus (with a fallback secret) every
    channel in the ``channels`` table, re-read at most once a second on a miss."""

    def __init__(self, pool: asyncpg.Pool, settings: ReceiverSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._known: set[str] = set()
        self._loaded_at = float("-inf")

    def __repr__(self) -> str:
        return f"<ChannelDirectory configured={len(self._settings.channels)} db={len(self._known)}>"

    async def resolve(self, name: str) -> ChannelAuth | None:
        auth = self._settings.channels.get(name)
        if auth is not None or self._settings.fallback is None:
            return auth
        now = time.monotonic()
        if name not in self._known and now - self._loaded_at >= _DIRECTORY_REFRESH_S:
            self._loaded_at = now
            self._known = await store.channel_names(self._pool)
        return self._settings.fallback if name in self._known else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """True when ``header`` is HMAC-SHA256(secret, body) as hex, with or without ``sha256=``."""
    if not header:
        return False
    given = header.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _same(given.lower(), expected)


def _answer(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"ok": status == 200, "message": message}),
        content_type="application/json",
    )


_INTAKE_LOG_EVERY_S = 10.0


@dataclass(slots=True)
class _Counters:
    """Requests answered, by outcome; logged as one ``webhook_intake`` event per interval."""

    stored: int = 0
    rejected: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    logged_at: float = field(default_factory=time.monotonic)
    logged: dict[int, int] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        now = time.monotonic()
        if now - self.logged_at >= _INTAKE_LOG_EVERY_S:
            self.flush(now)

    def flush(self, now: float) -> None:
        delta = {
            str(k): v - self.logged.get(k, 0)
            for k, v in self.by_status.items()
            if v != self.logged.get(k, 0)
        }
        if delta:
            per_s = round(delta.get("200", 0) / max(now - self.logged_at, 1e-9), 1)
            log.info("webhook_intake", stored_per_s=per_s, answers=delta)
        self.logged = dict(self.by_status)
        self.logged_at = now


class _Handlers:
    def __init__(self, directory: ChannelDirectory, writer: InboxWriter, max_bytes: int) -> None:
        self.directory = directory
        self.writer = writer
        self.max_bytes = max_bytes
        self.counters = _Counters()
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return f"<WebhookHandlers inflight={self.inflight} answers={self.counters.by_status}>"

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no POST is being handled (uploads included); False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def post_webhook(self, request: web.Request) -> web.Response:
        self.inflight += 1
        self._idle.clear()
        try:
            return await self._post(request)
        finally:
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.set()

    async def _post(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        try:
            auth = await self.directory.resolve(channel)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("webhook_channel_lookup_failed", error=str(exc))
            self.counters.count(503)
            return _answer(503, "channel lookup failed, retry later")
        if auth is None:
            return self._reject(404, "unknown channel")
        if not _same(request.headers.get(auth.header, ""), auth.secret):
            return self._reject(401, "bad credentials")
        length = request.content_length
        if length is not None and length > self.max_bytes:
            return self._reject(413, "body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, "body too large")
        if auth.signing_secret is not None and not signature_ok(
            body, request.headers.get(SIGNATURE_HEADER), auth.signing_secret
        ):
            return self._reject(401, "bad signature")
        if not is_json(body):
            return self._reject(400, "body is not JSON")
        try:
            await self.writer.submit(channel, body)
        except InboxUnavailable:
            self.counters.count(503)
            return _answer(503, "not stored, retry later")
        self.counters.stored += 1
        self.counters.count(200)
        return _answer(200, "stored")

    def _reject(self, status: int, message: str) -> web.Response:
        self.counters.rejected += 1
        self.counters.count(status)
        return _answer(status, message)

    async def healthz(self, request: web.Request) -> web.Response:
        correlator: Correlator | None = request.app.get(CORRELATOR_KEY)
        ok = self.writer.alive and (correlator is None or correlator.alive)
        body = {
            "ok": ok,
            "stored": self.counters.stored,
            "rejected": self.counters.rejected,
            "commits": self.writer.commits,
            "correlator": None if correlator is None else correlator.snapshot(),
        }
        return web.Response(
            status=200 if ok else 503, body=orjson.dumps(body), content_type="application/json"
        )


WRITER_KEY = web.AppKey("inbox_writer", InboxWriter)
CORRELATOR_KEY = web.AppKey("correlator", Correlator)
HANDLERS_KEY = web.AppKey("handlers", _Handlers)


def build_receiver_app(pool: asyncpg.Pool, settings: ReceiverSettings) -> web.Application:
    """The receiver as an aiohttp app; the writer and correlator live with the app."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    correlator = Correlator(pool, settings.correlator) if settings.correlator.enabled else None
    writer = InboxWriter(
        pool,
        max_batch=settings.max_batch,
        writers=settings.writers,
        on_commit=correlator.wake if correlator is not None else None,
    )
    handlers = _Handlers(ChannelDirectory(pool, settings), writer, settings.max_body_bytes)
    app[WRITER_KEY] = writer
    app[HANDLERS_KEY] = handlers
    if correlator is not None:
        app[CORRELATOR_KEY] = correlator

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        writer.start()
        if correlator is not None:
            correlator.start()
        yield
        # cleanup runs after the server finished the requests in flight
        await writer.close()
        if correlator is not None:
            await correlator.close()
        handlers.counters.flush(time.monotonic())
        log.info(
            "webhook_receiver_stopped",
            stored=handlers.counters.stored,
            rejected=handlers.counters.rejected,
        )

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhooks/{channel}", handlers.post_webhook)
    app.router.add_get("/healthz", handlers.healthz)
    return app


@dataclass(slots=True)
class RunningReceiver:
    """A started receiver: ``url`` is its base (``http://host:port``)."""

    url: str
    app: web.Application
    pool: asyncpg.Pool

    @property
    def writer(self) -> InboxWriter:
        return self.app[WRITER_KEY]

    @property
    def correlator(self) -> Correlator | None:
        return self.app.get(CORRELATOR_KEY)


@asynccontextmanager
async def running_receiver(
    dsn: str, settings: ReceiverSettings, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningReceiver]:
    """Serve the receiver on ``host:port`` (0 = any free port) until the block exits.

    The exit stops accepting connections, lets requests in flight finish (uploads too: aiohttp's
    own shutdown stops reading request bodies, so we wait for our handlers first, up to
    ``shutdown_timeout_s``), flushes the inbox, stops the correlator and closes the pool."""
    pool = await create_pool(dsn, min_size=2, max_size=6)
    try:
        app = build_receiver_app(pool, settings)
        runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout_s, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0]
            url = f"http://{host}:{bound[1]}"
            log.info("webhook_receiver_started", url=url)
            yield RunningReceiver(url=url, app=app, pool=pool)
            await site.stop()
            if not await app[HANDLERS_KEY].wait_idle(settings.shutdown_timeout_s):
                log.warning("webhook_requests_abandoned", inflight=app[HANDLERS_KEY].inflight)
        finally:
            await runner.cleanup()
    finally:
        await pool.close()
