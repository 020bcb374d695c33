"""Throughput profiles: how fast, how wide and how patiently one channel sends.

A profile is a YAML file under ``campaigns/profiles/`` (or any path); every field has a
default, so a file states only what differs. ``campaigns/README.md`` documents each field.
A campaign spec may also give ``profile:`` as a mapping with ``base: <profile>`` plus
overrides; those errors then name ``profile.<field>`` in the spec file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.config.loader import Section, read_yaml, to_jsonable
from engine.errors import ConfigError
from engine.paths import PROFILES_DIR

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"
MAX_RATE_PER_S = 1000.0  # WhatsApp's highest per-number throughput level
TIERS: tuple[int | str | None, ...] = (250, 2000, 10000, 100000, "unlimited", None)
UNKNOWN_TIER_LIMIT = 250  # the reference's rule: an unknown tier is treated as the lowest

Tier = int | Literal["unlimited"] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delay before retry n (1-based): min(max_s, base_s * 2**(n-1)), then minus up to
    ``jitter`` x delay at random (0 = none, 1 = full jitter)."""

    base_s: float = 1.0
    max_s: float = 300.0
    jitter: float = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class Aimd:
    """Adaptive rate: x ``decrease_factor`` on a throttle signal (130429, 429, 503), never
    below ``floor_per_s``; + ``increase_per_s`` each second once ``quiet_s`` passed quietly."""

    floor_per_s: float = 5.0
    increase_per_s: float = 2.0
    decrease_factor: float = 0.5
    quiet_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Circuit:
    """``failures`` consecutive transient failures open the channel's circuit for ``open_s``."""

    failures: int = 20
    open_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorder:
    """Send outcomes are written in batches of up to ``batch`` rows, at least every
    ``flush_ms``."""

    flush_ms: int = 100
    batch: int = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    name: str
    description: str = ""
    rate_per_s: float | None = 72.0  # None: no artificial cap (sandbox benchmarks)
    burst: int = 10
    concurrency: int = 32
    claim_batch: int = 200
    queue_size: int = 400
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 15.0
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    aimd: Aimd = field(default_factory=Aimd)
    circuit: Circuit = field(default_factory=Circuit)
    tier: Tier = None
    recorder: Recorder = field(default_factory=Recorder)
    lease_ttl_s: float = 30.0
    progress_every_s: float = 5.0
    unknown_grace_s: float = 600.0
    source: str = field(default="<defaults>", metadata={"skip_json": True}, compare=False)

    @property
    def daily_limit(self) -> int | None:
        """Unique recipients allowed per rolling 24 h; None means no limit."""
        if self.tier is None:
            return UNKNOWN_TIER_LIMIT
        if self.tier == "unlimited":
            return None
        return int(self.tier)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable(self)
        return data


def parse_profile(raw: object, *, where: str, path: str, base: Profile, name: str) -> Profile:
    """Validate one profile mapping; absent fields come from ``base``."""
    keys = [f for f in Profile.__dataclass_fields__ if f != "source"]
    s = Section(where, path, raw, keys)
    b = base
    rate = s.number("rate_per_s", default=b.rate_per_s, nullable=True, le=MAX_RATE_PER_S)
    burst = s.integer("burst", default=b.burst, hi=10_000)
    if rate is not None and burst > max(1, math.ceil(rate)):
        s.fail("burst", f"must be <= rate_per_s ({rate:g}, one second of sends), got {burst}")
    connect = s.number("connect_timeout_s", default=b.connect_timeout_s, le=300)
    request = s.number("request_timeout_s", default=b.request_timeout_s, le=600)
    if connect > request:
        s.fail("connect_timeout_s", f"must be <= request_timeout_s ({request:g}), got {connect:g}")
    lease = s.number("lease_ttl_s", default=b.lease_ttl_s, le=86_400)
    if lease <= request:
        s.fail("lease_ttl_s", f"must be > request_timeout_s ({request:g}), got {lease:g}")
    return Profile(
        name=s.string("name", default=name, pattern=NAME_PATTERN),
        description=_description(s, b.description),
        rate_per_s=rate,
        burst=burst,
        concurrency=s.integer("concurrency", default=b.concurrency, hi=10_000),
        claim_batch=s.integer("claim_batch", default=b.claim_batch, hi=100_000),
        queue_size=s.integer("queue_size", default=b.queue_size, hi=1_000_000),
        connect_timeout_s=connect,
        request_timeout_s=request,
        max_attempts=s.integer("max_attempts", default=b.max_attempts, hi=100),
        backoff=_backoff(s, b.backoff),
        aimd=_aimd(s, b.aimd, rate),
        circuit=_circuit(s, b.circuit),
        tier=s.choice("tier", TIERS, default=b.tier),
        recorder=_recorder(s, b.recorder),
        lease_ttl_s=lease,
        progress_every_s=s.number("progress_every_s", default=b.progress_every_s, le=3600),
        unknown_grace_s=s.number("unknown_grace_s", default=b.unknown_grace_s, le=7 * 86_400),
        source=where,
    )


