"""`webhooks serve` as a process: announces its URL, stores, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest

from tests.webhooks.helpers import (
    drained,
    eventually,
    headers,
    seed_campaign,
    status,
    statuses_body,
)

ROOT = Path(__file__).resolve().parents[2]
SERVE = (
    "import argparse, uvloop; from engine.commands.webhooks import webhooks_serve; "
    "raise SystemExit(uvloop.run(webhooks_serve(argparse.Namespace("
    "host='127.0.0.1', port=0, config=None))))"
)


@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_serve_process_stores_and_stops_on_sigterm(
    db_dsn: str, db: asyncpg.Connection
) -> None:
    seed = await seed_campaign(db, name="serve", recipients=1)
    env = {**os.environ, "DATABASE_URL": db_dsn, "WEBHOOK_SECRET": "s3cret-header-value"}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        url = orjson.loads(line)["listening"]
        async with aiohttp.ClientSession() as http:
            body = statuses_body(status("wamid.serve.0", "delivered", 9))
            async with http.post(f"{url}/webhooks/main", data=body, headers=headers()) as resp:
                assert resp.status == 200
        await eventually(lambda: drained(db))
        got = await db.fetchval("SELECT status FROM messages WHERE id = $1", seed.message_ids[0])
        assert got == "delivered"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"webhook_receiver_stopped" in err
    assert b"s3cret-header-value" not in err
