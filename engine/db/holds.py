"""Holds in Postgres (see ``engine.core.holds`` for what they mean).

Placing an untimed hold pauses, in the same transaction, every campaign it covers that is
running or throttled; each of their jobs sees the pause at its next control tick. A timed
hold changes no campaign state: jobs read it every tick and wait it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.core.holds import HoldKey
from engine.core.states import CampaignState
from engine.db.queries import Q

#: The campaign states an untimed hold interrupts.
PAUSABLE = (CampaignState.RUNNING.value, CampaignState.THROTTLED.value)


@dataclass(frozen=True, slots=True)
class Placed:
    hold_id: int
    created: bool  # False: an identical active hold existed (a timed one was extended)
    paused: list[str]  # names of the campaigns this call paused


@dataclass(frozen=True, slots=True)
class ActiveHold:
    hold_id: int
    scope: str
    reason: str
    source: str
    remaining_s: float | None  # None = untimed


async def place(
    conn: asyncpg.Connection | asyncpg.Pool,
    key: HoldKey,
    *,
    reason: str,
    source: str,
    hold_s: float | None = None,
) -> Placed:
    """Place (or reuse) a hold; an untimed one pauses the campaigns it covers."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c:
            return await place(c, key, reason=reason, source=source, hold_s=hold_s)
    async with conn.transaction():
        row = await conn.fetchrow(
            Q.place_hold,
            key.scope.value,
            key.campaign_id,
            key.channel,
            key.portfolio,
            key.template,
            reason,
            source,
            hold_s,
        )
        assert row is not None
        paused: list[str] = []
        if hold_s is None:
            rows = await conn.fetch(Q.pause_held_campaigns, row["id"], list(PAUSABLE))
            paused = [r["name"] for r in rows]
    return Placed(int(row["id"]), bool(row["created"]), paused)


async def covering(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> list[ActiveHold]:
    """Active holds covering the campaign: untimed first, then the longest timed one."""
    rows = await conn.fetch(Q.campaign_holds, campaign_id)
    return [
        ActiveHold(r["id"], r["scope"], r["reason"], r["source"], r["remaining_s"]) for r in rows
    ]


async def lift_for_campaign(
    conn: asyncpg.Connection, campaign_id: int, by: str
) -> list[tuple[int, str, str]]:
    """Lift every untimed hold covering the campaign; (id, scope, reason) of each."""
    rows = await conn.fetch(Q.lift_campaign_holds, campaign_id, by)
    return [(r["id"], r["scope"], r["reason"]) for r in rows]


async def lift(
    conn: asyncpg.Connection, key: HoldKey, sources: Sequence[str], by: str
) -> list[str]:
    """Lift the active holds with exactly this key placed by one of ``sources``."""
    rows = await conn.fetch(
        Q.lift_holds, key.scope.value, key.channel, key.portfolio, key.template, list(sources), by
    )
    return [r["reason"] for r in rows]


async def list_active(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_active_holds)]
