"""Campaign specs: who gets which template, on which channel, at which pace.

``load_spec`` reads and validates the whole file eagerly (the template is compiled too), so
a bad spec fails before anything is claimed or sent, with one line naming the file, the
dotted field and the reason. Secrets never live in the file: the spec names environment
variables (``channel.api_key_env``) and ``resolve_api_key`` reads them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.config.loader import Section, read_yaml, show, to_jsonable
from engine.config.profile import (
    NAME_PATTERN,
    Profile,
    display_path,
    find_profile,
    known_profiles,
    load_profile,
    parse_profile,
)
from engine.config.template import parse_template
from engine.core.render import TemplatePlan, TemplateSpec, compile_template
from engine.errors import ConfigError
from engine.logs import register_secret

DEFAULT_BASE_URL = "https://waba-v2.360dialog.io"
ENV_PATTERN = r"[A-Z_][A-Z0-9_]{0,127}"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSpec:
    name: str
    api_key_env: str
    base_url: str = DEFAULT_BASE_URL
    portfolio: str = "default"
    webhook_secret_env: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """Local send hours; ``from_time > to_time`` wraps past midnight."""

    from_time: dt.time = field(metadata={"json": "from"})
    to_time: dt.time = field(metadata={"json": "to"})
    timezone: str = "recipient"  # "recipient" (from the phone number) or an IANA name
    fallback_timezone: str | None = None  # when a number maps to no single zone


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    on_unknown: Literal["skip", "resend"] = "skip"
    start_at: dt.datetime | None = None
    max_attempts: int | None = None
    opt_out_payloads: tuple[str, ...] = ()
    window: WindowSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSpec:
    name: str
    channel: ChannelSpec
    audience: str
    template: TemplateSpec
    profile: Profile
    options: Options = field(default_factory=Options)
    source: str = field(default="<spec>", metadata={"skip_json": True}, compare=False)
    plan: TemplatePlan = field(metadata={"skip_json": True}, compare=False, repr=False)

    @property
    def max_attempts(self) -> int:
        """Send attempts per recipient: ``options.max_attempts`` else the profile's."""
        return self.options.max_attempts or self.profile.max_attempts

    @property
    def spec_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of everything but the throughput profile:
        a started campaign may be resumed at another pace, not with other content."""
        content = {k: v for k, v in self.to_json().items() if k != "profile"}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data

    def with_profile(self, profile: Profile) -> CampaignSpec:
        return dataclasses.replace(self, profile=profile)


def load_spec(path: str | Path, *, profile: str | None = None) -> CampaignSpec:
    """Load and validate a campaign spec; ``profile`` (a name or a path relative to the
    working directory, e.g. from ``--profile``) replaces the spec's own. ``ConfigError``."""
    spec_path = Path(path)
    where = display_path(spec_path) if spec_path.is_absolute() else str(spec_path)
    raw = read_yaml(spec_path, where=where)
    keys = ("name", "channel", "audience", "template", "profile", "options")
    s = Section(where, "", raw, keys)
    name = s.string("name", pattern=NAME_PATTERN)
    channel = _channel(s)
    audience = s.string("audience", pattern=NAME_PATTERN)
    template = parse_template(s.get("template"), where=where)
    plan = compile_template(template, where=where)
    # An explicit --profile replaces the spec's own, which is then not even looked up.
    resolved = load_profile(profile) if profile is not None else _profile(s, spec_path.parent)
    return CampaignSpec(
        name=name,
        channel=channel,
        audience=audience,
        template=template,
        profile=resolved,
        options=_options(s),
        source=where,
        plan=plan,
    )


def resolve_api_key(spec: CampaignSpec, environ: Mapping[str, str]) -> str:
    """The channel's API key from the environment variable the spec names; the value is
    registered with the log redactor as it is read. ``ConfigError`` when unset or empty."""
    value = _env(spec, "channel.api_key_env", spec.channel.api_key_env, environ)
    assert value is not None
    return value


def resolve_webhook_secret(spec: CampaignSpec, environ: Mapping[str, str]) -> str | None:
    """The webhook secret, or None when the spec names no ``webhook_secret_env``."""
    return _env(spec, "channel.webhook_secret_env", spec.channel.webhook_secret_env, environ)


def _env(
    spec: CampaignSpec, field: str, name: str | None, environ: Mapping[str, str]
) -> str | None:
    if name is None:
        return None
    value = environ.get(name, "")
    if not value.strip():
        raise ConfigError(spec.source, field, f"environment variable {name} is not set")
    register_secret(value)  # from now on the value is redacted from every log line
    return value


