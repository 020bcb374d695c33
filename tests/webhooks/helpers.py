"""Helpers for the webhook tests: seeding the outbox and building Meta-shaped payloads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from engine.webhooks.settings import ChannelAuth, CorrelatorSettings, ReceiverSettings

SECRET = "s3cret-header-value"
SIGNING = "signing-secret-value"
CHANNEL = "main"
DISPLAY_PHONE = "15550783881"


def settings(**kwargs: Any) -> ReceiverSettings:
    """Receiver settings for tests: channel ``main`` (secret header), fast correlator."""
    corr = kwargs.pop("correlator", None) or CorrelatorSettings(idle_poll_s=0.02)
    channels = kwargs.pop("channels", None) or {CHANNEL: ChannelAuth(secret=SECRET)}
    return ReceiverSettings(channels=channels, correlator=corr, **kwargs)


def headers(secret: str = SECRET) -> dict[str, str]:
    return {"X-Webhook-Secret": secret, "Content-Type": "application/json"}


@dataclass(slots=True)
class Seed:
    campaign_id: int
    message_ids: list[int]
    phones: list[str]


async def seed_campaign(
    db: asyncpg.Connection,
    *,
    name: str = "spring",
    template: str = "demo_promo",
    recipients: int = 3,
    state: str = "running",
    message_state: str = "accepted",
    with_wamid: bool = True,
    channel: str = CHANNEL,
    portfolio: str = "default",
    phone_base: int = 4915112345000,
    opt_out_payloads: Iterable[str] = (),
) -> Seed:
    """One portfolio/channel/audience/campaign with ``recipients`` outbox rows.

    Rows get wamid ``wamid.<name>.<i>`` when ``with_wamid`` and ``accepted_at = now()``."""
    await db.execute("INSERT INTO portfolios (name) VALUES ($1) ON CONFLICT DO NOTHING", portfolio)
    await db.execute(
        "INSERT INTO channels (name, portfolio, base_url, display_phone) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        channel,
        portfolio,
        "http://127.0.0.1:1",
        "+" + DISPLAY_PHONE,
    )
    audience_id = await db.fetchval(
        "INSERT INTO audiences (name) VALUES ($1) RETURNING id", f"aud-{name}"
    )
    spec = {"name": name, "options": {"opt_out_payloads": list(opt_out_payloads)}}
    campaign_id = await db.fetchval(
        "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id, template_name,"
        " template_language, state) VALUES ($1, $2, 'h', $3, $4, $5, 'en', $6) RETURNING id",
        name,
        spec,
        channel,
        audience_id,
        template,
        state,
    )
    ids: list[int] = []
    phones: list[str] = []
    for i in range(recipients):
        phone = f"+{phone_base + i}"
        rid = await db.fetchval(
            "INSERT INTO recipients (audience_id, phone) VALUES ($1, $2) RETURNING id",
            audience_id,
            phone,
        )
        mid = await db.fetchval(
            "INSERT INTO messages (campaign_id, recipient_id, phone, state, wamid, accepted_at)"
            " VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 = 'accepted' THEN now() END)"
            " RETURNING id",
            campaign_id,
            rid,
            phone,
            message_state,
            f"wamid.{name}.{i}" if with_wamid else None,
        )
        ids.append(mid)
        phones.append(phone)
    return Seed(campaign_id, ids, phones)


def status(
    wamid: str,
    status: str,
    ts: int | str = 1750030073,
    *,
    recipient: str | None = "4915112345000",
    bsuid: str | None = None,
    callback: str | None = None,
    pricing: Mapping[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    conversation: bool = False,
) -> dict[str, Any]:
    """A ``statuses[]`` item shaped like Meta's reference (§5.2)."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": ts}
    if recipient is not None:
        item["recipient_id"] = recipient
    if bsuid is not None:
        item["recipient_user_id"] = bsuid
    if callback is not None:
        item["biz_opaque_callback_data"] = callback
    if pricing is not None:
        item["pricing"] = dict(pricing)
    if errors is not None:
        item["errors"] = errors
    if conversation:
        item["conversation"] = {"id": "conv1", "origin": {"type": "marketing"}}
    return item


def error(code: int, title: str = "failed") -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": f"details of {code}"},
        "href": "/documentation/business-messaging/whatsapp/support/error-codes",
    }


PRICING = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}


def envelope(*changes: dict[str, Any]) -> dict[str, Any]:
    """The Cloud API envelope with one entry holding ``changes``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "time": 1750030080, "changes": list(changes)}],
    }


def messages_change(
    *,
    statuses: list[dict[str, Any]] | None = None,
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE, "phone_number_id": "1065403522"},
    }
    if statuses is not None:
        value["statuses"] = statuses
    if messages is not None:
        value["messages"] = messages
    if contacts is not None:
        value["contacts"] = contacts
    return {"field": "messages", "value": value}


def statuses_body(*items: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope(messages_change(statuses=list(items))))


def change(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"field": field, "value": value}


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout_s: float = 5.0, poll_s: float = 0.02
) -> Any:
    """Poll ``check`` until it returns a truthy value; fails with the last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(poll_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")


async def drained(db: asyncpg.Connection) -> bool:
    """True when every inbox row is processed."""
    n: int = await db.fetchval("SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL")
    return n == 0
