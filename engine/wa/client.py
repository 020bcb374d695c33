"""The 360dialog waba-v2 client: one aiohttp session per channel.

``send`` never raises for network trouble; it returns a ``SendResult`` that says what is
known about the request's fate, because that decides between retrying (safe: the request
never left) and ``unknown`` (ambiguous: it may have been accepted):
- ``http``: a complete HTTP response (any status) with its parsed JSON body (or ``None``);
- ``not_sent``: the connection could not be established, so the request was not written;
- ``ambiguous``: timeout or connection reset after the request may have been written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import orjson

from engine.logs import register_secret

TransportKind = Literal["http", "not_sent", "ambiguous"]


@dataclass(frozen=True, slots=True)
class SendResult:
    kind: TransportKind
    status: int = 0
    body: Any = None
    detail: str = ""


class WabaClient:
    """POSTs to ``{base_url}/messages`` with ``D360-API-KEY``; sized for ``concurrency``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        concurrency: int,
        connect_timeout_s: float,
        request_timeout_s: float,
    ) -> None:
        register_secret(api_key)
        self.base_url = base_url.rstrip("/")
        self._messages_url = f"{self.base_url}/messages"
        # Session defaults, not per-request headers: aiohttp would rebuild and merge a
        # header multidict for every request (measurable at 10k requests/s).
        headers = {"D360-API-KEY": api_key, "Content-Type": "application/json"}
        self._connector = aiohttp.TCPConnector(
            limit=concurrency, limit_per_host=concurrency, keepalive_timeout=30, ttl_dns_cache=300
        )
        self._timeout = aiohttp.ClientTimeout(
            total=request_timeout_s, sock_connect=connect_timeout_s
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            headers=headers,
            timeout=self._timeout,
            json_serialize=lambda v: orjson.dumps(v).decode(),
            skip_auto_headers=("User-Agent",),
        )

    def __repr__(self) -> str:
        return f"WabaClient(base_url={self.base_url!r}, closed={self._session.closed})"

    async def close(self) -> None:
        await self._session.close()

    async def send(self, body: bytes) -> SendResult:
        """POST one serialized message body; see the module docstring for the outcomes."""
        try:
            async with self._session.post(self._messages_url, data=body) as resp:
                raw = await resp.read()
                return SendResult("http", resp.status, _parse_json(raw))
        except aiohttp.ClientConnectorError as exc:
            # DNS failure or connect refused/timed out: nothing was written.
            return SendResult("not_sent", detail=type(exc).__name__)
        except TimeoutError as exc:
            return SendResult("ambiguous", detail=f"timeout {type(exc).__name__}")
        except (aiohttp.ClientError, OSError) as exc:
            # Server disconnected / connection reset / payload error after writing.
            return SendResult("ambiguous", detail=type(exc).__name__)

    async def get_json(self, path: str) -> SendResult:
        """GET a JSON document (e.g. ``/health_status``) with the channel's key."""
        try:
            async with self._session.get(f"{self.base_url}{path}") as resp:
                return SendResult("http", resp.status, _parse_json(await resp.read()))
        except aiohttp.ClientConnectorError as exc:
            return SendResult("not_sent", detail=type(exc).__name__)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendResult("ambiguous", detail=type(exc).__name__)


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
