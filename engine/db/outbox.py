"""The outbox (``messages``): claim due rows, record outcomes, recover claims.

Every function is one round trip. Outcomes are written in batches with
``UPDATE ... FROM unnest(...)`` guarded by state and claim token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from engine.db.queries import Q


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    phone: str
    attempts: int
    attrs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """What the recorder writes for one message (``refund`` = 1 when no attempt counted)."""

    id: int
    state: str
    at: datetime
    wamid: str | None = None
    message_status: str | None = None
    retry_at: datetime | None = None
    error_code: int | None = None
    error_detail: str | None = None
    refund: int = 0
    phone: str | None = None  # set on accepted rows: refreshes the portfolio's 24 h count


async def claim(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int, token: uuid.UUID, limit: int
) -> list[ClaimedRow]:
    rows = await conn.fetch(Q.claim_messages, campaign_id, token, limit)
    return [ClaimedRow(r["id"], r["phone"], r["attempts"], r["attrs"] or {}) for r in rows]


async def record(
    conn: asyncpg.Connection | asyncpg.Pool,
    token: uuid.UUID,
    outcomes: list[OutcomeRow],
    *,
    portfolio: str | None = None,
) -> int:
    """Write a batch of outcomes and, when ``portfolio`` is given, refresh its 24 h ledger
    for the accepted phones; one statement. Returns how many outbox rows changed."""
    if not outcomes:
        return 0
    changed: int = await conn.fetchval(
        Q.record_outcomes,
        [o.id for o in outcomes],
        [o.state for o in outcomes],
        [o.wamid for o in outcomes],
        [o.message_status for o in outcomes],
        [o.retry_at for o in outcomes],
        [o.error_code for o in outcomes],
        [o.error_detail for o in outcomes],
        [o.at.timestamp() for o in outcomes],
        [o.refund for o in outcomes],
        token,
        portfolio,
        [o.phone for o in outcomes if o.state == "accepted" and o.phone]
        if portfolio is not None
        else [],
    )
    return changed


async def release(conn: asyncpg.Connection | asyncpg.Pool, token: uuid.UUID, ids: list[int]) -> int:
    if not ids:
        return 0
    return _count(await conn.execute(Q.release_claims, ids, token))


async def recover_in_flight(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> int:
    return _count(await conn.execute(Q.recover_in_flight, campaign_id))


async def resend_unknown(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int, grace_s: float
) -> int:
    return _count(await conn.execute(Q.resend_unknown, campaign_id, grace_s))


async def progress(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    """Exact counts by state; reads the whole campaign (use ``live_counts`` per interval)."""
    row = await conn.fetchrow(Q.campaign_progress, campaign_id)
    assert row is not None
    return dict(row)


@dataclass(frozen=True, slots=True)
class LiveCounts:
    """The small sets the progress line reads every interval (``campaign_live_counts``)."""

    in_flight: int
    unknown: int
    unknown_unsettled: int
    waiting: int
    next_retry_at: datetime | None


async def live_counts(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> LiveCounts:
    row = await conn.fetchrow(Q.campaign_live_counts, campaign_id)
    assert row is not None
    return LiveCounts(
        in_flight=row["in_flight"],
        unknown=row["unknown"],
        unknown_unsettled=row["unknown_unsettled"],
        waiting=row["waiting"],
        next_retry_at=row["next_retry_at"],
    )


@dataclass(frozen=True, slots=True)
class Unfinished:
    """Which unfinished sets still hold a row (``campaign_unfinished``)."""

    pending: bool  # due or waiting for a retry time
    in_flight: bool
    unknown_unsettled: bool  # unknown and no wamid learned yet


async def unfinished(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> Unfinished:
    row = await conn.fetchrow(Q.campaign_unfinished, campaign_id)
    assert row is not None
    return Unfinished(
        pending=row["pending"],
        in_flight=row["in_flight"],
        unknown_unsettled=row["unknown_unsettled"],
    )


async def cancel_pending(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: int) -> int:
    return _count(await conn.execute(Q.cancel_pending, campaign_id))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def defer(
    conn: asyncpg.Connection | asyncpg.Pool,
    token: uuid.UUID,
    deferred: list[tuple[int, datetime]],
) -> int:
    """Put claimed rows back to pending until the given times (send windows)."""
    if not deferred:
        return 0
    ids = [d[0] for d in deferred]
    until = [d[1] for d in deferred]
    return _count(await conn.execute(Q.defer_claims, ids, until, token))
