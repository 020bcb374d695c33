"""`run`, `pause|resume|cancel`, `retry`, `report`."""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from pathlib import Path

import orjson

from engine import logs
from engine.commands.arguments import check_name
from engine.commands.database import open_db
from engine.core.states import CampaignState, allowed_sources
from engine.db import campaigns, holds, reports
from engine.db.pool import resolve_dsn
from engine.errors import CampaignStateError, ConfigError, InputError
from engine.report import build_report, format_report
from engine.run.job import CampaignJob
from engine.run.settings import load_job_settings

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


MAX_DURATION_S = 366 * 86400
MAX_ERROR_CODE = 2**31 - 1  # error codes are stored as Postgres integer


def parse_duration(text: str, where: str) -> float:
    """``30s``, ``15m``, ``24h``, ``2d`` (decimals allowed) in seconds, at most 366 days."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(
            where, None, f"expected a duration like 30s, 15m, 24h or 2d, got {text!r}"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > MAX_DURATION_S:
        raise ConfigError(where, None, f"must be at most 366d, got {text!r}")
    return seconds


def parse_codes(text: str) -> list[int]:
    """``--codes 131026,131049``: positive error codes (``InputError`` otherwise)."""
    items = [c.strip() for c in text.split(",")]
    if not any(items):
        raise InputError("--codes", None, "at least one error code is required")
    codes: list[int] = []
    for item in items:
        if not item:
            continue
        ok = item.isascii() and item.isdigit() and len(item) <= 10
        if not ok or not 0 < int(item) <= MAX_ERROR_CODE:
            raise InputError(
                "--codes",
                None,
                f"expected comma-separated positive error codes like 131026,131049,"
                f" got {item[:40]!r}",
            )
        codes.append(int(item))
    return codes


async def run(args: argparse.Namespace) -> int:
    settings = load_job_settings(Path(args.spec), profile_override=args.profile, environ=os.environ)
    if args.dry_run:
        from engine.run.dryrun import dry_run

        return await dry_run(settings, force_new=args.force_new)
    job = CampaignJob(settings, dsn=resolve_dsn(), force_new=args.force_new)
    result = await job.run()
    async with open_db(apply_migrations=False) as conn:
        raw = await reports.campaign_report(conn, result.campaign_id)
    report = build_report(settings.name, result.state, raw)
    print(format_report(report), file=sys.stderr)
    return result.exit_code


async def lifecycle(args: argparse.Namespace) -> int:
    check_name(args.name, "campaign name")
    target = {
        "pause": CampaignState.PAUSED,
        "resume": CampaignState.RUNNING,
        "cancel": CampaignState.CANCELLED,
    }[args.verb]
    reason = {"pause": "operator", "resume": None, "cancel": "operator"}[args.verb]
    async with open_db() as conn:
        row = await campaigns.find_campaign(conn, args.name)
        if row is None:
            raise ConfigError(args.name, None, "no such campaign")
        if args.verb == "resume":
            blocked = await campaigns.blocking_template_status(conn, args.name)
            if blocked is not None:
                raise CampaignStateError(
                    f"campaign {args.name!r}: its template is {blocked['status']} "
                    f"({blocked['reason'] or 'no reason given'}); resume after it is REINSTATED"
                )
        sources = allowed_sources(target)
        if args.verb == "resume" and row["state"] == CampaignState.PAUSED:
            # Resumed while no job runs: the next `campaign run` continues it.
            sources = (CampaignState.PAUSED,)
        lifted: list[tuple[int, str, str]] = []
        async with conn.transaction():
            changed = await campaigns.set_state_by_name(conn, args.name, target, reason, sources)
            if changed is None:
                raise CampaignStateError(
                    f"campaign {args.name!r} is {row['state']}; cannot {args.verb} it"
                )
            if args.verb == "resume":
                # The operator has looked: the channel/portfolio/template holds that stopped
                # this campaign go too (other campaigns they paused stay paused until resumed).
                lifted = await holds.lift_for_campaign(conn, changed, by="campaign resume")
    log = logs.get_logger("engine.cli")
    for hold_id, scope, why in lifted:
        log.info("hold_lifted", campaign=args.name, hold=hold_id, scope=scope, reason=why)
    log.info(f"campaign_{args.verb}_requested", campaign=args.name)
    out: dict[str, object] = {"campaign": args.name, "state": target}
    if lifted:
        out["holds_lifted"] = [{"scope": scope, "reason": why} for _, scope, why in lifted]
    print(orjson.dumps(out).decode())
    return 0


async def retry(args: argparse.Namespace) -> int:
    check_name(args.name, "campaign name")
    codes = parse_codes(args.codes)
    after_s = parse_duration(args.after, "--after") if args.after is not None else None
    async with open_db() as conn:
        row = await campaigns.find_campaign(conn, args.name)
        if row is None:
            raise ConfigError(args.name, None, "no such campaign")
        requeued = await campaigns.requeue_failed(conn, row["id"], codes, after_s)
        if requeued and row["state"] in (CampaignState.COMPLETED, CampaignState.FAILED):
            await campaigns.set_state(
                conn,
                row["id"],
                CampaignState.SCHEDULED,
                "retry requested",
                allowed_sources(CampaignState.SCHEDULED),
            )
    print(orjson.dumps({"campaign": args.name, "requeued": requeued}).decode())
    return 0


async def report(args: argparse.Namespace) -> int:
    check_name(args.name, "campaign name")
    if args.csv is not None and not args.csv.strip():
        raise InputError("--csv", None, "expected a file name")
    async with open_db() as conn:
        row = await campaigns.find_campaign(conn, args.name)
        if row is None:
            raise ConfigError(args.name, None, "no such campaign")
        raw = await reports.campaign_report(conn, row["id"])
        rep = build_report(args.name, row["state"], raw)
        if args.csv is not None:
            await _write_csv(conn, row["id"], Path(args.csv), pii=args.log_pii)
    if args.json:
        print(orjson.dumps(rep).decode())
    else:
        print(format_report(rep))
    return 0


async def _write_csv(conn: object, campaign_id: int, path: Path, *, pii: bool) -> None:
    columns = [
        "phone",
        "state",
        "status",
        "wamid",
        "message_status",
        "attempts",
        "error_code",
        "error_detail",
        "accepted_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
    ]
    try:
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), None, exc.strerror or "cannot write file") from exc
    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            async for r in reports.iter_rows(conn, campaign_id):
                phone = r["phone"] if pii else logs.mask_phone(r["phone"])
                writer.writerow([phone, *(r[c] if r[c] is not None else "" for c in columns[1:])])
    except OSError as exc:  # a full disk, a device that refuses writes
        raise InputError(str(path), None, exc.strerror or "cannot write file") from exc
