"""The portfolio's messaging-limit budget, counted in the database (shared by every job)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from engine.db.outbox import ClaimedRow
from engine.db.queries import Q


async def tier_limit(
    conn: asyncpg.Connection | asyncpg.Pool, portfolio: str, profile_limit: int | None
) -> int | None:
    """The limit in force: a webhook-learned tier, else the profile's (None = unlimited)."""
    row = await conn.fetchrow(Q.effective_tier_limit, portfolio, profile_limit)
    return profile_limit if row is None else row["tier_limit"]


async def claim_within_budget(
    pool: asyncpg.Pool,
    campaign_id: int,
    token: uuid.UUID,
    limit_rows: int,
    *,
    portfolio: str,
    tier: int,
) -> tuple[list[ClaimedRow], int]:
    """Claim due rows without letting the portfolio exceed ``tier`` unique recipients in 24 h.

    One transaction: portfolio lock, count, claim-and-reserve. Returns the rows and the
    budget left after them.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.lock_portfolio_budget, portfolio)
        used: int = await conn.fetchval(Q.count_portfolio_contacts, portfolio)
        left = max(0, tier - used)
        rows = await conn.fetch(
            Q.claim_messages_budgeted, campaign_id, token, limit_rows, portfolio, left
        )
    claimed = [ClaimedRow(r["id"], r["phone"], r["attempts"], r["attrs"] or {}) for r in rows]
    return claimed, left


async def next_free_at(conn: asyncpg.Connection | asyncpg.Pool, portfolio: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(Q.next_budget_free_at, portfolio)
    return value
