"""Connection settings and pools: DATABASE_URL when set, else the embedded server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from engine.db.embedded import embedded_dsn
from engine.errors import DatabaseError


def resolve_dsn(environ: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL`` if set and non-empty, else the embedded server's URI (started now)."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    return url or embedded_dsn()


def describe_dsn(dsn: str) -> str:
    """The DSN without credentials, for error messages and logs."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    if not host and "host=" in parts.query:
        host = parts.query.split("host=", 1)[1].split("&", 1)[0]
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary codecs (COPY needs them): jsonb's binary form is a version byte (1) + text.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


async def connect(dsn: str, *, timeout_s: float = 10.0) -> asyncpg.Connection:
    """One connection with our codecs; ``DatabaseError`` naming the target on failure."""
    try:
        conn: asyncpg.Connection = await asyncpg.connect(dsn, timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        raise DatabaseError(f"cannot connect to {describe_dsn(dsn)}: {_reason(exc)}") from exc
    await _init_connection(conn)
    return conn


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 8, **kwargs: Any
) -> asyncpg.Pool:
    """A pool with our codecs; ``DatabaseError`` naming the target on failure."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            timeout=10.0,
            **kwargs,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        raise DatabaseError(f"cannot connect to {describe_dsn(dsn)}: {_reason(exc)}") from exc
    assert pool is not None
    return pool


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in text:
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return text
