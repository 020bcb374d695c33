"""The aiohttp application: routes of waba-v2 plus the ``/_sandbox`` control surface.

Routes (``D360-API-KEY`` required on the waba-v2 ones; 401 in 360dialog's envelope):
- ``POST /messages`` (and ``/v1/messages``): see ``gateway``;
- ``POST``/``GET /v1/configs/webhook``: the key's ``{url, headers}`` (see ``subscriptions``);
- ``GET /v1/configs/templates``: the catalog with live statuses (``waba_templates``);
- ``GET /health_status``: Meta's health JSON for the key's number;
- ``GET /_sandbox/stats``, ``POST /_sandbox/reset``, ``POST /_sandbox/events`` (no auth).

``make_app(config, seed=, clock=)`` builds everything; ``clock`` returns seconds (Unix time
by default) and drives limits, stats windows and webhook timestamps, so tests can move
time by hand. Webhook delays themselves run on the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from aiohttp import web

from engine.sandbox.accounts import Accounts, Channel
from engine.sandbox.catalog import Catalog
from engine.sandbox.config import SandboxConfig, default_sandbox_config
from engine.sandbox.dice import Dice
from engine.sandbox.emitter import Emitter
from engine.sandbox.events import EventPlan, build_event, event_rng_label
from engine.sandbox.gateway import HANG, RESET, Gateway
from engine.sandbox.replies import gateway_error_body, health_body
from engine.sandbox.stats import SandboxStats
from engine.sandbox.subscriptions import Subscriptions

_JSON = "application/json"
_LINGER_RST = struct.pack("ii", 1, 0)


class SandboxState:
    """Everything one sandbox holds; ``reset()`` returns it to the just-started state
    (per-key webhook configurations survive a reset; so does wamid uniqueness)."""

    def __init__(self, config: SandboxConfig, *, seed: int, clock: Callable[[], float]) -> None:
        self.config = config
        self.seed = seed
        self.clock = clock
        self.dice = Dice(seed)
        self.catalog = Catalog(config.templates)
        self.accounts = Accounts(config.accounts, config.limits)
        self.subscriptions = Subscriptions(config.webhooks)
        self.stats = SandboxStats()
        self.emitter = Emitter(
            config.webhooks.delivery,
            self.subscriptions,
            self.stats,
            signing_secret=config.webhooks.signing_secret,
        )
        self.gateway = Gateway(
            config,
            dice=self.dice,
            catalog=self.catalog,
            accounts=self.accounts,
            stats=self.stats,
            emitter=self.emitter,
            clock=clock,
        )
        self.health = config.health
        keys = list(config.accounts.keys)
        self.event_key = keys[0] if keys else "sandbox"

    def __repr__(self) -> str:
        return f"<SandboxState seed={self.seed} {self.stats!r} {self.emitter!r}>"

    def snapshot(self) -> dict[str, Any]:
        return self.stats.snapshot(self.emitter.pending)

    def reset(self) -> None:
        self.stats.__dict__.update(SandboxStats().__dict__)
        self.dice.reset()
        self.catalog.reset()
        self.accounts.reset(self.clock())
        self.emitter.reset()
        self.gateway.reset()
        self.health = self.config.health

    def apply(self, plan: EventPlan, channel: Channel) -> None:
        """Carry out an event's state change (template status, opt-out, tier, maintenance,
        health)."""
        effect = plan.effect
        if not effect:
            return
        if effect[0] == "template":
            self.catalog.set_status(effect[1], effect[2], effect[3])
        elif effect[0] == "opt_out":
            if effect[2]:
                self.gateway.opted_out.add(effect[1])
            else:
                self.gateway.opted_out.discard(effect[1])
        elif effect[0] == "maintenance":
            channel.maintenance_until = self.clock() + effect[1]
            if effect[2:4] and effect[2] == "tier":
                channel.portfolio.tier.limit = effect[3]
        elif effect[0] == "tier":
            channel.portfolio.tier.limit = effect[1]
        elif effect[0] == "health":
            self.health = effect[1]


STATE = web.AppKey("sandbox_state", SandboxState)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON)


def _reset_connection(request: web.BaseRequest) -> None:
    """Drop the connection with a TCP RST (the client sees 'connection reset by peer')."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    transport.abort()


