"""Connection settings and pools: DATABASE_URL when set, else the embedded server."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import asyncpg
import orjson

from engine.db.embedded import embedded_dsn
from engine.errors import DatabaseError


def resolve_dsn(environ: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL`` if set and non-empty, else the embedded server's URI (started now)."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    return url or embedded_dsn()


# libpq key=value settings whose values are secret (``password='a b'`` or ``password=ab``).
_SECRET_KEY_VALUE = re.compile(r"""(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)""", re.I)


def describe_dsn(dsn: str) -> str:
    """The DSN without credentials, for error messages and logs. Never raises.

    A URL keeps its scheme, host(s), port(s) and database (``host=`` from the query when
    the host part is empty); the user, password and query are dropped. A libpq
    ``key=value`` string is shown with its password replaced by ``***``. Parsed by hand:
    ``urlsplit`` raises on a port out of range or a broken IPv6 host, and the message
    must still be given.
    """
    text = dsn.strip()
    if "://" not in text:
        return " ".join(_SECRET_KEY_VALUE.sub(r"\1***", text).split())
    scheme, _, rest = text.partition("://")
    # The user info ends at the LAST '@': a password may hold '/', '?', '#' or '@'.
    rest = rest[rest.rfind("@") + 1 :]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host, rest = rest[:cut], rest[cut:]
    path = rest.split("?", 1)[0].split("#", 1)[0]
    query = rest.partition("?")[2].split("#", 1)[0]
    if not host:
        for item in query.split("&"):
            key, _, value = item.partition("=")
            if key == "host" and value:
                host = unquote(value)
                break
    return f"{scheme}://{host}{path}"


def _passwords(dsn: str) -> list[str]:
    """Every password the DSN holds: a key=value ``password``, a URL's user info, a URL's
    ``?password=`` parameter; as written and percent-decoded."""
    if "://" not in dsn:
        return [m.group(2).strip("'") for m in _SECRET_KEY_VALUE.finditer(dsn)]
    rest = dsn.partition("://")[2]
    found: list[str] = []
    userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
    if ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for item in rest[rest.rfind("@") + 1 :].partition("?")[2].split("&"):
        key, _, value = item.partition("=")
        if key.lower() == "password":
            found.append(value)
    return found + [unquote(p) for p in found]


def _redact(text: str, dsn: str) -> str:
    """``text`` with the DSN's passwords (wherever they appear) replaced by ``***``."""
    for secret in sorted(set(filter(None, _passwords(dsn))), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# What a bad DATABASE_URL or an unreachable server raises inside asyncpg: a port out of
# range is an OverflowError, a port that is not a number or a broken IPv6 host a ValueError.
_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, ValueError, OverflowError)


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
    except _CONNECT_ERRORS as exc:
        raise DatabaseError(f"cannot connect to {describe_dsn(dsn)}: {_reason(exc, dsn)}") from exc
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
    except _CONNECT_ERRORS as exc:
        raise DatabaseError(f"cannot connect to {describe_dsn(dsn)}: {_reason(exc, dsn)}") from exc
    assert pool is not None
    return pool


def _reason(exc: BaseException, dsn: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _redact(text, dsn)
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in text:
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return text
