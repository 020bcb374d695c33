"""Receiver settings: YAML with secrets from the environment, or the env-only fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.webhooks.settings import DEFAULT_OPT_OUT_TOKENS, load_settings, resolve_settings

ENV = {"MAIN_SECRET": "m-secret", "SIGN": "sign-secret", "DEFAULT_SECRET": "d-secret"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "webhooks.yaml"
    path.write_text(text)
    return path


def test_yaml_channels_and_correlator(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
header: X-Hook
signing_secret_env: SIGN
default_secret_env: DEFAULT_SECRET
max_body_mb: 1
channels:
  main: {secret_env: MAIN_SECRET}
  loud: {secret_env: MAIN_SECRET, header: X-Loud}
correlator:
  batch_size: 100
  idle_poll_ms: 20
  opt_out_tokens: [stop, Halt]
  template_pause_132015: 3
  template_pause_window_s: 30
""",
    )
    s = load_settings(path, ENV)
    assert s.channels["main"].secret == "m-secret" and s.channels["main"].header == "X-Hook"
    assert s.channels["main"].signing_secret == "sign-secret"
    assert s.channels["loud"].header == "X-Loud"
    assert s.fallback is not None and s.fallback.secret == "d-secret"
    assert s.max_body_bytes == 1024 * 1024
    c = s.correlator
    assert (c.batch_size, c.idle_poll_s, c.opt_out_tokens) == (100, 0.02, ("STOP", "HALT"))
    assert (c.pause_132015_count, c.pause_132015_window_s) == (3, 30.0)
    assert "m-secret" not in repr(s) and "sign-secret" not in repr(s)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("channels: {main: {secret_env: NOPE}}", "NOPE is not set"),
        ("channels: {main: {secret: inline-value}}", "secrets are never read from files"),
        ("channels: {main: {}}", "channels.main.secret_env: required"),
        ("channels: {}", "list at least one channel"),
        ("header: 'bad header'\nchannels: {main: {secret_env: MAIN_SECRET}}", "header"),
        ("correlator: {batch_size: 0}\nchannels: {main: {secret_env: MAIN_SECRET}}", "batch_size"),
        ("unknown: 1", "unknown key"),
    ],
)
def test_yaml_errors_name_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, ENV)
    assert str(info.value).startswith(str(path)) and needle in str(info.value)


def test_env_only_fallback() -> None:
    s = resolve_settings(None, {"WEBHOOK_SECRET": "abc-123", "WEBHOOK_SIGNING_SECRET": "sig"})
    assert s.channels == {} and s.fallback is not None
    assert (s.fallback.secret, s.fallback.header, s.fallback.signing_secret) == (
        "abc-123",
        "X-Webhook-Secret",
        "sig",
    )
    assert s.correlator.opt_out_tokens == DEFAULT_OPT_OUT_TOKENS
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        resolve_settings(None, {})


def test_status_pause_knobs(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(
        "default_secret_env: S\n"
        "correlator:\n  status_pause_failures: 9\n  status_pause_window_s: 15\n"
    )
    c = load_settings(path, {"S": "x" * 20}).correlator
    assert (c.status_pause_count, c.status_pause_window_s) == (9, 15.0)
    assert (c.pause_132015_count, c.pause_132015_window_s) == (5, 60.0)
