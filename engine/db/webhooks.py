"""Store port of the webhook receiver and correlator: the only place their SQL runs.

Every function takes a connection (or pool) and does one round trip; batch functions take
parallel lists so a whole correlator batch costs one statement. SQL text lives in
``sql/queries/webhooks.sql``. Failure modes: asyncpg errors propagate unchanged; callers
decide (the inbox writer answers 503, the correlator logs and retries the batch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
import orjson

from engine.core.states import MessageState, allowed_sources
from engine.db.queries import Q

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool

OPT_OUT_REASON = "opt_out"
#: ``portfolios.tier_limit`` for TIER_UNLIMITED (NULL there means "unknown").
UNLIMITED_TIER = 2**31 - 1
_TO_FAILED = list(allowed_sources(MessageState.FAILED))
_TO_ACCEPTED = list(allowed_sources(MessageState.ACCEPTED))


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    """One status webhook, flattened for the merge. ``ts`` is the webhook's own timestamp."""

    wamid: str | None
    status: str
    ts: dt.datetime
    campaign_id: int | None = None
    message_id: int | None = None
    callback: str | None = None
    error_code: int | None = None
    error_detail: str | None = None
    pricing_category: str | None = None
    pricing_type: str | None = None
    billable: bool | None = None
    phone: str | None = None
    bsuid: str | None = None

    def to_json(self) -> str:
        """JSON object of the fields (``ts`` as RFC 3339); orjson encodes dataclasses natively."""
        return orjson.dumps(self).decode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StatusRow:
        fields = dict(data)
        fields["ts"] = dt.datetime.fromisoformat(fields["ts"])
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class AppliedRow:
    """An outbox row whose status moved; ``ords`` index the statuses merged into it."""

    message_id: int
    campaign_id: int
    phone: str
    bsuid: str | None
    status: str
    error_code: int | None
    settled: bool
    ords: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    updated: list[AppliedRow]
    unmatched: list[int]  # ords with no outbox row (parked when asked to)
    matched: int  # statuses that found their row (moved it or not: duplicates, regressions)


async def insert_inbox(db: Executor, channels: Sequence[str], bodies: Sequence[bytes]) -> None:
    await db.execute(Q.insert_inbox_bodies, channels, bodies)


async def channel_names(db: Executor) -> set[str]:
    return {r["name"] for r in await db.fetch(Q.list_channel_names)}


async def channel_base_url(db: Executor, name: str) -> str | None:
    value: str | None = await db.fetchval(Q.get_channel_base_url, name)
    return value


async def claim_inbox(
    conn: asyncpg.Connection, limit: int, only: int | None = None
) -> list[asyncpg.Record]:
    """Unprocessed inbox rows (``only``: just that one), oldest first, locked until the
    caller's transaction ends; rows locked by another correlator are skipped."""
    rows: list[asyncpg.Record] = await conn.fetch(Q.claim_inbox_rows, limit, only)
    return rows


async def unprocessed_ids(db: Executor, limit: int) -> list[int]:
    return [r["id"] for r in await db.fetch(Q.list_unprocessed_ids, limit)]


async def mark_processed(db: Executor, ids: Sequence[int], problems: Sequence[str | None]) -> None:
    """Mark rows processed (once: a row already processed keeps its first problem text)."""
    await db.execute(Q.mark_inbox_processed, ids, problems)


async def apply_statuses(
    conn: asyncpg.Connection, rows: Sequence[StatusRow], *, park_unmatched: bool
) -> StatusOutcome:
    """Merge a batch of statuses into the outbox in one statement (see the SQL's comment)."""
    if not rows:
        return StatusOutcome([], [], 0)
    cols: list[list[Any]] = [[] for _ in range(12)]
    for i, r in enumerate(rows):
        values = (
            i,
            r.wamid,
            r.campaign_id,
            r.message_id,
            r.status,
            r.ts,
            r.error_code,
            r.error_detail,
            r.pricing_category,
            r.pricing_type,
            r.billable,
            r.to_json() if park_unmatched else None,
        )
        for col, value in zip(cols, values, strict=True):
            col.append(value)
    result = await conn.fetch(Q.apply_statuses, *cols, park_unmatched, _TO_FAILED, _TO_ACCEPTED)
    updated: list[AppliedRow] = []
    unmatched: list[int] = []
    matched = 0
    for rec in result:
        if rec["kind"] == "updated":
            updated.append(
                AppliedRow(
                    rec["id"],
                    rec["campaign_id"],
                    rec["phone"],
                    rec["bsuid"],
                    rec["status"],
                    rec["error_code"],
                    rec["by_callback"],
                    tuple(rec["ords"]),
                )
            )
        elif rec["kind"] == "unmatched":
            unmatched = list(rec["ords"])
        else:
            matched = len(rec["ords"])
    return StatusOutcome(updated, unmatched, matched)


async def claim_due_pending(
    conn: asyncpg.Connection, limit: int, only: int | None = None
) -> list[tuple[int, StatusRow]]:
    """Parked statuses due for a re-check (``only``: just that one), locked until the
    caller's transaction ends."""
    rows = await conn.fetch(Q.claim_due_pending, limit, only)
    return [(r["id"], StatusRow.from_json(r["event"])) for r in rows]


