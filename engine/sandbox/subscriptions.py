"""Per-key webhook configuration (``/v1/configs/webhook``) with 360dialog's URL rules.

360dialog rejects Cloud API webhook URLs whose host contains ``_`` or that carry an
explicit ``:port``. ``allow_loopback_ports`` relaxes the port rule for loopback hosts
(``localhost``, ``127.0.0.0/8``, ``::1``) so a local receiver can be used. The scheme must be
http or https. A key without its own configuration uses the config's ``default_url`` and
``default_headers`` (or has no destination at all).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from engine.sandbox.config import WebhookConfig


class Destination:
    """Where a key's webhooks go: ``url`` and the extra ``headers`` sent with every POST."""

    __slots__ = ("headers", "url")

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self.url = url
        self.headers = dict(headers)

    def __repr__(self) -> str:
        return f"<Destination {self.url} headers={sorted(self.headers)}>"

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "headers": dict(self.headers)}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: object, *, allow_loopback_ports: bool) -> str | None:
    """Why 360dialog would refuse ``url`` as a webhook URL, or None when it is acceptable."""
    if not isinstance(url, str) or not url:
        return "url must be a non-empty string"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "url is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an http(s) URL with a host"
    host = parts.hostname
    if "_" in host:
        return "Webhook URL host must not contain underscores (_)"
    if port is not None and not (allow_loopback_ports and _is_loopback(host)):
        return "Webhook URL must not contain an explicit port"
    return None


def headers_problem(headers: object) -> str | None:
    """Why ``headers`` is not a map of header names to string values, or None."""
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        return "headers must be an object"
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            return "headers must map header names to string values"
        if any(c in name for c in " :\r\n") or "\r" in value or "\n" in value:
            return f"invalid header {name!r}"
    return None


class Subscriptions:
    """Webhook destinations by API key, falling back to the config default."""

    __slots__ = ("_by_key", "_config", "_default")

    def __init__(self, config: WebhookConfig) -> None:
        self._config = config
        self._by_key: dict[str, Destination] = {}
        self._default = (
            Destination(config.default_url, config.default_headers) if config.default_url else None
        )

    def __repr__(self) -> str:
        return f"<Subscriptions keys={len(self._by_key)} default={self._default!r}>"

    def set(self, api_key: str, body: object) -> Destination | str:
        """Store ``{url, headers}`` for ``api_key``; returns it, or the reason it was refused."""
        if not isinstance(body, Mapping):
            return "body must be a JSON object with url and headers"
        problem = url_problem(
            body.get("url"), allow_loopback_ports=self._config.allow_loopback_ports
        ) or headers_problem(body.get("headers"))
        if problem is not None:
            return problem
        dest = Destination(str(body["url"]), body.get("headers") or {})
        self._by_key[api_key] = dest
        return dest

    def get(self, api_key: str | None) -> Destination | None:
        """The destination for ``api_key`` (its own, else the default, else None)."""
        if api_key is not None:
            dest = self._by_key.get(api_key)
            if dest is not None:
                return dest
        return self._default
