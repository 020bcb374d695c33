"""The send path of ``POST /messages``: authenticate, inject faults, validate, limit, accept.

``Gateway.decide`` is synchronous and does no I/O: it returns an ``Outcome`` (HTTP status,
body bytes, what to do with the connection, how long to wait first) and, on acceptance,
hands the planned statuses to the emitter without waiting for it. Order of decisions:

1. (app) ``D360-API-KEY`` missing or unknown → 401, 360dialog envelope (``http_401``);
2. latency is drawn (applies to every answer below);
3. gateway faults, one draw split by ratio: 360dialog 429, 360dialog 503, Meta 500/131000,
   hang (no answer; connection reset after ``hang_s``; not accepted);
4. body not JSON → 400/100; Meta validation (see ``validate``) → 400 with its code;
5. throughput token bucket → 130429 (status ``throughput_status``);
6. pair limit → 400/131056;
7. accept: wamid, stats, ``held_for_quality_assessment`` with ``held_ratio``;
   asynchronous failure decided now (131026 undeliverable pattern; for marketing templates
   131050 opted-out pattern or ``user_preferences`` stop, 131049 capped pattern; 132015
   held-and-dropped; the tier code when the portfolio's unique-recipient window is full),
   statuses planned; with ``reset_after_accept_ratio`` the connection is reset instead of
   answered (the message is still accepted and gets its webhooks).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Final

import orjson

from engine.sandbox.accounts import Accounts, Channel
from engine.sandbox.catalog import Catalog
from engine.sandbox.config import SandboxConfig
from engine.sandbox.dice import Dice, sample_ms
from engine.sandbox.emitter import Emitter
from engine.sandbox.lifecycle import plan_statuses
from engine.sandbox.replies import accepted_body, gateway_error_body, meta_error_body
from engine.sandbox.stats import SandboxStats
from engine.sandbox.validate import SendRequest, validate_send

RESPOND: Final = 0
RESET: Final = 1
HANG: Final = 2


class Outcome:
    """What the HTTP layer does: wait ``delay_s``, then answer or reset/hang."""

    __slots__ = ("action", "body", "delay_s", "status")

    def __init__(
        self, status: int, body: bytes, action: int = RESPOND, delay_s: float = 0.0
    ) -> None:
        self.status = status
        self.body = body
        self.action = action
        self.delay_s = delay_s

    def __repr__(self) -> str:
        return f"<Outcome {self.status} action={self.action} delay={self.delay_s:.3f}s>"


def _combine(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns))


class Gateway:
    """Decides every ``/messages`` request; owns the opt-out set (``user_preferences``)."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        dice: Dice,
        catalog: Catalog,
        accounts: Accounts,
        stats: SandboxStats,
        emitter: Emitter,
        clock: Callable[[], float],
    ) -> None:
        self._dice, self._catalog, self._accounts = dice, catalog, accounts
        self._stats, self._emitter, self._clock = stats, emitter, clock
        f, lim = config.faults, config.limits
        self._latency = f.latency if f.latency.p99_ms > 0 else None
        self._p429 = f.gateway_429_ratio
        self._p503 = self._p429 + f.gateway_503_ratio
        self._p5xx = self._p503 + f.error_5xx_ratio
        self._phang = self._p5xx + f.hang_ratio
        self.hang_s = f.hang_s
        self._reset_ratio = f.reset_after_accept_ratio
        self._undeliverable = _combine(f.recipients.undeliverable)
        self._opted_out_re = _combine(f.recipients.opted_out)
        self._capped = _combine(f.recipients.capped)
        self._throughput_status = lim.throughput_status
        self._held, self._held_drop = lim.held_ratio, lim.held_drop_ratio
        self._tier_code = lim.tier_error_code
        self._life = config.webhooks.lifecycle
        self.webhooks_on = config.webhooks.enabled
        self.opted_out: set[str] = set()

    def __repr__(self) -> str:
        return f"<Gateway {self._stats!r} opted_out={len(self.opted_out)}>"

    def authenticate(self, api_key: str | None) -> Channel | None:
        """Count the request and resolve its key; None means answer ``unauthorized()``."""
        self._stats.requests += 1
        return self._accounts.resolve(api_key, self._clock())

    def unauthorized(self) -> Outcome:
        self._stats.reject("http_401")
        return Outcome(401, gateway_error_body(401))

    def _reject(
        self, rng: random.Random, code: int, details: str | None, delay_s: float, status: int = 400
    ) -> Outcome:
        self._stats.reject(str(code))
        return Outcome(
            status, meta_error_body(code, details, Dice.fbtrace_id(rng)), RESPOND, delay_s
        )

    def decide(self, channel: Channel, body: bytes) -> Outcome:
        """Everything after authentication (see module doc). Never raises, never awaits."""
        now = self._clock()
        rng = self._dice.for_request(channel.api_key, body)
        delay_s = sample_ms(rng, self._latency) / 1000.0 if self._latency is not None else 0.0
        if self._phang > 0.0:
            u = rng.random()
            if u < self._phang:
                return self._gateway_fault(rng, u, delay_s)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._reject(rng, 100, "Request body is not valid JSON", delay_s)
        req = validate_send(data, self._catalog)
        if not isinstance(req, SendRequest):
            return self._reject(rng, req.code, req.details, delay_s)
        wa_id = req.wa_id
        if now < channel.maintenance_until:
            return self._reject(rng, 131057, None, delay_s)
        if not channel.bucket.try_take(now):
            return self._reject(rng, 130429, None, delay_s, self._throughput_status)
        if not channel.pairs.allowed(wa_id, now):
            return self._reject(rng, 131056, None, delay_s)
        channel.pairs.record(wa_id, now)
        return self._accept(channel, req, rng, now, delay_s)

    def _gateway_fault(self, rng: random.Random, u: float, delay_s: float) -> Outcome:
        if u < self._p429:
            self._stats.reject("http_429")
            return Outcome(429, gateway_error_body(429), RESPOND, delay_s)
        if u < self._p503:
            self._stats.reject("http_503")
            return Outcome(503, gateway_error_body(503), RESPOND, delay_s)
        if u < self._p5xx:
            return self._reject(rng, 131000, None, delay_s, 500)
        self._stats.hangs += 1
        return Outcome(0, b"", HANG, delay_s)

    def _accept(
        self, channel: Channel, req: SendRequest, rng: random.Random, now: float, delay_s: float
    ) -> Outcome:
        wa_id, template = req.wa_id, req.template
        wamid = self._dice.wamid(rng, wa_id)
        stats = self._stats
        stats.accept(channel.api_key, wa_id, template.name, now)
        held = self._held > 0.0 and rng.random() < self._held
        if held:
            stats.held += 1
        failure = self._async_failure(channel, req, rng, held, now)
        if self.webhooks_on:
            self._emitter.offer_statuses(
                channel,
                wamid=wamid,
                wa_id=wa_id,
                callback=req.callback_data,
                category=template.category,
                plan=plan_statuses(rng, self._life, failure),
                accepted_at_s=now,
            )
        action = RESPOND
        if self._reset_ratio > 0.0 and rng.random() < self._reset_ratio:
            stats.resets_after_accept += 1
            action = RESET
        message_status = "held_for_quality_assessment" if held else "accepted"
        return Outcome(200, accepted_body(req.to, wa_id, wamid, message_status), action, delay_s)

    def _async_failure(
        self, channel: Channel, req: SendRequest, rng: random.Random, held: bool, now: float
    ) -> int | None:
        """The code this accepted send will fail with later, or None (it goes out)."""
        wa_id = req.wa_id
        if self._undeliverable is not None and self._undeliverable.fullmatch(wa_id):
            return 131026
        if req.template.category == "marketing":
            if wa_id in self.opted_out or (
                self._opted_out_re is not None and self._opted_out_re.fullmatch(wa_id)
            ):
                return 131050
            if self._capped is not None and self._capped.fullmatch(wa_id):
                return 131049
        if held and self._held_drop > 0.0 and rng.random() < self._held_drop:
            return 132015
        if not channel.portfolio.tier.admit(wa_id, now):
            return self._tier_code
        return None

    def reset(self) -> None:
        """Forget opt-outs made by events."""
        self.opted_out.clear()