def _description(s: Section, default: str) -> str:
    value = s.get("description", default)
    if not isinstance(value, str):
        s.fail("description", "must be a string")
    return value


def _backoff(parent: Section, b: Backoff) -> Backoff:
    s = parent.section("backoff", ("base_s", "max_s", "jitter"), default={})
    base = s.number("base_s", default=b.base_s, le=3600)
    top = s.number("max_s", default=b.max_s, le=86_400)
    if top < base:
        s.fail("max_s", f"must be >= base_s ({base:g}), got {top:g}")
    jitter = s.number("jitter", default=b.jitter, gt=None, ge=0, le=1)
    return Backoff(base_s=base, max_s=top, jitter=jitter)


def _aimd(parent: Section, b: Aimd, rate: float | None) -> Aimd:
    keys = ("floor_per_s", "increase_per_s", "decrease_factor", "quiet_s")
    s = parent.section("aimd", keys, default={})
    floor = s.number("floor_per_s", default=b.floor_per_s, le=MAX_RATE_PER_S)
    if rate is not None and floor > rate:
        s.fail("floor_per_s", f"must be <= rate_per_s ({rate:g}), got {floor:g}")
    return Aimd(
        floor_per_s=floor,
        increase_per_s=s.number("increase_per_s", default=b.increase_per_s, le=MAX_RATE_PER_S),
        decrease_factor=s.number("decrease_factor", default=b.decrease_factor, lt=1),
        quiet_s=s.number("quiet_s", default=b.quiet_s, le=3600),
    )


def _circuit(parent: Section, b: Circuit) -> Circuit:
    s = parent.section("circuit", ("failures", "open_s"), default={})
    return Circuit(
        failures=s.integer("failures", default=b.failures, hi=100_000),
        open_s=s.number("open_s", default=b.open_s, le=86_400),
    )


def _recorder(parent: Section, b: Recorder) -> Recorder:
    s = parent.section("recorder", ("flush_ms", "batch"), default={})
    return Recorder(
        flush_ms=s.integer("flush_ms", default=b.flush_ms, hi=60_000),
        batch=s.integer("batch", default=b.batch, hi=100_000),
    )


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter errors)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_profile(ref: str, *, base_dir: Path | None = None) -> Path | None:
    """A bare name is ``campaigns/profiles/<name>.yaml`` of the project; anything else, or a
    name not shipped there, is a path relative to ``base_dir`` (default: the working dir)."""
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        shipped = PROFILES_DIR / f"{ref}.yaml"
        if shipped.is_file():
            return shipped
    path = Path(ref)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return path if path.is_file() else None


def known_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path, *, base_dir: Path | None = None) -> Profile:
    """Load and validate a profile by shipped name or by path; raises ``ConfigError``."""
    ref = str(name_or_path)
    path = find_profile(ref, base_dir=base_dir)
    if path is None:
        known = ", ".join(known_profiles())
        raise ConfigError(ref, None, f"no such profile file or shipped profile (known: {known})")
    where = display_path(path)
    raw = read_yaml(path, where=where)
    stem = path.stem if _is_name(path.stem) else "profile"
    return parse_profile(raw, where=where, path="", base=Profile(name=stem), name=stem)


def _is_name(text: str) -> bool:
    return re.fullmatch(NAME_PATTERN, text) is not None
