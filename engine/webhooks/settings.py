"""Receiver settings: which channels may post, with which secrets, and the correlator's knobs.

Secrets are only ever read from environment variables (never from YAML) and registered with
the log redactor the moment they are read.

Env-only set-up (no ``--config``)::

    WEBHOOK_SECRET=...            # required: the secret header value, valid for every
                                  # channel in the ``channels`` table
    WEBHOOK_SECRET_HEADER=...     # optional header name (default X-Webhook-Secret)
    WEBHOOK_SIGNING_SECRET=...    # optional: also require x-360dialog-signature (HMAC-SHA256)

YAML set-up (``campaign webhooks serve --config webhooks.yaml``)::

    header: X-Webhook-Secret          # default header name for every channel
    default_secret_env: WEBHOOK_SECRET  # optional: secret for channels in the channels
                                      # table that are not listed below
    signing_secret_env: D360_SIGNING  # optional default signing secret
    max_body_mb: 3
    channels:
      main:
        secret_env: MAIN_WEBHOOK_SECRET
        header: X-Webhook-Secret      # optional, per channel
        signing_secret_env: MAIN_SIGNING_SECRET  # optional, per channel
    correlator:
      batch_size: 500                 # inbox rows claimed per transaction
      idle_poll_ms: 50                # poll interval when the inbox is empty
      opt_out_tokens: [STOP, UNSUBSCRIBE]
      template_pause_132015: 5        # this many 132015 failures for one template ...
      template_pause_window_s: 60     # ... within this window pause its running campaigns
      status_pause_failures: 5        # this many failed statuses with a channel/portfolio
                                      # pause code (131048 spam limit, 131031, 368) ...
      status_pause_window_s: 60       # ... within this window hold that number/portfolio

A channel named in neither place answers 404. Failure modes: ``ConfigError`` naming the
file (or environment variable), the field and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.config.loader import Section, read_yaml
from engine.errors import ConfigError
from engine.logs import register_secret

DEFAULT_HEADER = "X-Webhook-Secret"
MAX_BODY_BYTES = 3 * 1024 * 1024
DEFAULT_OPT_OUT_TOKENS = ("STOP", "UNSUBSCRIBE")
_HEADER_RX = r"[A-Za-z0-9][A-Za-z0-9-]*"
_ENV_RX = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelAuth:
    """How one channel's posts are authenticated (secret values never shown in repr)."""

    secret: str = field(repr=False)
    header: str = DEFAULT_HEADER
    signing_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrelatorSettings:
    """Knobs of the correlator; times in seconds."""

    enabled: bool = True
    batch_size: int = 500
    idle_poll_s: float = 0.05
    pending_batch_size: int = 1000
    opt_out_tokens: tuple[str, ...] = DEFAULT_OPT_OUT_TOKENS
    pause_132015_count: int = 5
    pause_132015_window_s: float = 60.0
    status_pause_count: int = 5
    status_pause_window_s: float = 60.0
    coalesce_s: float = 0.005
    pending_every_s: float = 0.1
    error_backoff_s: float = 0.5
    opt_out_refresh_s: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverSettings:
    """Everything the receiver needs, resolved (secrets included)."""

    channels: Mapping[str, ChannelAuth] = field(default_factory=dict)
    # Applies to every channel in the ``channels`` table not listed in ``channels``.
    fallback: ChannelAuth | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = 1000
    writers: int = 2
    shutdown_timeout_s: float = 10.0
    correlator: CorrelatorSettings = field(default_factory=CorrelatorSettings)


