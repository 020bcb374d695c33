"""Fixtures of the bad-input suite: one seeded database per module, shared by every case.

Each case proves it changed nothing by comparing row counts before and after, so sharing
the database is safe and saves a clone per case; a case that must start from an empty
schema asks for ``db_dsn`` instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.badinput.kit import InProcess, seed
from tests.helpers import run_isolated


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def seeded_dsn(pg_admin_dsn: str, template_db: str) -> Iterator[str]:
    """A migrated database with audience ``spring-list`` and campaign ``seeded``."""
    name = f"ce_bad_{uuid.uuid4().hex[:12]}"
    run_isolated(_admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    dsn = urlunsplit(urlsplit(pg_admin_dsn)._replace(path="/" + name))
    run_isolated(seed(dsn))
    yield dsn
    run_isolated(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(monkeypatch, capsys)
