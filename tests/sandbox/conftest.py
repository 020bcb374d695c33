"""Fixtures for the sandbox suite: a movable clock, a webhook receiver, request builders,
and golden-file comparison with volatile values (wamids, trace ids, times) normalised.

Everything listens on 127.0.0.1 with a free port; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sandbox"
T0 = 1_750_000_000.0

#: Webhook behaviour for tests: every status immediate, tiny batching window.
FAST_LIFECYCLE: dict[str, Any] = {
    "delivered_ratio": 1.0,
    "read_ratio": 1.0,
    "sent_delay": {"p50_ms": 0, "p99_ms": 0},
    "delivered_delay": {"p50_ms": 0, "p99_ms": 0},
    "read_delay": {"p50_ms": 0, "p99_ms": 0},
    "failed_delay": {"p50_ms": 0, "p99_ms": 0},
}
FAST_DELIVERY: dict[str, Any] = {
    "batch_window_ms": 1,
    "retry_initial_ms": 10,
    "retry_max_ms": 40,
    "request_timeout_ms": 2000,
}


class FakeClock:
    """The sandbox's injected clock (Unix seconds); tests move it by hand."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Receiver:
    """A webhook receiver: records every POST; answers from ``script`` (default 200)."""

    def __init__(self) -> None:
        self.posts: list[tuple[Mapping[str, str], Any]] = []
        self.raw: list[bytes] = []
        self.script: list[int | float] = []  # int = status to answer; float = seconds to stall
        self.url = ""
        self._changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = orjson.loads(raw)
        action = self.script.pop(0) if self.script else 200
        if isinstance(action, float):
            await asyncio.sleep(action)
            action = 200
        self.posts.append((dict(request.headers), body))
        self.raw.append(raw)
        self._changed.set()
        return web.Response(status=action, text="ok")

    def accepted_posts(self) -> list[Any]:
        return [body for _headers, body in self.posts]

    def statuses(self) -> list[dict[str, Any]]:
        """Every status object received, in arrival order (duplicates and retries included)."""
        return [
            status
            for body in self.accepted_posts()
            for entry in body["entry"]
            for change in entry["changes"]
            for status in change["value"].get("statuses", ())
        ]

    async def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


def hello(to: str = "15551234567", callback: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    if callback is not None:
        body["biz_opaque_callback_data"] = callback
    return body


def promo(
    to: str = "15551234567", name: str = "Ada", code: str = "SPRING25", callback: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {
            "name": "demo_promo",
            "language": {"policy": "deterministic", "code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": name}, {"type": "text", "text": code}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": code}],
                },
            ],
        },
    }
    if callback is not None:
        body["biz_opaque_callback_data"] = callback
    return body


_VOLATILE = {"fbtrace_id": "<fbtrace_id>", "timestamp": "<timestamp>", "time": "<time>"}


def normalize(value: Any, key: str | None = None) -> Any:
    """Replace volatile values by markers, checking their type on the way."""
    if isinstance(value, dict):
        return {k: normalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str) and value.startswith("wamid."):
        return "<wamid>"
    if key in _VOLATILE:
        if key == "timestamp":
            assert isinstance(value, str | int) and str(value).isdigit(), value
            return f"<timestamp:{type(value).__name__}>"
        if key == "time":
            assert isinstance(value, int), value
        return _VOLATILE[key]
    return value


def assert_golden(name: str, data: Any) -> None:
    """Compare ``data`` (normalised) with ``tests/fixtures/sandbox/<name>.json``.

    ``UPDATE_GOLDEN=1`` rewrites the file instead (review the diff before keeping it).
    """
    path = FIXTURES / f"{name}.json"
    got = normalize(data)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(
            orjson.dumps(got, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
    want = orjson.loads(path.read_bytes())
    assert got == want, f"{name}: shape differs from golden file {path}"


async def send(sb: Any, body: Any, key: str | None = "k1") -> tuple[int, Any]:
    """``POST /messages`` on a running sandbox harness."""
    status, data = await sb.post_json("/messages", body, api_key=key)
    return status, data
