"""Campaign specs: the example loads; every bad field is one line naming file and field."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import load_profile, load_spec, resolve_api_key, resolve_webhook_secret
from engine.config.spec import DEFAULT_BASE_URL
from engine.errors import ConfigError
from engine.paths import CAMPAIGNS_DIR

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "config"

BASE: dict[str, Any] = {
    "name": "spring-promo",
    "channel": {"name": "main", "api_key_env": "D360_API_KEY"},
    "audience": "spring-list",
    "template": {
        "name": "demo_promo",
        "language": "en",
        "category": "marketing",
        "components": {
            "header": {"type": "image", "media_id": "123"},
            "body": ["{{first_name}}", "{{code}}"],
            "buttons": [
                {"sub_type": "url", "index": 0, "params": ["{{code}}"]},
                {"sub_type": "quick_reply", "index": 1, "payload": "STOP_PROMO"},
            ],
        },
    },
    "profile": "cloud-80",
    "options": {"opt_out_payloads": ["STOP_PROMO"]},
}


def edit(changes: dict[str, Any]) -> dict[str, Any]:
    """BASE with dotted-path changes; a value of ... deletes the key."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return data


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(data: Any, name: str = "x.yaml") -> Any:
    Path(name).write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(name)


def test_example_sandbox_spec_loads() -> None:
    spec = load_spec(CAMPAIGNS_DIR / "example-sandbox.yaml")
    assert spec.name == "example-sandbox"
    assert spec.profile.name == "sandbox-max"
    assert spec.channel.base_url.startswith("http://127.0.0.1")
    assert spec.plan.attributes == {"first_name", "code"}
    assert spec.options.opt_out_payloads == ("STOP_PROMO",)
    assert len(spec.spec_hash) == 64


def test_base_spec_defaults(in_tmp: Path) -> None:
    spec = load(BASE)
    assert spec.source == "x.yaml"
    assert spec.channel.base_url == DEFAULT_BASE_URL
    assert spec.channel.portfolio == "default"
    assert spec.channel.webhook_secret_env is None
    assert spec.options.on_unknown == "skip"
    assert spec.options.window is None
    assert spec.max_attempts == spec.profile.max_attempts == 5
    assert spec.profile == load_profile("cloud-80")


def test_spec_hash_is_stable_and_ignores_profile_and_file(in_tmp: Path) -> None:
    first = load(BASE, "a.yaml")
    again = load(BASE, "b.yaml")
    assert first.spec_hash == again.spec_hash
    assert load(edit({"profile": "sandbox-max"})).spec_hash == first.spec_hash
    assert first.with_profile(load_profile("tier-250-warmup")).spec_hash == first.spec_hash
    changed = load(edit({"template.components.body": ["{{first_name}}", "{{coupon}}"]}))
    assert changed.spec_hash != first.spec_hash
    assert load(edit({"options.on_unknown": "resend"})).spec_hash != first.spec_hash


def test_to_json_is_plain_data(in_tmp: Path) -> None:
    import json

    window = {"from": "09:00", "to": "20:00", "fallback_timezone": "Europe/Berlin"}
    spec = load(edit({"options.window": window, "options.start_at": "2026-03-01T09:00:00+01:00"}))
    data = json.loads(json.dumps(spec.to_json()))
    assert data["options"]["window"] == {**window, "timezone": "recipient"}
    assert data["options"]["start_at"] == "2026-03-01T09:00:00+01:00"
    assert data["profile"]["name"] == "cloud-80"
    assert "plan" not in data and "source" not in data


def test_options_parse(in_tmp: Path) -> None:
    spec = load(
        edit(
            {
                "options.start_at": "2026-03-01T09:00:00Z",
                "options.max_attempts": 2,
                "options.window": {"from": "21:00", "to": "06:00", "timezone": "Asia/Tokyo"},
            }
        )
    )
    assert spec.options.start_at == dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    assert spec.max_attempts == 2
    assert spec.options.window is not None
    assert spec.options.window.from_time == dt.time(21, 0)
    assert spec.options.window.timezone == "Asia/Tokyo"


def test_unquoted_yaml_timestamp_and_times(in_tmp: Path) -> None:
    text = yaml.safe_dump(BASE, sort_keys=False)
    text += (
        "  start_at: 2026-03-01T09:00:00+01:00\n  window: {from: 10:00, to: 18:30, timezone: UTC}\n"
    )
    Path("x.yaml").write_text(text)
    spec = load_spec("x.yaml")
    assert spec.options.start_at is not None and spec.options.start_at.utcoffset()
    assert spec.options.window is not None
    assert spec.options.window.from_time == dt.time(10, 0)


def test_profile_relative_to_spec_file() -> None:
    spec = load_spec(FIXTURES / "spec-local-profile.yaml")
    assert spec.profile.name == "local-slow"
    assert spec.profile.rate_per_s == 10
    assert spec.plan.attributes == frozenset()


