"""`campaign run SPEC.yaml`: every malformed spec or profile is one line, exit 2, no change.

The spec is loaded and validated (profile and template included) before the database is
opened, so each case runs against the seeded database and proves its row counts unchanged.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.badinput.kit import (
    API_KEY,
    API_KEY_ENV,
    AUDIENCE,
    DELETE,
    FIXTURES,
    PHONES,
    SEEDED,
    InProcess,
    all_counts,
    base_spec,
    message_states,
    refused,
    spec_with,
    write_spec,
)
from tests.helpers import CliResult, cli, fetch, run_isolated

ENV = {API_KEY_ENV: API_KEY}


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_spec(
    dsn: str,
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    runner: InProcess | None = None,
) -> tuple[CliResult, bool]:
    """``campaign run ARGS`` from ``cwd`` (a real process unless ``runner`` is given);
    also returns whether the database is unchanged.

    Long tables of cases that stop before any I/O run in-process (the same ``main`` the
    process runs, without the 0.4 s interpreter start); each kind of case also runs once as
    a real process to hold the process-level contract (exit code, one line, no traceback).
    """
    before = all_counts(dsn)
    run = cli if runner is None else runner
    res = run("run", *args, dsn=dsn, cwd=cwd, env=ENV if env is None else env)
    return res, all_counts(dsn) == before


# ---- the file itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "needles"),
    [
        ("malformed-indent.yaml", ["line 4", "invalid YAML", "mapping values are not allowed"]),
        ("unclosed-flow.yaml", ["line 10", "invalid YAML"]),
        ("tab-indent.yaml", ["line 3", "invalid YAML"]),
        ("duplicate-key.yaml", ["line 4", "duplicate key 'audience'"]),
        ("billion-laughs.yaml", ["line 2", "anchors and aliases"]),
        ("merge-key.yaml", ["line 2", "anchors and aliases"]),
    ],
    ids=["bad-indent", "unclosed-bracket", "tab", "duplicate-key", "billion-laughs", "merge-key"],
)
def test_broken_yaml_names_the_line(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, fixture: str, needles: list[str]
) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / fixture)
    res, unchanged = run_spec(seeded_dsn, tmp_path, fixture, runner=in_process)
    refused(res, f"error: {fixture}: ", *needles)
    assert unchanged


def test_deep_nesting_is_refused(seeded_dsn: str, tmp_path: Path, in_process: InProcess) -> None:
    path = write_spec(tmp_path, "name: " + "[" * 10_000 + "]" * 10_000 + "\n")
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, runner=in_process)
    refused(res, "spec.yaml: line 1: nested deeper than 32 levels")
    assert unchanged


def test_huge_file_is_refused_unread(seeded_dsn: str, tmp_path: Path) -> None:
    text = (FIXTURES / "spec.yaml").read_text() + "#" + "x" * (2 << 20) + "\n"
    path = write_spec(tmp_path, text)
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name)
    refused(res, "spec.yaml: file is larger than 1048576 bytes")
    assert unchanged


@pytest.mark.parametrize(
    ("fixture", "needles"),
    [
        ("billion-laughs.yaml", ["line 2", "anchors and aliases"]),
        ("malformed-indent.yaml", ["line 4", "invalid YAML"]),
    ],
    ids=["billion-laughs", "bad-indent"],
)
def test_broken_yaml_as_a_process(
    seeded_dsn: str, tmp_path: Path, fixture: str, needles: list[str]
) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / fixture)
    res, unchanged = run_spec(seeded_dsn, tmp_path, fixture)
    refused(res, f"error: {fixture}: ", *needles)
    assert unchanged


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"name: caf\xe9\n", ["spec.yaml: not UTF-8 text"]),
        (b"name: a\x00b\n", ["spec.yaml: line 1: invalid YAML"]),
        (b"", ["spec.yaml: name: required field is missing"]),
        (b"# only a comment\n", ["spec.yaml: name: required field is missing"]),
        (b"- name: x\n", ["spec.yaml: must be a mapping, got a list"]),
        (b"just a string\n", ["spec.yaml: must be a mapping, got plain text (not shown)"]),
        (b"--- {}\n--- {}\n", ["spec.yaml: line 2: invalid YAML"]),
    ],
    ids=["latin-1", "nul-byte", "empty", "comment-only", "list", "scalar", "two-documents"],
)
def test_unusable_file_content(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, content: bytes, needles: list[str]
) -> None:
    (tmp_path / "spec.yaml").write_bytes(content)
    res, unchanged = run_spec(seeded_dsn, tmp_path, "spec.yaml", runner=in_process)
    refused(res, *needles)
    assert unchanged


def test_missing_spec_and_directory(seeded_dsn: str, tmp_path: Path, in_process: InProcess) -> None:
    res, unchanged = run_spec(seeded_dsn, tmp_path, "nope.yaml", runner=in_process)
    refused(res, "nope.yaml: No such file or directory")
    (tmp_path / "specs").mkdir()
    res2, unchanged2 = run_spec(seeded_dsn, tmp_path, "specs", runner=in_process)
    refused(res2, "specs: Is a directory")
    assert unchanged and unchanged2


# ---- fields ----------------------------------------------------------------------------

FIELD_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # unknown keys, secrets inline
    ("unknown-field", {"colour": "blue"}, ["colour: unknown key (allowed: audience, channel"]),
    ("typo-field", {"audiences": AUDIENCE}, ["audiences: unknown key"]),
    (
        "api-key-inline",
        {"channel.api_key": "sk-live-abcdef"},
        ["channel.api_key: unknown key (secrets are never read from files"],
    ),
    ("api-key-top-level", {"api_key": "sk-live-abcdef"}, ["api_key: unknown key (secrets"]),
    ("unknown-channel-field", {"channel.phone": "+4915100000"}, ["channel.phone: unknown key"]),
    ("unknown-option", {"options.retry": True}, ["options.retry: unknown key"]),
    # missing fields
    ("missing-name", {"name": DELETE}, ["name: required field is missing"]),
    ("missing-channel", {"channel": DELETE}, ["channel: required field is missing"]),
    (
        "missing-api-key-env",
        {"channel.api_key_env": DELETE},
        ["channel.api_key_env: required field is missing"],
    ),
    ("missing-audience", {"audience": DELETE}, ["audience: required field is missing"]),
    ("missing-template", {"template": DELETE}, ["template: required field is missing"]),
    ("missing-template-name", {"template.name": DELETE}, ["template.name: required field"]),
    (
        "missing-language",
        {"template.language": DELETE},
        ["template.language: required field is missing"],
    ),
    (
        "missing-category",
        {"template.category": DELETE},
        ["template.category: required field is missing"],
    ),
    # wrong types
    ("name-number", {"name": 5}, ["name: must be a non-empty string, got 5"]),
    ("name-pattern", {"name": "Spring Sale!"}, ["name: must match", "'Spring Sale!'"]),
    ("channel-string", {"channel": "main"}, ["channel: must be a mapping, got 'main'"]),
    ("template-string", {"template": "demo_promo"}, ["template: must be a mapping"]),
    (
        "body-string",
        {"template.components.body": "{{first_name}}"},
        ["template.components.body: must be a list of parameters"],
    ),
    ("max-attempts-string", {"options.max_attempts": "3"}, ["options.max_attempts: must be an"]),
    ("max-attempts-huge", {"options.max_attempts": 10**6}, ["options.max_attempts: must be <="]),
    (
        "on-unknown-enum",
        {"options.on_unknown": "retry"},
        ["options.on_unknown: must be one of 'skip', 'resend', got 'retry'"],
    ),
    ("start-at-text", {"options.start_at": "tomorrow"}, ["options.start_at: not an ISO-8601"]),
    (
        "start-at-naive",
        {"options.start_at": "2030-01-01T09:00:00"},
        ["options.start_at: must be an ISO-8601 date-time with a timezone"],
    ),
    (
        "window-unquoted",
        {"options.window": {"from": "9am", "to": "17:00", "timezone": "Europe/Berlin"}},
        ["options.window.from: must be a time"],
    ),
    (
        "window-zone",
        {"options.window": {"from": "09:00", "to": "17:00", "timezone": "Mars/Olympus"}},
        ["options.window.timezone: unknown IANA time zone 'Mars/Olympus'"],
    ),
    ("opt-out-not-list", {"options.opt_out_payloads": "STOP"}, ["must be a list of strings"]),
    # channel
    (
        "base-url-ftp",
        {"channel.base_url": "ftp://waba.example.com"},
        ["channel.base_url: must be https"],
    ),
    (
        "base-url-credentials",
        {"channel.base_url": "https://user:pw@waba.example.com"},
        ["channel.base_url: must not contain credentials"],
    ),
    ("base-url-port", {"channel.base_url": "https://h:99999"}, ["channel.base_url: not a URL"]),
    (
        "api-key-env-lowercase",
        {"channel.api_key_env": "d360 key"},
        ["channel.api_key_env: must match"],
    ),
    # the profile, inline
    (
        "inline-profile-unknown",
        {"profile": {"base": "cloud-80", "rate": 5}},
        ["profile.rate: unknown key (allowed: aimd, backoff, base"],
    ),
    (
        "inline-profile-zero-rate",
        {"profile": {"base": "cloud-80", "rate_per_s": 0}},
        ["profile.rate_per_s: must be > 0, got 0"],
    ),
    (
        "inline-profile-negative-rate",
        {"profile": {"base": "cloud-80", "rate_per_s": -5}},
        ["profile.rate_per_s: must be > 0, got -5"],
    ),
    (
        "inline-profile-rate-too-high",
        {"profile": {"base": "cloud-80", "rate_per_s": 5000}},
        ["profile.rate_per_s: must be <= 1000"],
    ),
    (
        "inline-profile-nan-rate",
        {"profile": {"base": "cloud-80", "rate_per_s": float("nan")}},
        ["profile.rate_per_s: must be a finite number"],
    ),
    (
        "inline-profile-rate-text",
        {"profile": {"base": "cloud-80", "rate_per_s": "fast"}},
        ["profile.rate_per_s: must be a number or null, got 'fast'"],
    ),
    (
        "inline-profile-zero-floor",
        {"profile": {"base": "cloud-80", "aimd": {"floor_per_s": 0}}},
        ["profile.aimd.floor_per_s: must be > 0"],
    ),
    (
        "inline-profile-negative-burst",
        {"profile": {"base": "cloud-80", "burst": -1}},
        ["profile.burst: must be >= "],
    ),
    (
        "inline-profile-float-concurrency",
        {"profile": {"base": "cloud-80", "concurrency": 1.5}},
        ["profile.concurrency: must be an integer, got 1.5"],
    ),
    (
        "inline-profile-tier",
        {"profile": {"base": "cloud-80", "tier": 300}},
        ["profile.tier: must be one of 250, 2000"],
    ),
    (
        "inline-profile-nested-unknown",
        {"profile": {"base": "cloud-80", "backoff": {"max": 60}}},
        ["profile.backoff.max: unknown key"],
    ),
    (
        "inline-profile-base-unknown",
        {"profile": {"base": "warp-speed"}},
        ["profile.base: no profile 'warp-speed' (shipped: cloud-80"],
    ),
    (
        "inline-profile-api-key",
        {"profile": {"base": "cloud-80", "api_key": "sk"}},
        ["profile.api_key: unknown key (secrets are never read from files"],
    ),
    # the profile, by name
    ("profile-name-unknown", {"profile": "warp-speed"}, ["profile: no profile 'warp-speed'"]),
    ("profile-number", {"profile": 80}, ["profile: must be a profile name, a path or a mapping"]),
    # the template
    (
        "unknown-component",
        {"template.components.footer": {"text": "bye"}},
        ["template.components.footer: unknown key (allowed: body, buttons, header)"],
    ),
    (
        "header-type-unknown",
        {"template.components.header": {"type": "location"}},
        ["template.components.header.type: must be one of 'text', 'image'"],
    ),
    (
        "button-type-unknown",
        {"template.components.buttons": [{"sub_type": "flow", "index": 0}]},
        ["template.components.buttons[0].sub_type: must be one of 'url'"],
    ),
    (
        "button-index",
        {"template.components.buttons": [{"sub_type": "url", "index": 12, "params": ["x"]}]},
        ["template.components.buttons[0].index: must be <= 9, got 12"],
    ),
    (
        "param-type-unknown",
        {"template.components.body": [{"type": "image"}]},
        ["template.components.body[0].type: must be one of 'text', 'currency', 'date_time'"],
    ),
    (
        "param-unknown-key",
        {"template.components.body": [{"type": "text", "text": "x", "bold": True}]},
        ["template.components.body[0].bold: unknown key"],
    ),
    (
        "template-name-case",
        {"template.name": "Demo Promo"},
        ["template", "'Demo Promo'"],
    ),
    (
        "huge-parameter",
        {"template.components.body": ["y" * 100_000, "{{code}}"]},
        ["template.components.body[0]: is 100000 characters (max 1024)"],
    ),
    (
        "placeholder-unclosed",
        {"template.components.body": ["{{first_name", "{{code}}"]},
        ["template.components.body[0]: bad placeholder in '{{first_name'"],
    ),
    (
        "placeholder-empty",
        {"template.components.body": ["{{ }}", "{{code}}"]},
        ["template.components.body[0]: bad placeholder"],
    ),
    (
        "placeholder-space",
        {"template.components.body": ["{{first name}}", "{{code}}"]},
        ["template.components.body[0]: bad placeholder"],
    ),
    (
        "placeholder-stray-close",
        {"template.components.body": ["Hi }}", "{{code}}"]},
        ["template.components.body[0]: bad placeholder"],
    ),
    (
        "placeholder-name-too-long",
        {"template.components.body": ["{{" + "a" * 65 + "}}", "{{code}}"]},
        ["template.components.body[0]: bad placeholder"],
    ),
    (
        "placeholder-huge",
        {"template.components.body": ["{{" + "a" * 200_000, "{{code}}"]},
        ["template.components.body[0]: bad placeholder"],
    ),
    (
        "constant-with-newline",
        {"template.components.body": ["line one\nline two", "{{code}}"]},
        ["template.components.body[0]: contains a newline or tab"],
    ),
    (
        "button-param-huge",
        {"template.components.buttons": [{"sub_type": "url", "index": 0, "params": ["z" * 5000]}]},
        ["template.components.buttons[0]"],
    ),
]


@pytest.mark.parametrize(
    ("changes", "needles"),
    [pytest.param(c, n, id=i) for i, c, n in FIELD_CASES],
)
def test_bad_field_is_named(
    seeded_dsn: str,
    tmp_path: Path,
    in_process: InProcess,
    changes: dict[str, Any],
    needles: list[str],
) -> None:
    # In-process (same ``main`` as the process, 60 cases in a second); the process-level
    # contract is checked by the subprocess cases around this table.
    path = write_spec(tmp_path, spec_with(changes))
    before = all_counts(seeded_dsn)
    res = in_process("run", path.name, dsn=seeded_dsn, cwd=tmp_path, env=ENV)
    refused(res, "campaign: error: spec.yaml: ", *needles)
    assert all_counts(seeded_dsn) == before


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"channel.api_key": "sk-live-abcdef"}, ["channel.api_key: unknown key (secrets"]),
        ({"profile": {"base": "cloud-80", "rate_per_s": -5}}, ["profile.rate_per_s: must be > 0"]),
        ({"template.components.footer": {"text": "bye"}}, ["template.components.footer"]),
        ({"template.components.body": ["y" * 100_000, "x"]}, ["is 100000 characters"]),
    ],
    ids=["api-key-inline", "negative-rate", "unknown-component", "huge-parameter"],
)
def test_bad_field_as_a_process(
    seeded_dsn: str, tmp_path: Path, changes: dict[str, Any], needles: list[str]
) -> None:
    path = write_spec(tmp_path, spec_with(changes))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name)
    refused(res, "campaign: error: spec.yaml: ", *needles)
    assert unchanged


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"template.components.body": ["y" * 100_000, "x"]}, "is 100000 characters (max 1024)"),
        ({"template.components.body": ["{{" + "a" * 200_000, "x"]}, "bad placeholder in '{{aa"),
        (
            {
                "template.components.buttons": [
                    {"sub_type": "url", "index": 0, "params": ["z" * 5000]}
                ]
            },
            "buttons[0].params[0]: is 5000 characters",
        ),
        ({"template.language": "e" * 3000}, "template.language: not a language code: 'eee"),
    ],
    ids=["parameter", "placeholder", "button-param", "language"],
)
def test_a_huge_value_is_quoted_as_a_short_excerpt(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, changes: dict[str, Any], needle: str
) -> None:
    # The error names the field and shows the first 40 characters and the length, not the
    # whole value (the CLI's 1,000-character cut is only the last resort).
    path = write_spec(tmp_path, spec_with(changes))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, runner=in_process)
    line = refused(res, "campaign: error: spec.yaml: template.", needle, "characters)")
    assert len(line) < 250, line[:300]
    assert unchanged


def test_inline_profile_unknown_field_in_a_flow_mapping_names_the_field(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess
) -> None:
    text = (
        (FIXTURES / "spec.yaml")
        .read_text()
        .replace("profile: cloud-80", "profile: {base: cloud-80, rate_per_sec: 10}")
    )
    path = write_spec(tmp_path, text)
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, runner=in_process)
    refused(res, "spec.yaml: profile.rate_per_sec: unknown key")
    assert unchanged


# ---- profiles by path, --profile -------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "needles"),
    [
        ("profile-unknown-field.yaml", ["rate: unknown key (allowed: aimd"]),
        ("profile-zero-rate.yaml", ["rate_per_s: must be > 0, got 0"]),
        ("profile-api-key.yaml", ["api_key: unknown key (secrets are never read from files"]),
    ],
    ids=["unknown-field", "zero-rate", "api-key"],
)
@pytest.mark.parametrize("how", ["spec-path", "flag-path"])
def test_bad_profile_file_is_named(
    seeded_dsn: str,
    tmp_path: Path,
    in_process: InProcess,
    fixture: str,
    needles: list[str],
    how: str,
) -> None:
    (tmp_path / "profiles").mkdir()
    shutil.copy(FIXTURES / fixture, tmp_path / "profiles" / fixture)
    if how == "spec-path":
        path = write_spec(tmp_path, spec_with({"profile": f"./profiles/{fixture}"}))
        args = [path.name]
    else:
        path = write_spec(tmp_path, base_spec())
        args = [path.name, "--profile", f"profiles/{fixture}"]
    res, unchanged = run_spec(seeded_dsn, tmp_path, *args, runner=in_process)
    refused(res, f"error: profiles/{fixture}: ", *needles)
    assert unchanged


def test_bad_profile_file_as_a_process(seeded_dsn: str, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "profile-unknown-field.yaml", tmp_path / "p.yaml")
    path = write_spec(tmp_path, base_spec())
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--profile", "p.yaml")
    refused(res, "error: p.yaml: rate: unknown key")
    res2, unchanged2 = run_spec(seeded_dsn, tmp_path, path.name, "--profile", "gone.yaml")
    refused(res2, "error: gone.yaml: no such profile file or shipped profile")
    assert unchanged and unchanged2


@pytest.mark.parametrize(
    ("flag", "needles"),
    [
        (
            "missing.yaml",
            ["missing.yaml: no such profile file or shipped profile (known: cloud-80"],
        ),
        ("./nowhere/p.yaml", ["nowhere/p.yaml: no such profile file"]),
        ("warp-speed", ["warp-speed: no such profile file or shipped profile"]),
    ],
    ids=["missing-file", "missing-dir", "unknown-name"],
)
def test_profile_flag_pointing_nowhere(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, flag: str, needles: list[str]
) -> None:
    path = write_spec(tmp_path, base_spec())
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--profile", flag, runner=in_process)
    refused(res, *needles)
    assert unchanged


def test_spec_profile_path_missing(seeded_dsn: str, tmp_path: Path, in_process: InProcess) -> None:
    path = write_spec(tmp_path, spec_with({"profile": "./profiles/gone.yaml"}))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, runner=in_process)
    refused(res, "spec.yaml: profile: no profile './profiles/gone.yaml'")
    assert unchanged


# ---- the environment -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_api_key_env_not_set(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, value: str | None
) -> None:
    path = write_spec(tmp_path, spec_with({"channel.api_key_env": "BADINPUT_NOT_SET"}))
    env = {} if value is None else {"BADINPUT_NOT_SET": value}
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, env=env, runner=in_process)
    refused(res, "spec.yaml: channel.api_key_env: environment variable BADINPUT_NOT_SET is not set")
    assert unchanged


def test_api_key_env_not_set_also_stops_a_dry_run(seeded_dsn: str, tmp_path: Path) -> None:
    path = write_spec(tmp_path, base_spec())
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--dry-run", env={})
    refused(res, f"environment variable {API_KEY_ENV} is not set")
    assert unchanged


# ---- secrets pasted where they do not belong are refused without being echoed ------------

PASTED_KEY = "AbCdEf0123456789SecretKeyXyZ"  # what a 360dialog key looks like: mixed case


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"channel.api_key_env": PASTED_KEY}, "channel.api_key_env: must match"),
        ({"channel.webhook_secret_env": PASTED_KEY}, "channel.webhook_secret_env: must match"),
        ({"channel.api_key_env": 1234567890}, "channel.api_key_env: must match"),
    ],
    ids=["api-key-in-env-field", "secret-in-env-field", "number-in-env-field"],
)
def test_secret_in_an_env_field_is_not_echoed(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, changes: dict[str, Any], needle: str
) -> None:
    path = write_spec(tmp_path, spec_with(changes))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, runner=in_process)
    line = refused(res, f"spec.yaml: {needle}", "not the secret itself")
    assert PASTED_KEY not in line and "1234567890" not in line
    assert unchanged


@pytest.mark.parametrize("how", ["spec", "profile"])
def test_a_dotenv_file_given_as_spec_or_profile_is_not_echoed(
    seeded_dsn: str, tmp_path: Path, in_process: InProcess, how: str
) -> None:
    (tmp_path / ".env").write_text(f"D360_API_KEY={PASTED_KEY}\n")
    write_spec(tmp_path, base_spec())
    args = [".env"] if how == "spec" else ["spec.yaml", "--profile", "./.env"]
    res, unchanged = run_spec(seeded_dsn, tmp_path, *args, runner=in_process)
    refused(res, ".env: must be a mapping, got plain text (not shown)")
    assert PASTED_KEY not in res.stderr
    assert unchanged


# ---- the database side -----------------------------------------------------------------


def test_audience_that_does_not_exist_changes_nothing(db_dsn: str, tmp_path: Path) -> None:
    path = write_spec(tmp_path, spec_with({"audience": "no-such-list"}))
    res, unchanged = run_spec(db_dsn, tmp_path, path.name)
    refused(res, "spec.yaml: audience: no audience named 'no-such-list'")
    assert unchanged


def test_audience_that_does_not_exist_is_one_line(seeded_dsn: str, tmp_path: Path) -> None:
    # The seeded database already has channel "main": the refusal itself is checked here,
    # the clean-database side above.
    path = write_spec(tmp_path, spec_with({"audience": "no-such-list"}))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name)
    refused(res, "spec.yaml: audience: no audience named 'no-such-list'", "audience import")
    assert unchanged


def test_dry_run_prints_json_sends_nothing_changes_nothing(seeded_dsn: str, tmp_path: Path) -> None:
    path = write_spec(tmp_path, base_spec())
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--dry-run")
    assert res.code == 0, res.stderr
    assert "Traceback" not in res.stderr
    out = json.loads(res.stdout)
    assert out["campaign"] == "badinput"
    assert out["audience_found"] is True
    assert (out["recipients"], out["to_send"], out["sends"]) == (3, 3, 0)
    assert out["render_problems_count"] == 0
    assert unchanged
    rows = run_isolated(fetch(seeded_dsn, "SELECT 1 FROM campaigns WHERE name = 'badinput'"))
    assert rows == []


def test_dry_run_of_an_unknown_audience_is_refused(seeded_dsn: str, tmp_path: Path) -> None:
    # The dry run refuses what the run would: same line, same exit code.
    path = write_spec(tmp_path, spec_with({"audience": "no-such-list"}))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--dry-run")
    refused(res, "spec.yaml: audience: no audience named 'no-such-list'", "audience import")
    assert unchanged


def test_dry_run_on_a_database_without_schema(tmp_path: Path, pg_admin_dsn: str) -> None:
    # A dry run does not migrate: on a fresh database there is no audience to find.
    name = f"ce_bad_empty_{uuid.uuid4().hex[:10]}"
    run_isolated(_admin(pg_admin_dsn, f'CREATE DATABASE "{name}"'))
    try:
        dsn = urlunsplit(urlsplit(pg_admin_dsn)._replace(path="/" + name))
        path = write_spec(tmp_path, base_spec())
        res, unchanged = run_spec(dsn, tmp_path, path.name, "--dry-run")
        refused(res, f"spec.yaml: audience: no audience named '{AUDIENCE}'")
        assert unchanged and all_counts(dsn) == {}
    finally:
        run_isolated(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The seeded campaign was started with another spec; a new channel name makes a write
# before the refusal visible in the row counts.
CHANGED = {"name": SEEDED, "channel.name": "other-channel"}


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
def test_changed_spec_without_force_new_changes_nothing(
    seeded_dsn: str, tmp_path: Path, dry: bool
) -> None:
    before = run_isolated(message_states(seeded_dsn))
    path = write_spec(tmp_path, spec_with(CHANGED))
    args = [path.name, "--dry-run"] if dry else [path.name]
    res, unchanged = run_spec(seeded_dsn, tmp_path, *args)
    refused(res, f"spec.yaml: campaign '{SEEDED}' was started with a different spec", "--force-new")
    assert unchanged
    assert run_isolated(message_states(seeded_dsn)) == before
    rows = run_isolated(fetch(seeded_dsn, "SELECT state FROM campaigns WHERE name = $1", SEEDED))
    assert [r["state"] for r in rows] == ["completed"]


def test_dry_run_with_force_new_says_it_replaces(seeded_dsn: str, tmp_path: Path) -> None:
    path = write_spec(tmp_path, spec_with(CHANGED))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--dry-run", "--force-new")
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["replaces_campaign"], out["sends"]) == (True, 0)
    assert unchanged


def test_dry_run_reports_render_problems_masked(seeded_dsn: str, tmp_path: Path) -> None:
    # Every seeded recipient lacks "coupon": a dry run lists the problem per (masked) phone.
    path = write_spec(tmp_path, spec_with({"template.components.body": ["{{coupon}}", "x"]}))
    res, unchanged = run_spec(seeded_dsn, tmp_path, path.name, "--dry-run")
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["render_problems_count"] == 3
    problem = out["render_problems_in_sample"][0]
    assert "coupon" in problem["problem"]
    assert "*" in problem["phone"]
    assert not any(phone in res.stdout for phone in PHONES)
    assert unchanged