def _env(environ: Mapping[str, str], name: str, where: str, fld: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise ConfigError(where, fld, f"environment variable {name} is not set or empty")
    register_secret(value)
    return value


def settings_from_env(environ: Mapping[str, str] | None = None) -> ReceiverSettings:
    """The env-only set-up: ``WEBHOOK_SECRET`` for every channel in the channels table."""
    env = os.environ if environ is None else environ
    where = "environment"
    secret = _env(env, "WEBHOOK_SECRET", where, "WEBHOOK_SECRET")
    header = env.get("WEBHOOK_SECRET_HEADER", "").strip() or DEFAULT_HEADER
    signing = env.get("WEBHOOK_SIGNING_SECRET", "") or None
    register_secret(signing)
    return ReceiverSettings(
        fallback=ChannelAuth(secret=secret, header=header, signing_secret=signing)
    )


def _correlator(sec: Section) -> CorrelatorSettings:
    keys = (
        "batch_size",
        "idle_poll_ms",
        "opt_out_tokens",
        "template_pause_132015",
        "template_pause_window_s",
        "status_pause_failures",
        "status_pause_window_s",
    )
    c = sec.section("correlator", keys, default={})
    base = CorrelatorSettings()
    tokens = c.strings("opt_out_tokens", default=list(base.opt_out_tokens))
    return CorrelatorSettings(
        batch_size=c.integer("batch_size", default=base.batch_size, hi=10_000),
        idle_poll_s=c.integer("idle_poll_ms", default=50, lo=1, hi=1000) / 1000,
        opt_out_tokens=tuple(t.strip().upper() for t in tokens),
        pause_132015_count=c.integer("template_pause_132015", default=base.pause_132015_count),
        pause_132015_window_s=c.number(
            "template_pause_window_s", default=base.pause_132015_window_s
        ),
        status_pause_count=c.integer("status_pause_failures", default=base.status_pause_count),
        status_pause_window_s=c.number("status_pause_window_s", default=base.status_pause_window_s),
    )


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> ReceiverSettings:
    """Read the YAML file at ``path``; secrets come from the environment variables it names."""
    env = os.environ if environ is None else environ
    where = str(path)
    keys = (
        "header",
        "default_secret_env",
        "signing_secret_env",
        "max_body_mb",
        "channels",
        "correlator",
    )
    top = Section(where, "", read_yaml(path), keys)
    header = top.string("header", default=DEFAULT_HEADER, pattern=_HEADER_RX)
    sign_env = top.env_name("signing_secret_env", default=None, pattern=_ENV_RX)
    signing = _env(env, sign_env, where, "signing_secret_env") if sign_env else None
    default_env = top.env_name("default_secret_env", default=None, pattern=_ENV_RX)
    fallback = None
    if default_env:
        secret = _env(env, default_env, where, "default_secret_env")
        fallback = ChannelAuth(secret=secret, header=header, signing_secret=signing)
    raw_channels = top.get("channels", {}) or {}
    chans = Section(where, "channels", raw_channels, [str(k) for k in raw_channels])
    channels: dict[str, ChannelAuth] = {}
    for name in chans.raw:
        raw = chans.raw[name]
        if isinstance(raw, Mapping) and ("secret" in raw or "signing_secret" in raw):
            chans.fail(str(name), "secrets are never read from files: name the variable in *_env")
        ch = chans.section(str(name), ("secret_env", "header", "signing_secret_env"))
        s_env = ch.env_name("secret_env", pattern=_ENV_RX)
        ch_sign_env = ch.env_name("signing_secret_env", default=None, pattern=_ENV_RX)
        channels[str(name)] = ChannelAuth(
            secret=_env(env, s_env, where, ch.field("secret_env")),
            header=ch.string("header", default=header, pattern=_HEADER_RX),
            signing_secret=(
                _env(env, ch_sign_env, where, ch.field("signing_secret_env"))
                if ch_sign_env
                else signing
            ),
        )
    if not channels and fallback is None:
        raise ConfigError(where, "channels", "list at least one channel or set default_secret_env")
    max_mb = top.number("max_body_mb", default=3.0, le=64.0)
    return ReceiverSettings(
        channels=channels,
        fallback=fallback,
        max_body_bytes=int(max_mb * 1024 * 1024),
        correlator=_correlator(top),
    )


def resolve_settings(
    config: str | None, environ: Mapping[str, str] | None = None
) -> ReceiverSettings:
    """``--config FILE`` when given, else the env-only set-up."""
    if config:
        return load_settings(Path(config), environ)
    return settings_from_env(environ)
