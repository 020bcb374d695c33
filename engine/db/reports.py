"""Report queries: exact counts from the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from engine.db.queries import Q
from engine.db.webhooks import webhook_stats


async def campaign_report(conn: asyncpg.Connection, campaign_id: int) -> dict[str, Any]:
    """Raw figures for ``engine.report.build_report`` (one snapshot transaction)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        by_status = {r["status"]: r["n"] for r in await conn.fetch(Q.report_by_status, campaign_id)}
        funnel = dict(await conn.fetchrow(Q.report_funnel, campaign_id) or {})
        failed_by_code = {
            r["code"]: r["n"] for r in await conn.fetch(Q.report_failed_by_code, campaign_id)
        }
        delivery = await webhook_stats(conn, campaign_id)
    return {
        "by_status": by_status,
        "funnel": funnel,
        "failed_by_code": failed_by_code,
        "cost": delivery["cost"],
        "latency": delivery["latency_s"],
    }


async def iter_rows(conn: asyncpg.Connection, campaign_id: int) -> AsyncIterator[asyncpg.Record]:
    """Per-recipient rows in id order, streamed with a server-side cursor."""
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(Q.report_rows, campaign_id, prefetch=2000):
            yield row


async def inbox_backlog(conn: asyncpg.Connection) -> int:
    """Stored webhook bodies the correlator has not processed yet."""
    n: int = await conn.fetchval(Q.count_inbox_backlog)
    return n
