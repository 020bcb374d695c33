"""Helpers for the bad-input suite: the refusal contract, spec variants, a seeded database.

The contract (DESIGN.md, CLI): bad input exits non-zero (2 = bad input or config, 3 =
database) with ONE line on stderr naming the file, line or field and the reason, prints no
traceback, and changes nothing (the row counts of every data table are equal before and
after).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
import yaml

from engine import logs
from engine.cli import main
from tests.helpers import CliResult, run_isolated

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "badinput"
API_KEY_ENV = "BADINPUT_API_KEY"
API_KEY = "d360-key-Zq7WkP3vXr9T"  # distinctive, so a leak anywhere is found by substring
AUDIENCE = "spring-list"
SEEDED = "seeded"  # a completed campaign with failed, delivered and read rows
PHONES = ("+4915123456701", "+4915123456702", "+4915123456703")
DELETE = object()  # marks a field to remove in ``spec_with``


def refused(res: CliResult, *needles: str, code: int = 2, prefix: str = "campaign: ") -> str:
    """Assert the refusal contract on a finished command; returns its one stderr line."""
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{res.stderr[:3000]}"
    line = lines[0]
    assert res.code == code, f"exit {res.code} (expected {code}): {line[:500]}"
    assert line.startswith(prefix), line[:500]
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line[:1000]}"
    assert len(line) <= 1100, f"error line is {len(line)} characters"
    assert res.stdout == "", res.stdout[:500]
    return line


class InProcess:
    """``campaign ARGS`` through ``engine.cli.main`` inside the test process.

    The same entry point ``python -m engine`` calls (``raise SystemExit(main())``), minus
    the 0.4 s interpreter start: for long tables of cases that all stop before any I/O.
    An exception escaping ``main`` fails the test (the process would print a traceback).
    ``main`` configures logging and registers secrets per call; both are restored after."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self._mp = monkeypatch
        self._capsys = capsys

    def __call__(
        self, *args: str, dsn: str | None, cwd: Path, env: Mapping[str, str] | None = None
    ) -> CliResult:
        saved = structlog.get_config()
        saved_state, saved_secrets = dict(logs._state), set(logs._secrets)
        self._capsys.readouterr()
        with self._mp.context() as mp:
            mp.delenv("DATABASE_URL", raising=False)
            if dsn is not None:
                mp.setenv("DATABASE_URL", dsn)
            for key, value in (env or {}).items():
                mp.setenv(key, value)
            mp.chdir(cwd)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                structlog.configure(**saved)
                logs._state.update(saved_state)
                logs._secrets.clear()
                logs._secrets.update(saved_secrets)
        out, err = self._capsys.readouterr()
        return CliResult(code, out, err)


def base_spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / "spec.yaml").read_text())
    return data


def spec_with(changes: dict[str, Any]) -> dict[str, Any]:
    """The base spec with dotted paths (``profile.rate_per_s``) set, or removed (DELETE)."""
    data = copy.deepcopy(base_spec())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def write_spec(directory: Path, data: dict[str, Any] | str, name: str = "spec.yaml") -> Path:
    path = directory / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False, width=10**9)
    path.write_text(text, encoding="utf-8")
    return path


async def seed(dsn: str) -> None:
    """Audience ``spring-list`` (3 recipients with the spec's attributes) and a completed
    campaign ``seeded`` on channel ``main``: one row failed with 131026, one delivered,
    one read. Gives "the database is unchanged" something to be unchanged about."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO portfolios (name) VALUES ('default')")
            await conn.execute(
                "INSERT INTO channels (name, portfolio, base_url) VALUES"
                " ('main', 'default', 'http://127.0.0.1:9')"
            )
            audience_id = await conn.fetchval(
                "INSERT INTO audiences (name) VALUES ($1) RETURNING id", AUDIENCE
            )
            campaign_id = await conn.fetchval(
                "INSERT INTO campaigns (name, spec, spec_hash, channel, audience_id,"
                " template_name, template_language, state)"
                " VALUES ($1, '{}'::jsonb, 'h', 'main', $2, 'demo_promo', 'en', 'completed')"
                " RETURNING id",
                SEEDED,
                audience_id,
            )
            rows = [
                ("failed", None, 131026, "failed"),
                ("accepted", "delivered", None, "delivered"),
                ("accepted", "read", None, "read"),
            ]
            for i, (phone, (state, status, code, _)) in enumerate(zip(PHONES, rows, strict=True)):
                rid = await conn.fetchval(
                    "INSERT INTO recipients (audience_id, phone, attrs)"
                    " VALUES ($1, $2, jsonb_build_object('first_name', $3::text, 'code', $4::text))"
                    " RETURNING id",
                    audience_id,
                    phone,
                    f"Name{i}",
                    f"C{i}",
                )
                await conn.execute(
                    "INSERT INTO messages (campaign_id, recipient_id, phone, state, status,"
                    " error_code, wamid, attempts, accepted_at, failed_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, 1,"
                    " CASE WHEN $4 = 'accepted' THEN now() END,"
                    " CASE WHEN $4 = 'failed' THEN now() END)",
                    campaign_id,
                    rid,
                    phone,
                    state,
                    status,
                    code,
                    f"wamid.seeded.{i}" if state == "accepted" else None,
                )
    finally:
        await conn.close()


async def _table_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        names = [t["table_name"] for t in tables]
        selects = ", ".join(f'(SELECT count(*) FROM "{n}") AS "{n}"' for n in names)
        row = await conn.fetchrow(f"SELECT {selects}")
        return dict(row) if row is not None else {}
    finally:
        await conn.close()


def all_counts(dsn: str) -> dict[str, int]:
    """Row counts of every table in the schema (``tests.helpers.counts`` and then some:
    tables added by later migrations are covered without editing this list)."""
    result: dict[str, int] = run_isolated(_table_counts(dsn))
    return result


async def message_states(dsn: str) -> list[tuple[Any, ...]]:
    """Every outbox row's mutable columns, for "nothing changed" beyond row counts."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, state, status, attempts, retry_at, error_code FROM messages ORDER BY id"
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()
