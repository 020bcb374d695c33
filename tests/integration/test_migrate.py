"""Migrations: applied in order, recorded, idempotent, refuse a changed file."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from engine.db.migrate import discover, migrate, pending
from engine.errors import MigrationError
from engine.paths import MIGRATIONS_DIR


async def test_template_is_fully_migrated(db: asyncpg.Connection) -> None:
    assert await pending(db) == []
    versions = [r["version"] for r in await db.fetch("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in discover()]


async def test_migrate_is_idempotent(db: asyncpg.Connection) -> None:
    assert await migrate(db) == []
    assert await migrate(db) == []


async def test_refuses_changed_migration(db: asyncpg.Connection, tmp_path: Path) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match="differs from the one applied"):
        await migrate(db, tmp_path)


async def test_applies_new_file_in_order(db: asyncpg.Connection, tmp_path: Path) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "9000_extra.sql").write_text("CREATE TABLE extra_t (id int);")
    assert await migrate(db, tmp_path) == ["9000_extra"]
    assert await db.fetchval("SELECT to_regclass('extra_t') IS NOT NULL")
    assert await migrate(db, tmp_path) == []
