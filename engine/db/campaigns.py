"""Campaign rows: creation, lifecycle and listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.core.states import CampaignState, allowed_sources
from engine.db.queries import Q
from engine.errors import ConfigError


async def list_campaigns(conn: asyncpg.Connection, name: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in await conn.fetch(Q.list_campaigns, name):
        item = dict(row)
        counts = await conn.fetch(Q.count_messages_by_state, row["id"])
        item["by_state"] = {r["state"]: r["n"] for r in counts}
        out.append(item)
    return out


async def ensure_channel(
    conn: asyncpg.Connection, *, name: str, portfolio: str, base_url: str, tier_limit: int | None
) -> None:
    async with conn.transaction():
        await conn.execute(
            Q.upsert_portfolio, portfolio, tier_limit, "profile" if tier_limit else None
        )
        await conn.execute(Q.upsert_channel, name, portfolio, base_url)


async def find_campaign(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(Q.find_campaign, name)
    return row


async def find_audience_id(conn: asyncpg.Connection, name: str) -> int | None:
    value: int | None = await conn.fetchval(Q.find_audience, name)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCheck:
    """What ``check_run`` found: the audience, and the campaign row to continue or replace."""

    audience_id: int
    existing: asyncpg.Record | None  # the live campaign of that name, if any
    replace: bool  # ``existing`` was started with another spec and ``force_new`` was given


async def check_run(
    conn: asyncpg.Connection,
    *,
    where: str,
    name: str,
    audience: str,
    spec_hash: str,
    force_new: bool,
) -> RunCheck:
    """The refusals of ``campaign run`` (and of its ``--dry-run``), made before anything is
    written: ``ConfigError`` naming ``where`` (the spec file) when the audience does not
    exist, when campaign ``name`` was started with a different spec and ``force_new`` is
    false, or when it was started on a different audience. Reads only; a database with no
    schema yet simply has no audience."""
    try:
        audience_id = await find_audience_id(conn, audience)
    except asyncpg.UndefinedTableError:  # never migrated: only a dry run gets here
        audience_id = None
    if audience_id is None:
        raise ConfigError(
            where,
            "audience",
            f"no audience named {audience!r}; import one with "
            f"`campaign audience import {audience} FILE.csv`",
        )
    row = await find_campaign(conn, name)
    replace = row is not None and row["spec_hash"] != spec_hash
    if replace and not force_new:
        raise ConfigError(
            where,
            None,
            f"campaign {name!r} was started with a different spec; run it with the "
            "original spec, or pass --force-new to start a new campaign",
        )
    if row is not None and not replace and row["audience_id"] != audience_id:
        raise ConfigError(where, "audience", "audience changed since start")
    return RunCheck(audience_id=audience_id, existing=row, replace=replace)


async def create_campaign(
    conn: asyncpg.Connection,
    *,
    name: str,
    spec: dict[str, Any],
    spec_hash: str,
    channel: str,
    audience_id: int,
    template: tuple[str, str],
) -> int:
    campaign_id: int = await conn.fetchval(
        Q.insert_campaign, name, spec, spec_hash, channel, audience_id, template[0], template[1]
    )
    return campaign_id


async def archive_campaign(conn: asyncpg.Connection, campaign_id: int) -> None:
    await conn.execute(Q.archive_campaign, campaign_id)


async def materialize(conn: asyncpg.Connection, campaign_id: int, audience_id: int) -> int:
    """Create the outbox rows once; returns rows inserted (0 when already materialized)."""
    async with conn.transaction():
        inserted: int = await conn.fetchval(Q.materialize_outbox, campaign_id, audience_id)
        await conn.execute(Q.mark_materialized, campaign_id)
    return inserted


async def get_state(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int
) -> tuple[str, str | None]:
    row = await conn.fetchrow(Q.get_campaign_state, campaign_id)
    assert row is not None
    return row["state"], row["state_reason"]


async def set_state(
    conn: asyncpg.Connection | asyncpg.Pool,
    campaign_id: int,
    new: str,
    reason: str | None,
    allowed_from: tuple[str, ...],
) -> bool:
    """Guarded transition; False when the campaign was not in one of ``allowed_from``."""
    row = await conn.fetchrow(Q.set_campaign_state, campaign_id, new, reason, list(allowed_from))
    return row is not None


async def move(
    conn: asyncpg.Connection | asyncpg.Pool,
    campaign_id: int,
    new: CampaignState,
    reason: str | None,
) -> bool:
    """``set_state`` from any state the transition table allows into ``new``."""
    return await set_state(conn, campaign_id, new, reason, allowed_sources(new))


async def set_state_by_name(
    conn: asyncpg.Connection, name: str, new: str, reason: str | None, allowed_from: tuple[str, ...]
) -> int | None:
    row = await conn.fetchrow(Q.set_campaign_state_by_name, name, new, reason, list(allowed_from))
    return None if row is None else int(row["id"])


async def acquire_lease(
    conn: asyncpg.Connection | asyncpg.Pool, channel: str, owner: str, ttl_s: float
) -> bool:
    """Take or renew the channel lease; False when another live job holds it."""
    return await conn.fetchval(Q.acquire_lease, channel, owner, ttl_s) is not None


async def release_lease(conn: asyncpg.Connection | asyncpg.Pool, channel: str, owner: str) -> None:
    await conn.execute(Q.release_lease, channel, owner)


async def requeue_failed(
    conn: asyncpg.Connection, campaign_id: int, codes: list[int], after_s: float | None
) -> int:
    status: str = await conn.execute(Q.requeue_failed, campaign_id, codes, after_s)
    return int(status.rsplit(" ", 1)[-1])


async def add_suppressions(
    conn: asyncpg.Connection | asyncpg.Pool, phones: list[str], reasons: list[str], source: str
) -> None:
    await conn.execute(Q.insert_send_suppressions, phones, reasons, source)


async def blocking_template_status(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    """The campaign template's PAUSED/DISABLED announcement, if that is its latest status."""
    row: asyncpg.Record | None = await conn.fetchrow(Q.blocking_template_status, name)
    return row


async def verdict(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int
) -> tuple[int, int, str]:
    """(rows accepted, rows failed, the top failure causes) of a campaign with no open row."""
    row = await conn.fetchrow(Q.campaign_verdict, campaign_id)
    assert row is not None
    return int(row["accepted"]), int(row["failed"]), row["causes"] or ""
