"""`db migrate`, `audience import`, `status`."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from engine.commands.arguments import check_name
from engine.commands.database import open_db
from engine.config.loader import show
from engine.core.phones import known_region
from engine.db import audiences, campaigns, holds
from engine.db.migrate import migrate
from engine.errors import ConfigError, InputError
from engine.importer import ImportResult, iter_chunks, read_header
from engine.logs import get_logger

log = get_logger("engine.admin")


def _print_json(value: object) -> None:
    print(orjson.dumps(value, default=str).decode(), flush=True)


async def db_migrate(_args: argparse.Namespace) -> int:
    async with open_db(apply_migrations=False) as conn:
        applied = await migrate(conn)
    _print_json({"applied": applied})
    return 0


async def audience_import(args: argparse.Namespace) -> int:
    # Everything that can be checked without the database is checked first: bad input
    # changes nothing.
    check_name(args.name, "audience name")
    path = Path(args.file)
    if not path.exists():  # noqa: ASYNC240 - one stat before anything runs concurrently
        raise InputError(str(path), None, "no such file")
    if not path.is_file():  # noqa: ASYNC240
        kind = "a directory" if path.is_dir() else "not a regular file"  # noqa: ASYNC240
        raise InputError(str(path), None, f"is {kind} (expected a CSV file)")
    region = args.default_region.strip().upper() if args.default_region is not None else None
    if region is not None and (len(region) != 2 or not region.isalpha()):
        raise InputError(
            "--default-region", None, f"expected a 2-letter country code, got {show(region)}"
        )
    if region is not None and not known_region(region):
        raise InputError(
            "--default-region", None, f"unknown country code {region!r} (e.g. DE, US, IN)"
        )
    read_header(path, args.phone_column)

    result = ImportResult()
    async with open_db() as conn:
        inserted, staged = await audiences.import_rows(
            conn, args.name, iter_chunks(path, args.phone_column, region, result)
        )
    result.imported = inserted
    result.duplicates = staged - inserted
    log.info(
        "audience_imported",
        audience=args.name,
        imported=result.imported,
        duplicates=result.duplicates,
        invalid=result.invalid_total,
    )
    _print_json(result.to_json())
    return 0


async def status(args: argparse.Namespace) -> int:
    if args.name is not None:
        check_name(args.name, "campaign name")
    async with open_db() as conn:
        rows = await campaigns.list_campaigns(conn, args.name)
        auds = await audiences.list_audiences(conn) if args.name is None else []
        for row in rows:
            row["holds"] = [
                {"scope": h.scope, "reason": h.reason, "source": h.source,
                 "remaining_s": h.remaining_s}
                for h in await holds.covering(conn, row["id"])
            ]  # fmt: skip
    if args.name is not None and not rows:
        raise ConfigError(args.name, None, "no such campaign")
    _print_json({"campaigns": rows, "audiences": auds})
    return 0
