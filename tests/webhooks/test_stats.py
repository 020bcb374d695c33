"""``webhook_stats``: cost by pricing category and accepted -> delivered latency."""

from __future__ import annotations

import asyncpg

from engine.db.webhooks import webhook_stats
from tests.webhooks.helpers import seed_campaign


async def test_cost_and_latency(db: asyncpg.Connection) -> None:
    seed = await seed_campaign(db, name="stats", recipients=5)
    rows = [  # (status, pricing_category, pricing_type, billable, seconds to delivery)
        ("read", "marketing", "regular", True, 1),
        ("delivered", "marketing", "regular", None, 2),
        ("delivered", "utility", "free_customer_service", False, 3),
        ("sent", "marketing", "regular", True, None),
        ("failed", None, None, None, None),
    ]
    for mid, (status, cat, kind, billable, secs) in zip(seed.message_ids, rows, strict=True):
        await db.execute(
            "UPDATE messages SET status = $2, pricing_category = $3, pricing_type = $4,"
            " billable = $5, accepted_at = '2026-01-01T00:00:00Z',"
            " delivered_at = '2026-01-01T00:00:00Z'::timestamptz + make_interval(secs => $6)"
            " WHERE id = $1",
            mid,
            status,
            cat,
            kind,
            billable,
            secs,
        )
    stats = await webhook_stats(db, seed.campaign_id)
    assert stats["cost"] == {"marketing": 2}
    lat = stats["latency_s"]
    assert lat["n"] == 3 and lat["p50"] == 2.0
    assert 2.0 < lat["p90"] <= 3.0 and lat["p99"] <= 3.0
    empty = await seed_campaign(db, name="none", recipients=0)
    assert await webhook_stats(db, empty.campaign_id) == {
        "cost": {},
        "latency_s": {"p50": None, "p90": None, "p99": None, "n": 0},
    }
