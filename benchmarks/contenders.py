"""The loops the engine is compared with, each run in its own process.

- ``raw``: the ceiling: a bare aiohttp client (uvloop, keep-alive, N workers) posting the
  same bodies to the same sandbox, no bookkeeping at all.
- ``naive``: what a user would write first: ``asyncio.gather`` over a semaphore, aiohttp,
  and one autocommit asyncpg UPDATE per message to record its wamid.
- ``naive_httpx``: the same naive loop with httpx instead of aiohttp.

Usage: python -m benchmarks.contenders KIND --base-url URL --n N --concurrency C [--dsn DSN]
Prints one JSON line: {"kind", "sent", "accepted", "wall_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
import uvloop


def make_body(i: int) -> bytes:
    return orjson.dumps(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"4915{i:09d}",
            "type": "template",
            "biz_opaque_callback_data": f"c1:m{i}",
            "template": {
                "name": "demo_promo",
                "language": {"policy": "deterministic", "code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": f"Name{i}"},
                            {"type": "text", "text": f"CODE{i}"},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "0",
                        "parameters": [{"type": "text", "text": f"c{i}"}],
                    },
                ],
            },
        }
    )


HEADERS = {"D360-API-KEY": "bench-key", "Content-Type": "application/json"}


async def raw(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    accepted = 0
    next_i = 0
    url = args.base_url + "/messages"
    conn = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def worker() -> None:
            nonlocal accepted, next_i
            while next_i < args.n:
                i = next_i
                next_i += 1
                async with session.post(url, data=make_body(i), headers=HEADERS) as resp:
                    body = await resp.read()
                    if resp.status == 200 and orjson.loads(body)["messages"][0]["id"]:
                        accepted += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - start
    return {"kind": "raw", "sent": args.n, "accepted": accepted, "wall_s": wall}


async def naive(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    import asyncpg

    pool = await asyncpg.create_pool(args.dsn, min_size=4, max_size=args.concurrency)
    ids = [
        r["id"] for r in await pool.fetch("SELECT id FROM messages ORDER BY id LIMIT $1", args.n)
    ]
    sem = asyncio.Semaphore(args.concurrency)
    accepted = 0
    url = args.base_url + "/messages"
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.concurrency)
    ) as session:

        async def one(i: int, mid: int) -> None:
            nonlocal accepted
            async with sem:
                async with session.post(url, data=make_body(i), headers=HEADERS) as resp:
                    data = orjson.loads(await resp.read())
                wamid = data["messages"][0]["id"]
                await pool.execute(
                    "UPDATE messages SET state='accepted', wamid=$1, accepted_at=now() WHERE id=$2",
                    wamid,
                    mid,
                )
                accepted += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i, mid) for i, mid in enumerate(ids)))
        wall = time.perf_counter() - start
    await pool.close()
    return {"kind": "naive", "sent": len(ids), "accepted": accepted, "wall_s": wall}


async def naive_httpx(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    pool = await asyncpg.create_pool(args.dsn, min_size=4, max_size=args.concurrency)
    ids = [
        r["id"] for r in await pool.fetch("SELECT id FROM messages ORDER BY id LIMIT $1", args.n)
    ]
    sem = asyncio.Semaphore(args.concurrency)
    accepted = 0
    url = args.base_url + "/messages"
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(i: int, mid: int) -> None:
            nonlocal accepted
            async with sem:
                resp = await client.post(url, content=make_body(i), headers=HEADERS)
                wamid = resp.json()["messages"][0]["id"]
                await pool.execute(
                    "UPDATE messages SET state='accepted', wamid=$1, accepted_at=now() WHERE id=$2",
                    wamid,
                    mid,
                )
                accepted += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i, mid) for i, mid in enumerate(ids)))
        wall = time.perf_counter() - start
    await pool.close()
    return {"kind": "naive_httpx", "sent": len(ids), "accepted": accepted, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["raw", "naive", "naive_httpx"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()
    func = {"raw": raw, "naive": naive, "naive_httpx": naive_httpx}[args.kind]
    print(orjson.dumps(uvloop.run(func(args))).decode())


if __name__ == "__main__":
    main()
