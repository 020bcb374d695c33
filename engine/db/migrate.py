"""Forward-only migrations: ``sql/migrations/NNNN_name.sql`` applied in order.

Runs under a session advisory lock so concurrent ``db migrate`` calls serialize. Each
applied file is recorded with a sha256 of its text; a recorded checksum that differs from
the file on disk is refused (``MigrationError``), as is a recorded version with no file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from engine.errors import MigrationError
from engine.paths import MIGRATIONS_DIR

# Arbitrary but fixed: "migr" in ASCII. Only migrations take this lock.
_LOCK_KEY = 0x6D696772
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files in version order; a malformed or duplicate name is a ``MigrationError``."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} appears twice")
        text = path.read_text()
        found[version] = Migration(
            version=version,
            name=match.group(2),
            sql=text,
            checksum=hashlib.sha256(text.encode()).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    migrations = discover(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        recorded = {r["version"]: r for r in rows}
        on_disk = {m.version: m for m in migrations}
        for version, row in sorted(recorded.items()):
            mig = on_disk.get(version)
            if mig is None:
                raise MigrationError(
                    f"database has migration {version:04d}_{row['name']} but "
                    f"{directory} has no such file (database is newer than this code?)"
                )
            if mig.checksum != row["checksum"]:
                raise MigrationError(
                    f"migration {version:04d}_{mig.name}.sql differs from the one applied to "
                    "this database; migrations are forward-only: add a new file instead"
                )
        applied: list[str] = []
        for mig in migrations:
            if mig.version in recorded:
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version,
                    mig.name,
                    mig.checksum,
                )
            applied.append(f"{mig.version:04d}_{mig.name}")
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migrations not yet applied (the schema table may not exist yet)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done: set[int] = set()
    if exists:
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [f"{m.version:04d}_{m.name}" for m in discover(directory) if m.version not in done]