def _routes(st: SandboxState) -> list[web.RouteDef]:
    gateway, accounts, clock = st.gateway, st.accounts, st.clock

    async def messages(request: web.Request) -> web.StreamResponse:
        channel = gateway.authenticate(request.headers.get("D360-API-KEY"))
        if channel is None:
            out = gateway.unauthorized()
        else:
            out = gateway.decide(channel, await request.read())
        if out.delay_s > 0.0:
            await asyncio.sleep(out.delay_s)
        if out.action == HANG:
            await asyncio.sleep(gateway.hang_s)
            _reset_connection(request)
            return web.Response(status=500)
        if out.action == RESET:
            _reset_connection(request)
        return web.Response(body=out.body, status=out.status, content_type=_JSON)

    def _channel(request: web.Request) -> Channel | None:
        return accounts.resolve(request.headers.get("D360-API-KEY"), clock())

    def _unauthorized() -> web.Response:
        return web.Response(body=gateway_error_body(401), status=401, content_type=_JSON)

    async def set_webhook(request: web.Request) -> web.Response:
        channel = _channel(request)
        if channel is None:
            return _unauthorized()
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.Response(
                body=gateway_error_body(400, "body is not JSON"), status=400, content_type=_JSON
            )
        result = st.subscriptions.set(channel.api_key, body)
        if isinstance(result, str):
            return web.Response(
                body=gateway_error_body(400, result), status=400, content_type=_JSON
            )
        return _json(result.to_json())

    async def get_webhook(request: web.Request) -> web.Response:
        channel = _channel(request)
        if channel is None:
            return _unauthorized()
        dest = st.subscriptions.get(channel.api_key)
        return _json(dest.to_json() if dest is not None else {"url": None, "headers": {}})

    async def templates(request: web.Request) -> web.Response:
        if _channel(request) is None:
            return _unauthorized()
        items = st.catalog.to_json()
        return _json(
            {
                "count": len(items),
                "filters": {},
                "limit": 1000,
                "offset": 0,
                "sort": ["id"],
                "total": len(items),
                "waba_templates": items,
            }
        )

    async def health(request: web.Request) -> web.Response:
        channel = _channel(request)
        if channel is None:
            return _unauthorized()
        body = health_body(st.health, channel.phone_number_id, channel.waba_id)
        return web.Response(body=body, content_type=_JSON)

    async def stats(_request: web.Request) -> web.Response:
        return _json(st.snapshot())

    async def reset(_request: web.Request) -> web.Response:
        st.reset()
        return _json({"reset": True})

    async def events(request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _json({"error": "body is not JSON"}, 400)
        if not isinstance(data, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        api_key = data.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            return _json({"error": "api_key must be a string"}, 400)
        channel = accounts.resolve(api_key or st.event_key, clock())
        if channel is None:
            return _json({"error": "unknown api_key"}, 400)
        rng = st.dice.for_label(event_rng_label(data))
        try:
            plan = build_event(
                data,
                channel=channel,
                now_s=clock(),
                catalog=st.catalog,
                new_wamid=lambda wa_id: st.dice.wamid(rng, wa_id),
            )
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        st.apply(plan, channel)
        queued = False
        if plan.payload is not None and st.config.webhooks.enabled:
            queued = st.emitter.offer_event(channel.api_key, plan.label, plan.payload)
        return _json({"type": plan.label, "queued": queued, "payload": plan.payload})

    return [
        web.post("/messages", messages),
        web.post("/v1/messages", messages),
        web.post("/v1/configs/webhook", set_webhook),
        web.get("/v1/configs/webhook", get_webhook),
        web.get("/v1/configs/templates", templates),
        web.get("/health_status", health),
        web.get("/_sandbox/stats", stats),
        web.post("/_sandbox/reset", reset),
        web.post("/_sandbox/events", events),
    ]


def make_app(
    config: SandboxConfig | None = None,
    *,
    seed: int = 0,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """The sandbox as an aiohttp app; ``app[STATE]`` is its ``SandboxState``.

    The webhook emitter starts with the app and stops (pending webhooks dropped) with it.
    """
    state = SandboxState(config or default_sandbox_config(), seed=seed, clock=clock or time.time)
    app = web.Application()
    app[STATE] = state
    app.add_routes(_routes(state))

    async def emitter_ctx(_app: web.Application) -> AsyncIterator[None]:
        await state.emitter.start()
        yield
        await state.emitter.stop()

    app.cleanup_ctx.append(emitter_ctx)
    return app
