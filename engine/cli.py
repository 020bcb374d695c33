"""The ``campaign`` command line (also ``python -m engine``).

Every failure the user can fix is one line on stderr and a non-zero exit: ``EngineError``
subclasses carry their own exit codes (2 = bad input/config, 3 = database, 4 = state).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

from engine import logs
from engine.errors import EngineError, NotBuiltError

Handler = Callable[[argparse.Namespace], int]

MAX_ERROR_CHARS = 1000  # an error names a field and a reason; a longer value is cut


def one_line(message: str) -> str:
    """``message`` as one terminal line: line breaks become spaces, at most
    ``MAX_ERROR_CHARS`` characters (a huge value quoted in a message must not flood stderr)."""
    text = " ".join(part.strip() for part in message.splitlines() if part.strip())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return text


class OneLineParser(argparse.ArgumentParser):
    """argparse with the CLI's error contract: a usage error is one line on stderr, exit 2
    (argparse's default prints the whole usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine on uvloop (the production loop)."""
    import uvloop

    return uvloop.run(coro)


def _db_migrate(args: argparse.Namespace) -> int:
    from engine.commands import db_migrate

    return run_async(db_migrate(args))


def _audience_import(args: argparse.Namespace) -> int:
    from engine.commands import audience_import

    return run_async(audience_import(args))


def _status(args: argparse.Namespace) -> int:
    from engine.commands import status

    return run_async(status(args))


def _sandbox(args: argparse.Namespace) -> int:  # pragma: no cover - routed in main()
    from engine.sandbox.cli import main as sandbox_main

    return sandbox_main(list(args.rest))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="campaign",
        description="WhatsApp template campaigns through 360dialog, paced and crash-safe.",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument(
        "--log-pii", action="store_true", help="log phone numbers unmasked (default: masked)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    mig = db_sub.add_parser("migrate", help="apply pending migrations from sql/migrations")
    mig.set_defaults(handler=_db_migrate)

    aud = sub.add_parser("audience", help="recipient lists")
    aud_sub = aud.add_subparsers(dest="audience_command", metavar="SUBCOMMAND", required=True)
    imp = aud_sub.add_parser("import", help="import a CSV of recipients (COPY, E.164, dedupe)")
    imp.add_argument("name")
    imp.add_argument("file")
    imp.add_argument("--phone-column", default="phone")
    imp.add_argument(
        "--default-region", default=None, help="ISO country for local numbers, e.g. DE"
    )
    imp.set_defaults(handler=_audience_import)

    run = sub.add_parser("run", help="run (or resume) the campaign described by SPEC.yaml")
    run.add_argument("spec")
    run.add_argument("--profile", default=None, help="throughput profile name or path")
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("--force-new", action="store_true")
    run.add_argument("--log-format", choices=["json", "auto"], default="auto")
    run.set_defaults(handler=_run)

    st = sub.add_parser("status", help="list campaigns with state and progress")
    st.add_argument("name", nargs="?")
    st.set_defaults(handler=_status)

    for verb in ("pause", "resume", "cancel"):
        p = sub.add_parser(verb, help=f"{verb} a campaign (takes effect within a second)")
        p.add_argument("name")
        p.set_defaults(handler=_lifecycle, verb=verb)

    retry = sub.add_parser("retry", help="re-queue failed rows with the given error codes")
    retry.add_argument("name")
    retry.add_argument("--codes", required=True)
    retry.add_argument("--after", default=None, help="delay, e.g. 30m, 24h")
    retry.set_defaults(handler=_retry)

    rep = sub.add_parser("report", help="campaign report (text, --json, --csv FILE)")
    rep.add_argument("name")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--csv", default=None, metavar="FILE")
    rep.set_defaults(handler=_report)

    wh = sub.add_parser("webhooks", help="status webhook receiver")
    wh_sub = wh.add_subparsers(dest="webhooks_command", metavar="SUBCOMMAND", required=True)
    serve = wh_sub.add_parser("serve", help="receive, store and correlate webhooks")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--config", default=None)
    serve.set_defaults(handler=_webhooks_serve)
    conf = wh_sub.add_parser("configure", help="point 360dialog's webhook for CHANNEL at URL")
    conf.add_argument("channel")
    conf.add_argument("--url", required=True)
    conf.add_argument("--spec", default=None)
    conf.add_argument("--allow-local", action="store_true")
    conf.set_defaults(handler=_webhooks_configure)

    sb = sub.add_parser("sandbox", help="run the local 360dialog simulator", add_help=False)
    sb.add_argument("rest", nargs=argparse.REMAINDER)
    sb.set_defaults(handler=_sandbox)

    demo = sub.add_parser("demo", help="full campaign on the embedded database and the sandbox")
    demo.add_argument("--recipients", type=int, default=2000)
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(handler=_demo)
    return parser


def _dispatch(module: str, name: str) -> Handler:
    """Handlers that live in runtime modules, imported only when used."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        mod = importlib.import_module(module)
        func = getattr(mod, name, None)
        if func is None:
            raise NotBuiltError(f"campaign {args.command}: not built yet")
        result: int = run_async(func(args))
        return result

    return handler


_run = _dispatch("engine.commands", "run")
_lifecycle = _dispatch("engine.commands", "lifecycle")
_retry = _dispatch("engine.commands", "retry")
_report = _dispatch("engine.commands", "report")
_webhooks_serve = _dispatch("engine.commands", "webhooks_serve")
_webhooks_configure = _dispatch("engine.commands", "webhooks_configure")
_demo = _dispatch("engine.commands", "demo")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        # The simulator has its own parser (and flags); hand it the rest verbatim.
        from engine.sandbox.cli import main as sandbox_main

        return sandbox_main(argv[1:])
    args = build_parser().parse_args(argv)
    human = getattr(args, "log_format", "json") == "auto" and sys.stderr.isatty()
    logs.configure(level=args.log_level, pii=args.log_pii, human=human)
    try:
        code: int = args.handler(args)
        return code
    except EngineError as exc:
        print(f"campaign: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