def test_inline_profile_overrides_a_base() -> None:
    spec = load_spec(FIXTURES / "spec-inline-profile.yaml")
    base = load_profile("high-throughput-1000")
    assert spec.profile.rate_per_s == 500
    assert spec.profile.backoff.max_s == 60
    assert spec.profile.backoff.base_s == base.backoff.base_s
    assert spec.profile.concurrency == base.concurrency


def test_profile_override_argument(in_tmp: Path) -> None:
    Path("x.yaml").write_text(yaml.safe_dump(edit({"profile": "nowhere"})))
    assert load_spec("x.yaml", profile="tier-250-warmup").profile.name == "tier-250-warmup"


def test_resolve_api_key(in_tmp: Path) -> None:
    spec = load(edit({"channel.webhook_secret_env": "HOOK_SECRET"}))
    assert resolve_api_key(spec, {"D360_API_KEY": "k-123"}) == "k-123"
    with pytest.raises(ConfigError) as info:
        resolve_api_key(spec, {})
    expected = "x.yaml: channel.api_key_env: environment variable D360_API_KEY is not set"
    assert str(info.value) == expected
    with pytest.raises(ConfigError):
        resolve_api_key(spec, {"D360_API_KEY": "  "})
    assert resolve_webhook_secret(spec, {"HOOK_SECRET": "s"}) == "s"
    with pytest.raises(ConfigError, match="webhook_secret_env: environment variable HOOK_SECRET"):
        resolve_webhook_secret(spec, {})
    assert resolve_webhook_secret(load(BASE), {}) is None


