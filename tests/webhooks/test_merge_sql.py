"""The SQL merge agrees with ``engine.core.merge`` for every sequence of statuses."""

from __future__ import annotations

import datetime as dt
import functools
import itertools

import asyncpg

from engine.core.merge import merge_status, rank_of
from engine.db import webhooks as store
from engine.db.webhooks import StatusRow
from engine.webhooks.work import Work
from tests.webhooks.helpers import seed_campaign

STATUSES = ("sent", "failed", "delivered", "read")
SEQUENCES = [s for n in range(1, 5) for s in itertools.product(STATUSES, repeat=n)]


def fold(seq: tuple[str, ...]) -> str | None:
    return functools.reduce(lambda cur, new: merge_status(cur, new) or cur, seq, None)


def row(wamid: str, status: str, ts: int) -> StatusRow:
    when = dt.datetime.fromtimestamp(1_750_000_000 + ts, dt.UTC)
    code = 131026 if status == "failed" else None
    return StatusRow(wamid=wamid, status=status, ts=when, error_code=code)


async def test_sql_merge_matches_core_merge_one_by_one_and_batched(
    db: asyncpg.Connection,
) -> None:
    n = len(SEQUENCES)
    single = await seed_campaign(db, name="single", recipients=n)
    batched = await seed_campaign(db, name="batched", recipients=n, phone_base=4915200000000)
    for step in range(4):  # statuses one batch per position: merge across batches
        rows = [
            row(f"wamid.single.{i}", s[step], step)
            for i, s in enumerate(SEQUENCES)
            if len(s) > step
        ]
        async with db.transaction():
            await store.apply_statuses(db, rows, park_unmatched=False)
    rows = [
        row(f"wamid.batched.{i}", st, k) for i, s in enumerate(SEQUENCES) for k, st in enumerate(s)
    ]
    async with db.transaction():  # whole sequences in one batch: merge within a batch
        await store.apply_statuses(db, rows, park_unmatched=False)
    for seed in (single, batched):
        got = await db.fetch(
            "SELECT status, state FROM messages WHERE campaign_id = $1 ORDER BY id",
            seed.campaign_id,
        )
        for seq, r in zip(SEQUENCES, got, strict=True):
            assert r["status"] == fold(seq), seq
            assert r["state"] == ("failed" if r["status"] == "failed" else "accepted"), seq


async def test_rank_function_matches_core(db: asyncpg.Connection) -> None:
    for status in (*STATUSES, "played", "deleted", "SENT", ""):
        sql_rank = await db.fetchval("SELECT webhook_status_rank($1)", status)
        core = rank_of(status) if status.islower() else None  # parsing lower-cases first
        assert sql_rank == (int(core) if core is not None else None), status


def test_opt_decisions_last_word_per_identity_wins() -> None:
    work = Work()
    work.opt += [
        ("stop", "inbound_reply", ("+1555", "US.1")),
        ("resume", "user_preferences", ("+1555", "US.1")),
        ("stop", "user_preferences", ("+1555", None)),
        ("stop", "status_131050", ("+1666", None)),
        ("resume", "user_preferences", (None, "US.2")),
    ]
    phones, bsuids, adds = work.opt_decisions()
    assert (phones, bsuids) == ([], ["US.1", "US.2"])
    assert adds == {"user_preferences": [("+1555", None)], "status_131050": [("+1666", None)]}
