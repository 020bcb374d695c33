"""Opening the database for a command: resolve, connect, migrate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from engine.db.migrate import migrate
from engine.db.pool import connect, resolve_dsn


@asynccontextmanager
async def open_db(*, apply_migrations: bool = True) -> AsyncIterator[asyncpg.Connection]:
    """A connection to DATABASE_URL (or the embedded server), schema up to date."""
    conn = await connect(resolve_dsn())
    try:
        if apply_migrations:
            await migrate(conn)
        yield conn
    finally:
        await conn.close()
