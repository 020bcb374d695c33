"""`campaign webhooks configure`: URL rules, then the call against the sandbox."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from engine.commands.webhooks import webhooks_configure
from engine.errors import ConfigError
from engine.sandbox.testing import running_sandbox
from engine.webhooks.configure import mask_secret, validate_secret, validate_webhook_url

EXAMPLE = Path(__file__).resolve().parents[2] / "campaigns" / "example-sandbox.yaml"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/webhooks/main",
        "https://a.b.example.com/x",
        "https://HOOKS.example.com",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert validate_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "allow_local", "problem"),
    [
        ("http://hooks.example.com/x", False, "must use https"),
        ("https://my_hooks.example.com/x", False, "'_'"),
        ("https://hooks.example.com:8443/x", False, "port"),
        ("https://hooks.example.com:443/x", False, "port"),
        ("http://127.0.0.1:8080/x", False, "--allow-local"),
        ("https://localhost:8080/x", False, "--allow-local"),
        ("http://hooks.example.com:8080/x", True, "must use https"),
        ("https://hooks.example.com:8080/x", True, "port"),
        ("https://user:pw@hooks.example.com/x", False, "credentials"),
        ("https://hooks.example.com/x?token=1", False, "query"),
        ("ftp://hooks.example.com/x", False, "https://"),
        ("hooks.example.com/x", False, "https://"),
        ("https://hooks.example.com:99999/x", False, "not a valid URL"),
    ],
)
def test_refused_urls(url: str, allow_local: bool, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_webhook_url(url, allow_local=allow_local)
    assert info.value.exit_code == 2
    assert problem in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("--url: ")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/webhooks/main", "http://localhost/x", "http://[::1]:9/x"]
)
def test_loopback_needs_allow_local(url: str) -> None:
    assert validate_webhook_url(url, allow_local=True) == url


def test_secret_rules() -> None:
    assert validate_secret("abc-DEF.123", "WEBHOOK_SECRET") == "abc-DEF.123"
    for bad in ("", "has_underscore", "tab\there", "é-accent"):
        with pytest.raises(ConfigError):
            validate_secret(bad, "WEBHOOK_SECRET")
    assert mask_secret("abcdefghij") == "ab***" and mask_secret("short") == "***"


def spec_for(tmp_path: Path, base_url: str) -> Path:
    text = EXAMPLE.read_text().replace("http://127.0.0.1:8360", base_url)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


async def test_configure_sets_the_sandbox_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("D360_API_KEY", "k1")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret-value-42")
    async with running_sandbox() as sb:
        args = argparse.Namespace(
            channel="sandbox",
            url="http://127.0.0.1:8080/webhooks/sandbox",
            spec=str(spec_for(tmp_path, sb.base_url)),
            allow_local=True,
        )
        assert await webhooks_configure(args) == 0
        async with sb.session.get(
            sb.base_url + "/v1/configs/webhook", headers={"D360-API-KEY": "k1"}
        ) as resp:
            stored = await resp.json()
    assert stored == {
        "url": "http://127.0.0.1:8080/webhooks/sandbox",
        "headers": {"X-Webhook-Secret": "s3cret-value-42"},
    }
    out, err = capsys.readouterr()
    printed = orjson.loads(out.strip().splitlines()[-1])
    assert printed["url"] == "http://127.0.0.1:8080/webhooks/sandbox"
    assert printed["headers"] == {"X-Webhook-Secret": "s3***"}
    assert "s3cret-value-42" not in out + err


async def test_bad_url_fails_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D360_API_KEY", "k1")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret-value-42")
    args = argparse.Namespace(
        channel="sandbox",
        url="http://127.0.0.1:8080/x",
        spec=str(spec_for(tmp_path, "http://127.0.0.1:1")),  # nothing listens there
        allow_local=False,
    )
    with pytest.raises(ConfigError, match="allow-local"):
        await webhooks_configure(args)


async def test_channel_must_match_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D360_API_KEY", "k1")
    args = argparse.Namespace(
        channel="other",
        url="https://hooks.example.com/webhooks/other",
        spec=str(spec_for(tmp_path, "http://127.0.0.1:1")),
        allow_local=False,
    )
    with pytest.raises(ConfigError, match=r"channel\.name"):
        await webhooks_configure(args)
