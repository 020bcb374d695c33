"""Campaign rows: creation, lifecycle and listing."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.db.queries import Q


async def list_campaigns(conn: asyncpg.Connection, name: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in await conn.fetch(Q.list_campaigns, name):
        item = dict(row)
        counts = await conn.fetch(Q.count_messages_by_state, row["id"])
        item["by_state"] = {r["state"]: r["n"] for r in counts}
        out.append(item)
    return out