async def due_pending_ids(db: Executor, limit: int) -> list[int]:
    return [r["id"] for r in await db.fetch(Q.list_due_pending_ids, limit)]


async def shelve_pending(db: Executor, pending_id: int) -> None:
    await db.execute(Q.shelve_pending, pending_id)


async def settle_pending(
    conn: asyncpg.Connection, consumed: Sequence[int], deferred: Sequence[int]
) -> None:
    """Delete parked statuses that found their row; push back the others' next check."""
    if consumed:
        await conn.execute(Q.delete_pending, consumed)
    if deferred:
        await conn.execute(Q.defer_pending, deferred)


async def add_suppressions(
    conn: asyncpg.Connection, pairs: Sequence[tuple[str | None, str | None]], source: str
) -> int:
    """Suppress (phone, bsuid) pairs for marketing; returns rows added."""
    unique = sorted({p for p in pairs if p[0] or p[1]}, key=lambda p: (p[0] or "", p[1] or ""))
    if not unique:
        return 0
    status = await conn.execute(
        Q.add_suppressions, [p[0] for p in unique], [p[1] for p in unique], OPT_OUT_REASON, source
    )
    return int(status.rsplit(" ", 1)[-1])


async def lift_suppressions(
    conn: asyncpg.Connection, phones: Sequence[str], bsuids: Sequence[str]
) -> int:
    """Remove opt-out suppressions of these identities (a ``resume``); returns rows removed."""
    status = await conn.execute(Q.lift_suppressions, list(phones), list(bsuids), OPT_OUT_REASON)
    return int(status.rsplit(" ", 1)[-1])


async def opt_out_payloads(conn: asyncpg.Connection) -> list[str]:
    """Every campaign's ``spec.options.opt_out_payloads`` entries."""
    return [r["payload"] for r in await conn.fetch(Q.list_opt_out_payloads)]


@dataclass(frozen=True, slots=True)
class FailureCount:
    """Recent failed statuses of one campaign with one code (see ``recent_status_failures``)."""

    code: int
    campaign_id: int
    channel: str
    portfolio: str
    template: str
    n: int


async def add_status_failures(
    conn: asyncpg.Connection, failures: Sequence[tuple[int, int]]
) -> None:
    """Record (campaign id, error code) of failed statuses that count towards a burst."""
    await conn.execute(
        Q.insert_status_failures, [c for c, _ in failures], [code for _, code in failures]
    )


async def recent_status_failures(
    conn: asyncpg.Connection, campaign_ids: Sequence[int], codes: Sequence[int], window_s: float
) -> list[FailureCount]:
    """Failures with ``codes`` within the window, across the portfolios of ``campaign_ids``,
    not yet counted into a burst hold."""
    rows = await conn.fetch(
        Q.count_recent_status_failures, sorted(set(campaign_ids)), window_s, sorted(set(codes))
    )
    return [
        FailureCount(
            r["code"], r["campaign_id"], r["channel"], r["portfolio"], r["template_name"], r["n"]
        )
        for r in rows
    ]


async def record_template_status(
    conn: asyncpg.Connection,
    *,
    channel: str,
    template: str,
    language: str | None,
    status: str,
    reason: str | None,
    event: dict[str, Any],
) -> None:
    await conn.execute(
        Q.upsert_template_status, channel, template, language or "", status, reason, event
    )


async def find_channel(
    conn: asyncpg.Connection, display_phone: str | None, channel: str
) -> tuple[str, str] | None:
    """(channel, portfolio) an event is about: by display phone digits, else by name."""
    digits = "".join(ch for ch in display_phone or "" if ch.isdigit()) or None
    row = await conn.fetchrow(Q.find_channel, digits, channel)
    return None if row is None else (row["name"], row["portfolio"])


async def record_governance(
    conn: asyncpg.Connection,
    *,
    channel: str,
    field: str,
    event: str | None,
    payload: dict[str, Any],
    portfolio: str | None = None,
    tier_limit: int | None = None,
) -> None:
    """Keep the event; note it on the channel; a tier announcement sets the portfolio's."""
    await conn.execute(Q.insert_governance_event, channel, field, event, payload)
    await conn.execute(Q.update_channel_event, channel, field, event)
    if portfolio is not None and tier_limit is not None:
        await conn.execute(Q.update_portfolio_tier, portfolio, tier_limit, f"webhook:{field}")


async def webhook_stats(conn: asyncpg.Connection, campaign_id: int) -> dict[str, Any]:
    """Cost and delivery latency of one campaign, as the report shows them.

    ``cost``: billable delivered messages per pricing category (``{"marketing": 812}``).
    ``latency_s``: accepted -> delivered percentiles in seconds (``None`` without data).
    """
    cost = {
        r["category"]: r["n"] for r in await conn.fetch(Q.webhook_cost_by_category, campaign_id)
    }
    lat = await conn.fetchrow(Q.webhook_delivery_latency, campaign_id)
    p = lat["p"] if lat is not None and lat["n"] else None
    latency = {
        "p50": p[0] if p else None,
        "p90": p[1] if p else None,
        "p99": p[2] if p else None,
        "n": lat["n"] if lat is not None else 0,
    }
    return {"cost": cost, "latency_s": latency}
