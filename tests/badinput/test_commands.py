"""Operator commands with bad arguments: `pause|resume|cancel|report|retry|status`,
`webhooks configure|serve`, `sandbox --config`, and argparse usage errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.badinput.kit import (
    API_KEY,
    FIXTURES,
    SEEDED,
    InProcess,
    all_counts,
    message_states,
    refused,
)
from tests.helpers import cli, run_isolated

# ---- a campaign that does not exist ------------------------------------------------------

NO_SUCH = {
    "pause": ["pause", "nosuch"],
    "resume": ["resume", "nosuch"],
    "cancel": ["cancel", "nosuch"],
    "report": ["report", "nosuch"],
    "report-json": ["report", "nosuch", "--json"],
    "report-csv": ["report", "nosuch", "--csv", "out.csv"],
    "retry": ["retry", "nosuch", "--codes", "131026"],
    "status": ["status", "nosuch"],
}


@pytest.mark.parametrize("args", list(NO_SUCH.values()), ids=list(NO_SUCH))
def test_campaign_that_does_not_exist(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, args: list[str]
) -> None:
    before = all_counts(seeded_dsn)
    res = in_process(*args, dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: nosuch: no such campaign")
    assert all_counts(seeded_dsn) == before
    assert not (tmp_path / "out.csv").exists()


def test_campaign_that_does_not_exist_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    before = all_counts(seeded_dsn)
    for verb in ("pause", "report"):
        res = cli(verb, "nosuch", dsn=seeded_dsn, cwd=tmp_path)
        refused(res, "campaign: error: nosuch: no such campaign")
    assert all_counts(seeded_dsn) == before


# ---- a name that no campaign or channel can have ------------------------------------------

BAD_NAMES = {"empty": "", "upper": "Spring", "not-utf8": "caf\udce9", "space": "a b"}
NAME_COMMANDS = {
    "pause": (["pause", "{}"], "campaign name"),
    "resume": (["resume", "{}"], "campaign name"),
    "cancel": (["cancel", "{}"], "campaign name"),
    "report": (["report", "{}", "--csv", "out.csv"], "campaign name"),
    "retry": (["retry", "{}", "--codes", "131026"], "campaign name"),
    "status": (["status", "{}"], "campaign name"),
    "configure": (["webhooks", "configure", "{}", "--url", "https://e.com/w"], "channel name"),
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@pytest.mark.parametrize(("args", "what"), list(NAME_COMMANDS.values()), ids=list(NAME_COMMANDS))
def test_name_that_cannot_exist(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, args: list[str], what: str, name: str
) -> None:
    # Refused before the database is asked: a name with bytes that are not UTF-8 (argv
    # holds them as lone surrogates) used to be a driver traceback.
    before = all_counts(seeded_dsn)
    argv = [name if a == "{}" else a for a in args]
    res = in_process(*argv, dsn=seeded_dsn, cwd=tmp_path, env={"D360_API_KEY": API_KEY})
    refused(res, f"campaign: error: {what}: must be 1-64 of a-z 0-9")
    assert all_counts(seeded_dsn) == before
    assert not (tmp_path / "out.csv").exists()


def test_name_not_utf8_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    res = cli("report", "caf\udce9", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: campaign name: must be 1-64", "got 'caf\\udce9'")


# ---- retry -----------------------------------------------------------------------------

RETRY = {
    "codes-letters": (["--codes", "abc"], "--codes: expected comma-separated positive error"),
    "codes-empty": (["--codes", ""], "--codes: at least one error code is required"),
    "codes-commas": (["--codes", ",,"], "--codes: at least one error code is required"),
    "codes-negative": (["--codes=-5"], "--codes: expected comma-separated positive"),
    "codes-zero": (["--codes", "0"], "--codes: expected"),
    "codes-float": (["--codes", "131026,1.5"], "--codes: expected comma-separated positive"),
    "codes-int32-overflow": (["--codes", "99999999999999999999"], "--codes: expected"),
    "codes-5000-digits": (["--codes", "9" * 5000], "--codes: expected"),
    "codes-unicode-digits": (["--codes", "١٣١٠٢٦"], "--codes: expected"),
    "after-unit": (["--codes", "131026", "--after", "5x"], "--after: expected a duration"),
    "after-bare-number": (["--codes", "131026", "--after", "5"], "--after: expected a duration"),
    "after-empty": (["--codes", "131026", "--after", ""], "--after: expected a duration"),
    "after-negative": (["--codes", "131026", "--after=-5m"], "--after: expected a duration"),
    "after-years": (["--codes", "131026", "--after", "400d"], "--after: must be at most 366d"),
    "after-overflow": (["--codes", "131026", "--after", "9" * 400 + "d"], "--after: must be at"),
}


@pytest.mark.parametrize(("args", "needle"), list(RETRY.values()), ids=list(RETRY))
def test_retry_with_bad_arguments(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, args: list[str], needle: str
) -> None:
    before = all_counts(seeded_dsn), run_isolated(message_states(seeded_dsn))
    res = in_process("retry", SEEDED, *args, dsn=seeded_dsn, cwd=tmp_path)
    refused(res, f"campaign: error: {needle}")
    assert (all_counts(seeded_dsn), run_isolated(message_states(seeded_dsn))) == before


def test_retry_with_bad_arguments_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    before = all_counts(seeded_dsn), run_isolated(message_states(seeded_dsn))
    res = cli("retry", SEEDED, "--codes", "abc", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: --codes: expected comma-separated positive error codes")
    res = cli("retry", SEEDED, "--codes", "131026", "--after", "5x", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: --after: expected a duration like 30s, 15m, 24h or 2d")
    assert (all_counts(seeded_dsn), run_isolated(message_states(seeded_dsn))) == before


# ---- report --csv ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("/nonexistent/dir/x.csv", "/nonexistent/dir/x.csv: No such file or directory"),
        (".", ".: Is a directory"),
        ("/dev/full", "/dev/full: No space left on device"),
        ("", "--csv: expected a file name"),
    ],
    ids=["missing-directory", "a-directory", "disk-full", "empty"],
)
def test_report_csv_to_an_unwritable_path(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, target: str, needle: str
) -> None:
    before = all_counts(seeded_dsn)
    res = in_process("report", SEEDED, "--csv", target, dsn=seeded_dsn, cwd=tmp_path)
    refused(res, f"campaign: error: {needle}")
    assert all_counts(seeded_dsn) == before


def test_report_csv_to_a_missing_directory_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    before = all_counts(seeded_dsn)
    res = cli("report", SEEDED, "--csv", "/nonexistent/dir/x.csv", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: /nonexistent/dir/x.csv: No such file or directory")
    assert all_counts(seeded_dsn) == before


# ---- webhooks configure / serve --------------------------------------------------------

BAD_URLS = {
    "http": ("http://hooks.example.com/wh", "must use https"),
    "underscore-host": ("https://my_hooks.example.com/wh", "must not contain '_'"),
    "explicit-port": ("https://hooks.example.com:8443/wh", "must not name a port"),
    "no-host": ("https:///wh", "must be an absolute https:// URL"),
    "no-scheme": ("hooks.example.com/wh", "must be an absolute https:// URL"),
    "credentials": ("https://u:p@hooks.example.com/wh", "must not contain credentials"),
    "query": ("https://hooks.example.com/wh?token=1", "must not have a query string"),
    "port-out-of-range": ("https://hooks.example.com:99999/wh", "not a valid URL"),
    "broken-ipv6": ("https://[::1/wh", "not a valid URL"),
    "empty": ("", "must be an absolute https:// URL"),
}


@pytest.mark.parametrize(("url", "needle"), list(BAD_URLS.values()), ids=list(BAD_URLS))
def test_webhooks_configure_bad_url(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, url: str, needle: str
) -> None:
    before = all_counts(seeded_dsn)
    env = {"D360_API_KEY": API_KEY, "WEBHOOK_SECRET": "s3cret-header-value"}
    res = in_process(
        "webhooks", "configure", "main", "--url", url, dsn=seeded_dsn, cwd=tmp_path, env=env
    )
    refused(res, "campaign: error: --url: ", needle)
    assert all_counts(seeded_dsn) == before


def test_webhooks_configure_bad_url_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    env = {"D360_API_KEY": API_KEY, "WEBHOOK_SECRET": "s3cret-header-value"}
    for url, needle in (BAD_URLS["http"], BAD_URLS["underscore-host"]):
        res = cli("webhooks", "configure", "main", "--url", url, dsn=seeded_dsn, env=env)
        refused(res, "campaign: error: --url: ", needle)


def test_webhooks_configure_unknown_channel(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess
) -> None:
    env = {"D360_API_KEY": API_KEY, "WEBHOOK_SECRET": "s3cret-header-value"}
    res = in_process(
        "webhooks",
        "configure",
        "ghost",
        "--url",
        "https://hooks.example.com/wh",
        dsn=seeded_dsn,
        cwd=tmp_path,
        env=env,
    )
    refused(res, "campaign: error: ghost: no such channel in the database")


@pytest.mark.parametrize(
    ("fixture", "env", "needle"),
    [
        ("webhooks-secret-in-file.yaml", {}, "channels.main: secrets are never read from files"),
        (
            "webhooks-unknown-field.yaml",
            {"BADINPUT_WEBHOOK_SECRET": "s3cret"},
            "correlator.batch: unknown key",
        ),
        (
            "webhooks-unknown-field.yaml",
            {},
            "channels.main.secret_env: environment variable BADINPUT_WEBHOOK_SECRET is not set",
        ),
        ("billion-laughs.yaml", {}, "line 2: anchors and aliases"),
        (
            "webhooks-secret-as-env-name.yaml",
            {},
            "channels.main.secret_env: must match [A-Za-z_][A-Za-z0-9_]*: the NAME",
        ),
        ("webhooks-huge-body-limit.yaml", {"S": "s3cret"}, "max_body_mb: must be <= 64"),
        ("spec.yaml", {}, "name: unknown key (allowed: channels, correlator"),
    ],
    ids=[
        "secret-in-file",
        "unknown-field",
        "secret-env-unset",
        "yaml-bomb",
        "secret-as-env-name",
        "body-limit",
        "a-campaign-spec",
    ],
)
def test_webhooks_serve_bad_config(
    seeded_dsn: str,
    tmp_path: Path,
    in_process: InProcess,
    fixture: str,
    env: dict[str, str],
    needle: str,
) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / "hooks.yaml")
    res = in_process(
        "webhooks",
        "serve",
        "--port",
        "0",
        "--config",
        "hooks.yaml",
        dsn=seeded_dsn,
        cwd=tmp_path,
        env=env,
    )
    line = refused(res, "campaign: error: hooks.yaml: ", needle)
    assert "s3cret-value-pasted" not in line


def test_webhooks_serve_config_missing_or_directory(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess
) -> None:
    for target, needle in (("gone.yaml", "No such file"), (".", "Is a directory")):
        res = in_process("webhooks", "serve", "--config", target, dsn=seeded_dsn, cwd=tmp_path)
        refused(res, f"campaign: error: {target}: {needle}")


def test_webhooks_serve_without_a_secret(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess
) -> None:
    res = in_process("webhooks", "serve", "--port", "0", dsn=seeded_dsn, cwd=tmp_path)
    refused(res, "campaign: error: environment: WEBHOOK_SECRET: environment variable")


SERVE_ADDRESS = {
    "port-too-big": (["--port", "99999"], "--port: must be 0..65535, got 99999"),
    "port-negative": (["--port", "-1"], "--port: must be 0..65535, got -1"),
    "host-empty-label": (["--host", "a..b", "--port", "0"], "--host: cannot resolve 'a..b'"),
}


@pytest.mark.parametrize(("args", "needle"), list(SERVE_ADDRESS.values()), ids=list(SERVE_ADDRESS))
def test_webhooks_serve_bad_address(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, args: list[str], needle: str
) -> None:
    # A port out of range used to be taken modulo 65536; a bad host was a traceback.
    env = {"WEBHOOK_SECRET": "s3cret-header-value-long-enough-0123456789"}
    res = in_process("webhooks", "serve", *args, dsn=seeded_dsn, cwd=tmp_path, env=env)
    refused(res, f"campaign: error: {needle}")


@pytest.mark.parametrize("host", ["a..b", "no-such-host.invalid"])
def test_sandbox_bad_host(tmp_path: Path, host: str) -> None:
    res = cli("sandbox", "--host", host, "--port", "0", dsn=None, cwd=tmp_path)
    refused(
        res, f"campaign sandbox: cannot listen on {host}:0: ", code=1, prefix="campaign sandbox"
    )


# ---- sandbox --config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "needle"),
    [
        ("sandbox-bad-field.yaml", "limits.throughput_status: must be one of"),
        ("sandbox-unknown-field.yaml", "accounts.rate_limit: unknown field"),
        ("malformed-indent.yaml", "line 4: invalid YAML"),
    ],
    ids=["bad-value", "unknown-field", "malformed"],
)
def test_sandbox_bad_config(tmp_path: Path, fixture: str, needle: str) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / "sandbox.yaml")
    res = cli("sandbox", "--config", "sandbox.yaml", "--port", "0", dsn=None, cwd=tmp_path)
    refused(res, f"campaign sandbox: sandbox.yaml: {needle}", prefix="campaign sandbox: ")


def test_sandbox_config_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "sandbox.yaml").write_bytes(b"health: AVAILABLE # caf\xe9\n")
    res = cli("sandbox", "--config", "sandbox.yaml", "--port", "0", dsn=None, cwd=tmp_path)
    refused(res, "campaign sandbox: sandbox.yaml: not UTF-8 text", prefix="campaign sandbox: ")


# The sandbox's config is read by the same safe reader as a spec or a profile.
SANDBOX_YAML = {
    "billion-laughs": ("billion-laughs.yaml", "line 2: anchors and aliases"),
    "duplicate-key": ("duplicate-key.yaml", "line 4: duplicate key"),
    "tab": ("tab-indent.yaml", "line 3: invalid YAML"),
}


@pytest.mark.parametrize(("fixture", "needle"), list(SANDBOX_YAML.values()), ids=list(SANDBOX_YAML))
def test_sandbox_config_unsafe_yaml(
    tmp_path: Path, in_process: InProcess, fixture: str, needle: str
) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / "sandbox.yaml")
    res = in_process("sandbox", "--config", "sandbox.yaml", "--port", "0", dsn=None, cwd=tmp_path)
    refused(res, f"campaign sandbox: sandbox.yaml: {needle}", prefix="campaign sandbox: ")


def test_sandbox_config_too_large(tmp_path: Path, in_process: InProcess) -> None:
    (tmp_path / "sandbox.yaml").write_text("# padding\n" * 200_000)
    res = in_process("sandbox", "--config", "sandbox.yaml", "--port", "0", dsn=None, cwd=tmp_path)
    refused(res, "campaign sandbox: sandbox.yaml: file is larger than", prefix="campaign sandbox: ")


@pytest.mark.parametrize("name", ["", " "], ids=["empty", "blank"])
def test_sandbox_config_empty_name(tmp_path: Path, in_process: InProcess, name: str) -> None:
    # An empty --config used to mean "no file": the defaults, silently.
    res = in_process("sandbox", "--config", name, "--port", "0", dsn=None, cwd=tmp_path)
    refused(res, "campaign sandbox: --config: expected a file name", prefix="campaign sandbox: ")


SANDBOX_USAGE = {
    "unknown-flag": (["--colour"], "unrecognized arguments: --colour"),
    "port-text": (["--port", "http"], "argument --port: invalid int value: 'http'"),
    "seed-missing": (["--seed"], "argument --seed: expected one argument"),
}


@pytest.mark.parametrize(("args", "needle"), list(SANDBOX_USAGE.values()), ids=list(SANDBOX_USAGE))
def test_sandbox_usage_error_is_one_line(
    tmp_path: Path, in_process: InProcess, args: list[str], needle: str
) -> None:
    res = in_process("sandbox", *args, dsn=None, cwd=tmp_path)
    line = refused(res, f"campaign sandbox: error: {needle}", prefix="campaign sandbox: ")
    assert line.endswith("(see campaign sandbox --help)")


def test_sandbox_usage_error_as_a_process(tmp_path: Path) -> None:
    res = cli("sandbox", "--port", "http", dsn=None, cwd=tmp_path)
    refused(res, "campaign sandbox: error: argument --port", prefix="campaign sandbox: ")


# ---- argparse usage errors -------------------------------------------------------------

USAGE = {
    "no-command": ([], "campaign: error: the following arguments are required: COMMAND"),
    "unknown-command": (["launch"], "campaign: error: argument COMMAND: invalid choice: 'launch'"),
    "run-without-spec": (["run"], "campaign run: error: the following arguments are required"),
    "retry-without-codes": (["retry", "x"], "campaign retry: error: the following arguments"),
    "bad-log-level": (["--log-level", "loud", "status"], "argument --log-level: invalid choice"),
    "unknown-flag": (["status", "--colour"], "campaign: error: unrecognized arguments: --colour"),
    "import-missing-file": (["audience", "import", "x"], "campaign audience import: error:"),
    "serve-port-text": (["webhooks", "serve", "--port", "http"], "invalid int value: 'http'"),
}


@pytest.mark.parametrize(("args", "needle"), list(USAGE.values()), ids=list(USAGE))
def test_usage_error_is_one_line(
    tmp_path: Path, in_process: InProcess, args: list[str], needle: str
) -> None:
    res = in_process(*args, dsn=None, cwd=tmp_path)
    line = refused(res, needle, prefix="campaign")
    assert line.endswith("--help)")


def test_usage_error_as_a_process(tmp_path: Path) -> None:
    res = cli("retry", "x", "--after", "1h", dsn=None, cwd=tmp_path)
    refused(
        res,
        "campaign retry: error: the following arguments are required: --codes",
        prefix="campaign retry: ",
    )


@pytest.mark.parametrize("count", ["-5", "0", "99999999999"])
def test_demo_with_a_bad_recipient_count(tmp_path: Path, in_process: InProcess, count: str) -> None:
    # Checked before the embedded database or the sandbox is started.
    res = in_process(
        "demo", f"--recipients={count}", dsn="postgresql://x@127.0.0.1:1/x", cwd=tmp_path
    )
    refused(res, "campaign: error: --recipients: must be between 1 and")
