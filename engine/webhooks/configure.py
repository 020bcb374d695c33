"""Pointing 360dialog's webhook for a channel at our receiver.

``POST {base_url}/v1/configs/webhook`` with header ``D360-API-KEY`` and body
``{"url": URL, "headers": {"X-Webhook-Secret": SECRET}}`` (reference §1.6).

URL rules, as 360dialog applies them: ``https`` only, a host name without ``_``, no
explicit ``:port``, no credentials, query or fragment. ``allow_local`` admits a loopback
host (``localhost``, ``127.0.0.0/8``, ``::1``) over ``http`` and with a port, for the
sandbox and tests; other hosts stay strict. 360dialog applies the underscore rule to
header values too, so a secret containing ``_`` is refused before anything is sent.

Failure modes: ``ConfigError`` (exit 2) for a bad URL or secret, naming the problem;
``WebhookConfigError`` when 360dialog (or the network) refuses the change.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from engine.errors import ConfigError, EngineError
from engine.webhooks.settings import DEFAULT_HEADER

CONFIG_PATH = "/v1/configs/webhook"
_TIMEOUT_S = 15.0


class WebhookConfigError(EngineError):
    """360dialog did not accept the webhook configuration (or could not be reached)."""

    exit_code = 1


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_webhook_url(url: str, *, allow_local: bool = False) -> str:
    """Return ``url`` when 360dialog would accept it; else ``ConfigError("--url", ...)``."""

    def fail(reason: str) -> ConfigError:
        return ConfigError("--url", None, f"{reason}: {url!r}")

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise fail(f"not a valid URL ({exc})") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise fail("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise fail("must not contain credentials")
    if parts.query or parts.fragment:
        raise fail("must not have a query string or fragment")
    local = allow_local and _is_loopback(host)
    if parts.scheme != "https" and not local:
        hint = "" if allow_local else " (http on a loopback host needs --allow-local)"
        raise fail(f"must use https{hint}")
    if "_" in host:
        raise fail("host must not contain '_' (360dialog rejects underscores)")
    if port is not None and not local:
        hint = "" if allow_local else " (a loopback port needs --allow-local)"
        raise fail(f"must not name a port (360dialog rejects ':port'){hint}")
    return url.strip()


def validate_secret(secret: str, where: str) -> str:
    """360dialog's header rules: non-empty, printable ASCII, no ``_``."""
    if not secret or not secret.isprintable() or not secret.isascii():
        raise ConfigError(where, None, "webhook secret must be non-empty printable ASCII")
    if "_" in secret:
        raise ConfigError(where, None, "webhook secret must not contain '_' (360dialog rule)")
    return secret


def mask_secret(secret: str) -> str:
    """``s3cr3t-value`` -> ``s3***``: enough to recognise, never enough to use."""
    return secret[:2] + "***" if len(secret) >= 8 else "***"


async def set_webhook(
    base_url: str,
    api_key: str,
    url: str,
    secret: str,
    *,
    header: str = DEFAULT_HEADER,
    session: aiohttp.ClientSession | None = None,
) -> dict[str, Any]:
    """Configure the channel's webhook; returns what was set, the secret masked."""
    body = {"url": url, "headers": {header: secret}}
    target = base_url.rstrip("/") + CONFIG_PATH
    own = session is None
    client = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_TIMEOUT_S))
    try:
        async with client.post(
            target,
            data=orjson.dumps(body),
            headers={"D360-API-KEY": api_key, "Content-Type": "application/json"},
        ) as resp:
            status = resp.status
            text = await resp.text(errors="replace")
            if status >= 300:
                raise WebhookConfigError(
                    f"webhook configure: {target} answered HTTP {status}: {text[:200]}"
                )
    except aiohttp.ClientError as exc:
        raise WebhookConfigError(f"webhook configure: {target}: {exc}") from exc
    except TimeoutError as exc:
        raise WebhookConfigError(f"webhook configure: {target}: timed out") from exc
    finally:
        if own:
            await client.close()
    return {
        "endpoint": target,
        "url": url,
        "headers": {header: mask_secret(secret)},
        "status": status,
    }
