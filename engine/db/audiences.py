"""Audience storage: COPY-based import and listing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from engine.db.queries import Q

StagedRow = tuple[int, str, str | None, dict[str, str]]


async def import_rows(
    conn: asyncpg.Connection, audience: str, chunks: Iterable[list[StagedRow]]
) -> tuple[int, int]:
    """Copy all chunks and insert new recipients in one transaction.

    Returns ``(inserted, staged)``; ``staged - inserted`` rows were duplicates (within the
    file or already in the audience). Any exception rolls everything back.
    """
    staged = 0
    async with conn.transaction():
        audience_id = await conn.fetchval(Q.upsert_audience, audience)
        await conn.execute(Q.create_import_staging)
        for chunk in chunks:
            await conn.copy_records_to_table(
                "import_staging", records=chunk, columns=["line", "phone", "bsuid", "attrs"]
            )
            staged += len(chunk)
        status = await conn.execute(Q.insert_recipients_from_staging, audience_id)
    return int(status.rsplit(" ", 1)[-1]), staged


async def list_audiences(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_audiences)]
