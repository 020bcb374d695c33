"""``campaign sandbox [--host H] [--port P] [--config FILE.yaml] [--seed N]``.

Runs the simulator on uvloop until SIGINT/SIGTERM, then shuts down gracefully (stops
listening, lets in-flight requests finish for up to ``SHUTDOWN_TIMEOUT_S``). Once listening
it prints exactly one JSON line on stdout and flushes it, so a parent process can read the
port (``--port 0`` picks a free one)::

    {"event": "sandbox_listening", "host": "127.0.0.1", "port": 8360,
     "base_url": "http://127.0.0.1:8360"}

Exit codes: 0 after a signal, 2 for a bad config (one line on stderr naming file, field
and reason), 1 when the address cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import orjson
from aiohttp import web

from engine.errors import ConfigError
from engine.sandbox.app import make_app
from engine.sandbox.config import SandboxConfig, default_sandbox_config, load_sandbox_config

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8360
SHUTDOWN_TIMEOUT_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    # The CLI's parser: a usage error is one line on stderr and exit 2, as for every command.
    from engine.cli import OneLineParser

    parser = OneLineParser(
        prog="campaign sandbox",
        description="Local 360dialog (waba-v2) simulator with status webhooks and faults.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="listen address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="listen port (default 8360; 0 = any free)"
    )
    parser.add_argument("--config", help="YAML file (see campaigns/sandbox.example.yaml)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random decision")
    return parser


async def serve(config: SandboxConfig, *, host: str, port: int, seed: int) -> int:
    """Listen, announce, and run until SIGINT/SIGTERM."""
    app = make_app(config, seed=seed)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    try:
        await site.start()
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host name IDNA refuses (a..b)
        await runner.cleanup()
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
        else:
            reason = "not a host name or address"
        print(f"campaign sandbox: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 1
    bound = runner.addresses[0]
    actual_port = int(bound[1])
    url_host = f"[{host}]" if ":" in host else host
    line = {
        "event": "sandbox_listening",
        "host": host,
        "port": actual_port,
        "base_url": f"http://{url_host}:{actual_port}",
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (without the program name), load the config, serve on uvloop."""
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    if args.config is not None and not args.config.strip():
        print("campaign sandbox: --config: expected a file name", file=sys.stderr)
        return 2
    try:
        config = (
            load_sandbox_config(args.config)
            if args.config is not None
            else default_sandbox_config()
        )
    except ConfigError as exc:
        print(f"campaign sandbox: {exc}", file=sys.stderr)
        return exc.exit_code
    if not 0 <= args.port <= 65535:
        print(f"campaign sandbox: --port: must be 0..65535, got {args.port}", file=sys.stderr)
        return 2

    import uvloop

    return uvloop.run(serve(config, host=args.host, port=args.port, seed=args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
