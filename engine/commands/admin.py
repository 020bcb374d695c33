"""`db migrate`, `audience import`, `status`."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from engine.commands.database import open_db
from engine.db import audiences, campaigns
from engine.db.migrate import migrate
from engine.errors import InputError
from engine.importer import ImportResult, iter_chunks, open_csv, read_layout
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
    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - one stat before anything runs concurrently
        raise InputError(str(path), None, "no such file")
    region = args.default_region.upper() if args.default_region else None
    if region is not None and (len(region) != 2 or not region.isalpha()):
        raise InputError(
            "--default-region", None, f"expected a 2-letter country code, got {region!r}"
        )
    # Fail on a bad header before touching the database.
    import csv

    with open_csv(path) as handle:
        try:
            header = next(csv.reader(handle), None)
        except csv.Error as exc:
            raise InputError(str(path), "line 1", str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise InputError(str(path), None, f"not UTF-8 text ({exc.reason})") from exc
    if header is None:
        raise InputError(str(path), None, "file is empty (expected a header row)")
    read_layout(path, header, args.phone_column)

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
    async with open_db() as conn:
        rows = await campaigns.list_campaigns(conn, args.name)
        auds = await audiences.list_audiences(conn) if args.name is None else []
    _print_json({"campaigns": rows, "audiences": auds})
    return 0
