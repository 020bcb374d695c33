"""Test harness.

- Postgres: DATABASE_URL when set (CI points it at the machine's server), else an embedded
  server in a temporary directory. A template database is migrated once per session and
  every test that asks for ``db_dsn`` gets a fresh clone of it.
- Loops: every async test runs on the default asyncio loop and on uvloop.
- Hidden async errors fail the test: a loop exception handler records them (e.g. "Task
  exception was never retrieved") and an autouse fixture asserts none were recorded.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import uvloop

from engine.db.migrate import migrate
from tests.helpers import run_isolated

_loop_errors: list[dict[str, Any]] = []


def _record_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    _loop_errors.append(context)


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.SelectorEventLoop()
    loop.set_exception_handler(_record_error)
    return loop


def _uvloop_loop() -> asyncio.AbstractEventLoop:
    loop = uvloop.new_event_loop()
    loop.set_exception_handler(_record_error)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Run every async test on both loops (``@pytest.mark.asyncio(loop_factories=[...])``
    narrows a long scenario to one)."""
    return {"asyncio": _asyncio_loop, "uvloop": _uvloop_loop}


@pytest.fixture(autouse=True)
def _fail_on_hidden_async_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    _loop_errors.clear()
    yield
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        # Collect now so a task that died unobserved reports itself to this test (the
        # collection is costly, so sync tests, which start no loop here, skip it).
        gc.collect()
    errors = [f"{c.get('message')}: {c.get('exception')!r}" for c in _loop_errors]
    _loop_errors.clear()
    assert not errors, f"unhandled errors in the event loop: {errors}"


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    from engine.db.embedded import embedded_dsn

    return embedded_dsn(tmp_path_factory.mktemp("embedded-pg"))


async def _admin(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> Iterator[str]:
    """A migrated database used as the TEMPLATE of each test database."""
    name = f"ce_tmpl_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = await _admin(pg_admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(pg_admin_dsn, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await _admin(pg_admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    run_isolated(create())
    yield name
    run_isolated(drop())


@pytest.fixture
def db_dsn(pg_admin_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh database (clone of the migrated template) for one test."""
    name = f"ce_t_{uuid.uuid4().hex[:12]}"

    async def admin_exec(sql: str) -> None:
        admin = await _admin(pg_admin_dsn)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    run_isolated(admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    yield with_database(pg_admin_dsn, name)
    run_isolated(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    from engine.db.pool import connect

    conn = await connect(db_dsn)
    yield conn
    await conn.close()
