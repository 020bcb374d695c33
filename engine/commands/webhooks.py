"""`campaign webhooks serve` and `campaign webhooks configure CHANNEL --url URL`.

``serve`` runs the receiver and its correlator until SIGINT/SIGTERM, then stops accepting,
finishes the requests in flight, flushes the inbox and exits 0. Channel secrets: see
``engine.webhooks.settings`` (``--config FILE`` or the env-only ``WEBHOOK_SECRET``).

``configure`` checks the URL the way 360dialog does before sending anything, then sets the
channel's webhook with the secret header the receiver expects. Where the channel's API
lives: ``--spec SPEC.yaml`` (``channel.base_url``, ``channel.api_key_env``,
``channel.webhook_secret_env``); without it, the channel's ``base_url`` from the database,
the key from ``D360_API_KEY`` and the secret from ``WEBHOOK_SECRET``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
from collections.abc import Mapping

import orjson

from engine.commands.arguments import check_name
from engine.commands.database import open_db
from engine.config.loader import show
from engine.config.spec import load_spec, resolve_api_key, resolve_webhook_secret
from engine.db import webhooks as store
from engine.db.pool import resolve_dsn
from engine.errors import ConfigError, EngineError, InputError
from engine.logs import get_logger, register_secret
from engine.webhooks.configure import set_webhook, validate_secret, validate_webhook_url
from engine.webhooks.receiver import running_receiver
from engine.webhooks.settings import DEFAULT_HEADER, resolve_settings

log = get_logger("engine.webhooks")

DEFAULT_API_KEY_ENV = "D360_API_KEY"
DEFAULT_SECRET_ENV = "WEBHOOK_SECRET"


async def webhooks_serve(args: argparse.Namespace) -> int:
    """Serve ``POST /webhooks/{channel}`` on ``args.host:args.port`` until signalled."""
    if not 0 <= args.port <= 65535:
        raise InputError("--port", None, f"must be 0..65535, got {args.port}")
    try:
        await asyncio.get_running_loop().getaddrinfo(
            args.host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as exc:  # checked before the receiver starts
        reason = "not a host name or address"
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or reason
        raise InputError("--host", None, f"cannot resolve {show(args.host)}: {reason}") from exc
    settings = resolve_settings(args.config)
    dsn = resolve_dsn()
    async with open_db():  # schema up to date before the first body arrives
        pass
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listening = False
    try:
        async with running_receiver(dsn, settings, args.host, args.port) as receiver:
            listening = True
            print(orjson.dumps({"listening": receiver.url}).decode(), flush=True)
            await stop.wait()
            log.info("webhook_receiver_stopping")
    except OSError as exc:
        if listening:
            raise
        # A host that does not resolve, an address in use or not ours: one line, exit 1.
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise EngineError(f"cannot listen on {args.host}:{args.port}: {reason}") from exc
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def _env(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise ConfigError("environment", name, "not set or empty")
    return value


async def _target(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str, str, str, str]:
    """(base_url, api_key, secret, where the secret came from) for the channel."""
    if args.spec:
        spec = load_spec(args.spec)
        if spec.channel.name != args.channel:
            raise ConfigError(
                spec.source,
                "channel.name",
                f"is {spec.channel.name!r}, not the channel {args.channel!r} given",
            )
        api_key = resolve_api_key(spec, environ)
        secret = resolve_webhook_secret(spec, environ)
        env_name = spec.channel.webhook_secret_env or DEFAULT_SECRET_ENV
        return spec.channel.base_url, api_key, secret or _env(environ, env_name), env_name
    async with open_db() as conn:
        base_url = await store.channel_base_url(conn, args.channel)
    if base_url is None:
        raise ConfigError(
            args.channel, None, "no such channel in the database (pass --spec SPEC.yaml)"
        )
    api_key = _env(environ, DEFAULT_API_KEY_ENV)
    return base_url, api_key, _env(environ, DEFAULT_SECRET_ENV), DEFAULT_SECRET_ENV


async def webhooks_configure(args: argparse.Namespace) -> int:
    """Point 360dialog's webhook for ``args.channel`` at ``args.url``; prints what was set."""
    check_name(args.channel, "channel name")
    url = validate_webhook_url(args.url, allow_local=args.allow_local)
    base_url, api_key, secret, secret_env = await _target(args, os.environ)
    register_secret(api_key)
    register_secret(secret)
    validate_secret(secret, secret_env)
    result = await set_webhook(base_url, api_key, url, secret, header=DEFAULT_HEADER)
    log.info("webhook_configured", channel=args.channel, url=url)
    print(orjson.dumps({"channel": args.channel, **result}).decode(), flush=True)
    return 0
