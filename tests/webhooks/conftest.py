"""Fixtures: a running receiver (real HTTP, real Postgres) and a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from engine.webhooks.receiver import RunningReceiver, running_receiver
from tests.webhooks.helpers import settings


@pytest.fixture
async def receiver(db_dsn: str) -> AsyncIterator[RunningReceiver]:
    async with running_receiver(db_dsn, settings()) as r:
        yield r


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
