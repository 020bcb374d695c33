"""Secrets never reach the output, phone numbers are masked unless ``--log-pii``.

The processes run at ``--log-level debug`` (the most talkative setting) and every byte of
stdout and stderr is searched for the API key, the webhook secret and the seeded phones.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from engine import logs
from engine.sandbox.testing import running_sandbox
from tests.badinput.kit import (
    API_KEY,
    API_KEY_ENV,
    PHONES,
    SEEDED,
    base_spec,
    refused,
    seed,
    spec_with,
    write_spec,
)
from tests.helpers import ROOT, cli

WEBHOOK_SECRET = "whsec-Hq8mN2pLx7Vr"  # no "_": 360dialog's header rule
ENV = {API_KEY_ENV: API_KEY, "BADINPUT_WEBHOOK_SECRET": WEBHOOK_SECRET}


def assert_clean(text: str, *, phones: bool = True) -> None:
    assert API_KEY not in text
    assert WEBHOOK_SECRET not in text
    if phones:
        leaked = [p for p in PHONES if p in text or p.lstrip("+") in text]
        assert not leaked, f"unmasked phone numbers in the output: {leaked}"


def test_dry_run_at_debug_never_shows_the_key(seeded_dsn: str, tmp_path: Path) -> None:
    write_spec(tmp_path, base_spec())
    res = cli(
        "--log-level",
        "debug",
        "run",
        "spec.yaml",
        "--dry-run",
        dsn=seeded_dsn,
        cwd=tmp_path,
        env=ENV,
    )
    assert res.code == 0, res.stderr
    assert_clean(res.stdout + res.stderr)


def test_run_against_an_unreachable_api_never_shows_the_key(db_dsn: str, tmp_path: Path) -> None:
    asyncio.run(seed(db_dsn))
    fast = {
        "base": "cloud-80",
        "connect_timeout_s": 0.5,
        "request_timeout_s": 1,
        "max_attempts": 2,
        "backoff": {"base_s": 0.05, "max_s": 0.1},
        "progress_every_s": 0.2,
    }
    write_spec(tmp_path, spec_with({"profile": fast}))  # base_url: 127.0.0.1:9, refused
    res = cli(
        "--log-level", "debug", "run", "spec.yaml", dsn=db_dsn, cwd=tmp_path, env=ENV, timeout_s=90
    )
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.stderr.strip(), "expected log lines"
    assert_clean(res.stdout + res.stderr)


@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_sends_through_the_sandbox_at_debug_never_show_the_key(
    db_dsn: str, tmp_path: Path
) -> None:
    await seed(db_dsn)
    async with running_sandbox(seed=7) as sandbox:
        write_spec(
            tmp_path,
            spec_with({"channel.base_url": sandbox.base_url, "profile": {"base": "sandbox-max"}}),
        )
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(ENV, DATABASE_URL=db_dsn, PYTHONPATH=str(ROOT))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "engine",
            "--log-level",
            "debug",
            "run",
            "spec.yaml",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        stats = await sandbox.stats()
    text = (out + err).decode()
    assert proc.returncode == 0, text[-3000:]
    assert stats["accepted"] == 3  # the key really was used, three times
    assert_clean(text)


def test_webhooks_configure_failure_never_shows_key_or_secret(
    seeded_dsn: str, tmp_path: Path
) -> None:
    write_spec(tmp_path, spec_with({"channel.webhook_secret_env": "BADINPUT_WEBHOOK_SECRET"}))
    res = cli(
        "--log-level",
        "debug",
        "webhooks",
        "configure",
        "main",
        "--url",
        "https://hooks.example.com/wh",
        "--spec",
        "spec.yaml",
        dsn=seeded_dsn,
        cwd=tmp_path,
        env=ENV,
    )
    refused(
        res, "campaign: error: webhook configure: http://127.0.0.1:9/v1/configs/webhook", code=1
    )
    assert_clean(res.stdout + res.stderr)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_report_csv_masks_phones_unless_log_pii(seeded_dsn: str, tmp_path: Path) -> None:
    res = cli("report", SEEDED, "--csv", "masked.csv", dsn=seeded_dsn, cwd=tmp_path)
    assert res.code == 0, res.stderr
    masked = [r["phone"] for r in read_csv(tmp_path / "masked.csv")]
    assert len(masked) == 3 and all("*" in p for p in masked)
    assert_clean((tmp_path / "masked.csv").read_text() + res.stdout + res.stderr)

    res = cli("--log-pii", "report", SEEDED, "--csv", "pii.csv", dsn=seeded_dsn, cwd=tmp_path)
    assert res.code == 0, res.stderr
    assert sorted(r["phone"] for r in read_csv(tmp_path / "pii.csv")) == sorted(PHONES)


# ---- the log processor itself ----------------------------------------------------------


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    saved = structlog.get_config()
    saved_state, saved_secrets = dict(logs._state), set(logs._secrets)
    stream = io.StringIO()
    yield stream
    structlog.configure(**saved)
    logs._state.update(saved_state)
    logs._secrets.clear()
    logs._secrets.update(saved_secrets)


@pytest.mark.parametrize("pii", [False, True], ids=["masked", "log-pii"])
def test_log_lines_mask_phones_and_redact_secrets(log_stream: io.StringIO, pii: bool) -> None:
    logs.configure(level="debug", pii=pii, stream=log_stream)
    logs.register_secret(API_KEY)
    log = logs.get_logger("badinput")
    phone, other = PHONES[0], PHONES[1]
    log.debug(
        "send_failed", phone=phone, wa_id=other.lstrip("+"), headers={"D360-API-KEY": API_KEY}
    )
    log.info("row_problem", error=f"duplicate key (audience_id, phone)=(1, {phone})", to=[phone])
    log.warning("oops", detail=f"request with key {API_KEY} failed", token="abc123")
    try:
        raise RuntimeError(f"boom {API_KEY} {phone}")
    except RuntimeError:
        log.exception("crashed")
    text = log_stream.getvalue()
    assert API_KEY not in text and "abc123" not in text
    assert text.count("[redacted]") >= 4
    if pii:
        assert phone in text and other.lstrip("+") in text
    else:
        assert_clean(text)
        assert logs.mask_phone(phone) in text