T = "template.components"
CASES: list[tuple[dict[str, Any], str]] = [
    ({"name": "Spring Promo"}, "name: must match [a-z0-9][a-z0-9._-]{0,63}, got 'Spring Promo'"),
    ({"name": ...}, "name: required field is missing"),
    ({"colour": "red"}, "colour: unknown key (allowed: audience, channel, name, options"),
    ({"channel": ...}, "channel: required field is missing"),
    ({"channel.api_key": "abc"}, "channel.api_key: unknown key (secrets are never read from files"),
    ({"channel.api_key_env": ...}, "channel.api_key_env: required field is missing"),
    ({"channel.api_key_env": "d360 key"}, "channel.api_key_env: must match [A-Z_][A-Z0-9_]{0,127}"),
    ({"channel.base_url": "http://example.com"}, "channel.base_url: must be https (http only for"),
    ({"channel.base_url": "https://u:p@x.io"}, "channel.base_url: must not contain credentials"),
    ({"channel.base_url": "https://x.io?a=1"}, "channel.base_url: must be scheme://host[:port]"),
    (
        {"channel.base_url": "https://x.io:99999"},
        "channel.base_url: not a URL: 'https://x.io:99999'",
    ),
    ({"channel.portfolio": 7}, "channel.portfolio: must be a non-empty string, got 7"),
    ({"audience": ""}, "audience: must be a non-empty string, got ''"),
    ({"template": ...}, "template: required field is missing"),
    ({"template.name": "Demo Promo"}, "template.name: must match [a-z0-9_]{1,512}"),
    ({"template.language": "english"}, "template.language: not a language code: 'english'"),
    ({"template.category": "promo"}, "template.category: must be one of 'marketing', 'utility'"),
    ({f"{T}.footer": {"text": "x"}}, f"{T}.footer: unknown key (allowed: body, buttons, header)"),
    ({f"{T}.header": {"type": "gif", "link": "https://x"}}, f"{T}.header.type: must be one of"),
    ({f"{T}.header": {"type": "image"}}, f"{T}.header: a image header takes exactly one of"),
    (
        {f"{T}.header": {"type": "image", "media_id": "1", "link": "https://x/y.png"}},
        f"{T}.header: a image header takes exactly one of media_id, link",
    ),
    ({f"{T}.header": {"type": "video", "link": "ftp://x"}}, f"{T}.header.link: must be an http(s)"),
    (
        {f"{T}.header": {"type": "text", "params": ["{{a}}", "{{b}}"]}},
        f"{T}.header.params: a text header takes at most 1 parameter",
    ),
    (
        {f"{T}.body": "{{first_name}}"},
        f"{T}.body: must be a list of parameters, got '{{{{first_name}}}}'",
    ),
    ({f"{T}.body": ["{{first name}}"]}, f"{T}.body[0]: bad placeholder in '{{{{first name}}}}'"),
    ({f"{T}.body": ["{{}}"]}, f"{T}.body[0]: bad placeholder"),
    ({f"{T}.body": ["Hi {{name"]}, f"{T}.body[0]: bad placeholder"),
    ({f"{T}.body": [""]}, f"{T}.body[0]: is empty: ''"),
    ({f"{T}.body": ["a\nb"]}, f"{T}.body[0]: contains a newline or tab: 'a\\nb'"),
    ({f"{T}.body": ["{{a}}\n{{b}}"]}, f"{T}.body[0]: contains a newline or tab"),
    ({f"{T}.body": ["a      b"]}, f"{T}.body[0]: contains more than 4 consecutive spaces"),
    ({f"{T}.body": [{"type": "money"}]}, f"{T}.body[0].type: must be one of 'text', 'currency'"),
    (
        {f"{T}.body": [{"type": "date_time", "fallback_value": "x", "code": "USD"}]},
        f"{T}.body[0].code: unknown key (allowed: fallback_value, type)",
    ),
    (
        {
            f"{T}.body": [
                {"type": "currency", "fallback_value": "$1", "code": "usd", "amount_1000": 1}
            ]
        },
        f"{T}.body[0].code: must be a 3-letter ISO 4217 code like USD: 'usd'",
    ),
    (
        {
            f"{T}.body": [
                {"type": "currency", "fallback_value": "$1", "code": "USD", "amount_1000": "1.5"}
            ]
        },
        f"{T}.body[0].amount_1000: must be a whole number (amount x 1000): '1.5'",
    ),
    (
        {f"{T}.body": [{"type": "currency", "fallback_value": "$1", "code": "USD"}]},
        f"{T}.body[0].amount_1000: required field is missing",
    ),
    (
        {f"{T}.buttons": [{"sub_type": "call", "index": 0}]},
        f"{T}.buttons[0].sub_type: must be one of",
    ),
    (
        {f"{T}.buttons": [{"sub_type": "url", "index": 10, "params": ["x"]}]},
        f"{T}.buttons[0].index: must be <= 9",
    ),
    (
        {f"{T}.buttons": [{"sub_type": "url", "index": 0}]},
        f"{T}.buttons[0].params: a url button takes exactly 1",
    ),
    (
        {f"{T}.buttons": [{"sub_type": "quick_reply", "index": 0}]},
        f"{T}.buttons[0]: a quick_reply button takes a payload",
    ),
    (
        {
            f"{T}.buttons": [
                {"sub_type": "url", "index": 1, "params": ["a"]},
                {"sub_type": "copy_code", "index": 1, "params": ["b"]},
            ]
        },
        f"{T}.buttons[1].index: must be unique and within 0..9, got 1",
    ),
    ({"profile": "warp-speed"}, "profile: no profile 'warp-speed' (shipped: cloud-80"),
    ({"profile": 80}, "profile: must be a profile name, a path or a mapping, got 80"),
    ({"profile": {"rate_per_s": -5}}, "profile.rate_per_s: must be > 0, got -5"),
    ({"profile": {"base": "nope"}}, "profile.base: no profile 'nope'"),
    (
        {"profile": {"aimd": {"decrease_factor": 2}}},
        "profile.aimd.decrease_factor: must be < 1, got 2",
    ),
    (
        {"options.on_unknown": "retry"},
        "options.on_unknown: must be one of 'skip', 'resend', got 'retry'",
    ),
    (
        {"options.start_at": "2026-03-01T09:00:00"},
        "options.start_at: must be an ISO-8601 date-time with a timezone",
    ),
    ({"options.start_at": "tomorrow"}, "options.start_at: not an ISO-8601 date-time: 'tomorrow'"),
    ({"options.max_attempts": 0}, "options.max_attempts: must be >= 1, got 0"),
    (
        {"options.opt_out_payloads": "STOP"},
        "options.opt_out_payloads: must be a list of strings, got 'STOP'",
    ),
    (
        {"options.opt_out_payloads": ["STOP", ""]},
        "options.opt_out_payloads[1]: must be a non-empty string",
    ),
    (
        {"options.window": {"from": "9:00", "to": "20:00", "timezone": "UTC"}},
        'options.window.from: must be a time "HH:MM"',
    ),
    (
        {"options.window": {"from": "09:00", "to": "09:00", "timezone": "UTC"}},
        "options.window.to: must differ from 'from'",
    ),
    (
        {"options.window": {"from": "09:00", "to": "20:00", "timezone": "Mars/Base"}},
        "options.window.timezone: unknown IANA time zone 'Mars/Base'",
    ),
    (
        {"options.window": {"from": "09:00", "to": "20:00"}},
        "options.window.fallback_timezone: required with timezone: recipient",
    ),
    ({"options.window": {"from": "09:00"}}, "options.window.to: required field is missing"),
    ({"options.resend": True}, "options.resend: unknown key"),
]


@pytest.mark.parametrize(("changes", "expected"), CASES, ids=[c[1].split(":")[0] for c in CASES])
def test_spec_error_names_file_and_field(
    in_tmp: Path, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(edit(changes))
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    assert message.startswith(f"x.yaml: {expected}"), message


def test_spec_must_be_a_mapping(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load("just a string")
    # the text of a file that is one string is not echoed (it may be a .env or a key file)
    assert str(info.value) == "x.yaml: must be a mapping, got plain text (not shown)"
