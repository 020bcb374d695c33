"""An unusable DATABASE_URL: one line "cannot connect to ...", exit 3, no traceback, and the
URL's password never printed (the message shows scheme, host, port and database only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.badinput.kit import API_KEY, API_KEY_ENV, FIXTURES, InProcess, refused
from tests.helpers import cli

PASSWORD = "Pw-Sekr3t-xyz"
REFUSED_URL = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on port 1
SHOWN = "cannot connect to postgresql://127.0.0.1:1/x: connection refused"
ENV = {API_KEY_ENV: API_KEY, "WEBHOOK_SECRET": "s3cret-header-value", "D360_API_KEY": API_KEY}

COMMANDS = {
    "db-migrate": ["db", "migrate"],
    "status": ["status"],
    "status-name": ["status", "spring"],
    "audience-import": ["audience", "import", "list", "a.csv"],
    "run": ["run", "spec.yaml"],
    "run-dry-run": ["run", "spec.yaml", "--dry-run"],
    "pause": ["pause", "spring"],
    "resume": ["resume", "spring"],
    "cancel": ["cancel", "spring"],
    "report": ["report", "spring", "--json"],
    "retry": ["retry", "spring", "--codes", "131026"],
    "webhooks-serve": ["webhooks", "serve", "--port", "0"],
    "webhooks-configure": ["webhooks", "configure", "main", "--url", "https://example.com/wh"],
}


def workdir(tmp_path: Path) -> Path:
    (tmp_path / "spec.yaml").write_text((FIXTURES / "spec.yaml").read_text())
    (tmp_path / "a.csv").write_text("phone\n+4915123456789\n")
    return tmp_path


def no_password(res_text: str) -> None:
    assert PASSWORD not in res_text
    assert "Pw-" not in res_text


@pytest.mark.parametrize("args", list(COMMANDS.values()), ids=list(COMMANDS))
def test_unreachable_database(tmp_path: Path, in_process: InProcess, args: list[str]) -> None:
    res = in_process(*args, dsn=REFUSED_URL, cwd=workdir(tmp_path), env=ENV)
    refused(res, f"campaign: error: {SHOWN}", code=3)
    no_password(res.stderr + res.stdout)


@pytest.mark.parametrize(
    "args",
    [COMMANDS["db-migrate"], COMMANDS["run"], COMMANDS["webhooks-serve"]],
    ids=["db-migrate", "run", "webhooks-serve"],
)
def test_unreachable_database_as_a_process(tmp_path: Path, args: list[str]) -> None:
    res = cli(*args, dsn=REFUSED_URL, cwd=workdir(tmp_path), env=ENV)
    refused(res, f"campaign: error: {SHOWN}", code=3)
    no_password(res.stderr + res.stdout)


@pytest.mark.parametrize(
    ("url", "needles"),
    [
        (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/ce_no_such_db_zz",
            ['cannot connect to postgresql://127.0.0.1:5432/ce_no_such_db_zz: database "'],
        ),
        (
            f"mysql://root:{PASSWORD}@127.0.0.1:3306/x",
            ["cannot connect to mysql://127.0.0.1:3306/x: invalid DSN"],
        ),
        (
            f"postgresql://postgres:{PASSWORD}@/x?host=/nonexistent/socket-dir",
            ["cannot connect to postgresql:///nonexistent/socket-dir/x"],
        ),
        (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x?sslmode=sometimes",
            ["cannot connect to postgresql://127.0.0.1:1/x: `sslmode`"],
        ),
    ],
    ids=["no-such-database", "wrong-scheme", "missing-socket", "bad-sslmode"],
)
def test_unusable_database_url(
    tmp_path: Path, in_process: InProcess, url: str, needles: list[str]
) -> None:
    res = in_process("status", dsn=url, cwd=tmp_path)
    refused(res, *needles, code=3)
    no_password(res.stderr + res.stdout)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/x",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:port/x",
        f"postgresql://postgres:{PASSWORD}@[::1/x",
    ],
    ids=["port-out-of-range", "port-not-a-number", "broken-ipv6"],
)
def test_malformed_database_url(tmp_path: Path, url: str) -> None:
    res = cli("status", dsn=url, cwd=tmp_path)
    refused(res, "campaign: error: cannot connect to", code=3)
    no_password(res.stderr + res.stdout)


def test_key_value_dsn_password_is_not_printed(tmp_path: Path) -> None:
    res = cli("status", dsn=f"host=127.0.0.1 port=1 password={PASSWORD}", cwd=tmp_path)
    refused(res, "campaign: error: cannot connect to", code=3)
    no_password(res.stderr + res.stdout)