def _channel(parent: Section) -> ChannelSpec:
    keys = ("name", "base_url", "api_key_env", "portfolio", "webhook_secret_env")
    s = parent.section("channel", keys, default=None)
    if not s.raw:
        parent.fail("channel", "required field is missing")
    return ChannelSpec(
        name=s.string("name", pattern=NAME_PATTERN),
        base_url=_base_url(s),
        api_key_env=s.env_name("api_key_env", pattern=ENV_PATTERN),
        portfolio=s.string("portfolio", default="default", pattern=NAME_PATTERN),
        webhook_secret_env=s.env_name("webhook_secret_env", default=None, pattern=ENV_PATTERN),
    )


def _base_url(s: Section) -> str:
    url: str = s.string("base_url", default=DEFAULT_BASE_URL)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        s.fail("base_url", f"not a URL: {show(url)}")
    if parts.username or parts.password:
        s.fail("base_url", "must not contain credentials (use channel.api_key_env)")
    if parts.query or parts.fragment or not host:
        s.fail("base_url", f"must be scheme://host[:port][/path], got {show(url)}")
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK):
        s.fail("base_url", f"must be https (http only for localhost), got {show(url)}")
    return url.rstrip("/")


def _profile(s: Section, base_dir: Path) -> Profile:
    ref = s.get("profile", "cloud-80")
    if isinstance(ref, Mapping):
        keys = [*Profile.__dataclass_fields__, "base"]
        keys.remove("source")
        inline = Section(s.where, "profile", ref, keys)
        base = _find(s, inline.string("base", default="cloud-80"), base_dir, field="profile.base")
        overrides = {k: v for k, v in ref.items() if k != "base"}
        name = f"{base.name}+{s.string('name')}"[:64]
        merged = parse_profile(overrides, where=s.where, path="profile", base=base, name=name)
        return dataclasses.replace(merged, source=s.where)
    if not isinstance(ref, str) or not ref.strip():
        s.fail("profile", f"must be a profile name, a path or a mapping, got {show(ref)}")
    return _find(s, ref, base_dir, field="profile")


def _find(s: Section, ref: str, base_dir: Path, *, field: str) -> Profile:
    if find_profile(ref, base_dir=base_dir) is None:
        known = ", ".join(known_profiles())
        raise ConfigError(s.where, field, f"no profile {ref!r} (shipped: {known})")
    return load_profile(ref, base_dir=base_dir)


def _options(parent: Section) -> Options:
    keys = ("on_unknown", "start_at", "max_attempts", "opt_out_payloads", "window")
    s = parent.section("options", keys, default={})
    return Options(
        on_unknown=s.choice("on_unknown", ("skip", "resend"), default="skip"),
        start_at=_start_at(s),
        max_attempts=s.integer("max_attempts", default=None, hi=100),
        opt_out_payloads=s.strings("opt_out_payloads", default=[]),
        window=_window(s) if s.get("window", None) is not None else None,
    )


def _start_at(s: Section) -> dt.datetime | None:
    value = s.get("start_at", None)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            s.fail("start_at", f"not an ISO-8601 date-time: {show(value)}")
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        example = "2026-03-01T09:00:00+01:00"
        s.fail(
            "start_at",
            f"must be an ISO-8601 date-time with a timezone ({example}), got {show(value)}",
        )
    return value


def _window(parent: Section) -> WindowSpec:
    keys = ("from", "to", "timezone", "fallback_timezone")
    s = parent.section("window", keys)
    start, end = _hhmm(s, "from"), _hhmm(s, "to")
    if start == end:
        s.fail("to", f"must differ from 'from' (empty window), got {end:%H:%M}")
    tz = s.string("timezone", default="recipient")
    if tz != "recipient":
        _zone(s, "timezone", tz)
    fallback = s.string("fallback_timezone", default=None)
    if fallback is not None:
        _zone(s, "fallback_timezone", fallback)
    elif tz == "recipient":
        s.fail("fallback_timezone", "required with timezone: recipient (numbers spanning zones)")
    return WindowSpec(from_time=start, to_time=end, timezone=tz, fallback_timezone=fallback)


def _hhmm(s: Section, key: str) -> dt.time:
    value = s.get(key)
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        s.fail(key, f'must be a time "HH:MM" (quoted), got {show(value)}')
    return dt.time(int(value[:2]), int(value[3:]))


def _zone(s: Section, key: str, name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        s.fail(key, f"unknown IANA time zone {name!r} (e.g. Europe/Berlin)")
