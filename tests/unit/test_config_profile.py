"""Throughput profiles: shipped files load, every bad field is a precise one-line error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import Profile, load_profile
from engine.config.profile import known_profiles
from engine.errors import ConfigError
from engine.paths import PROFILES_DIR

SHIPPED = ["cloud-80", "high-throughput-1000", "tier-250-warmup", "sandbox-max", "demo"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.source.endswith(f"{name}.yaml")
    assert profile.description
    if profile.rate_per_s is not None:
        # rate + burst is what a token bucket lets through in one second
        assert profile.rate_per_s + profile.burst <= 1000
        assert profile.aimd.floor_per_s <= profile.rate_per_s


def test_every_shipped_profile_is_covered() -> None:
    assert sorted(SHIPPED) == known_profiles()


def test_shipped_profiles_state_every_field() -> None:
    fields = set(Profile.__dataclass_fields__) - {"source"}
    for name in SHIPPED:
        raw = yaml.safe_load((PROFILES_DIR / f"{name}.yaml").read_text())
        assert set(raw) == fields, name


def test_shipped_values() -> None:
    assert load_profile("cloud-80").rate_per_s == 72
    assert load_profile("cloud-80").daily_limit == 250  # unknown tier: assume the lowest
    assert load_profile("high-throughput-1000").daily_limit is None
    assert load_profile("tier-250-warmup").daily_limit == 250
    assert load_profile("sandbox-max").rate_per_s is None


def test_profile_by_path_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("rate_per_s: 20\nburst: 5\naimd: {quiet_s: 3}\n")
    profile = load_profile("mine.yaml")
    assert profile.name == "mine"
    assert profile.source == "mine.yaml"
    assert (profile.rate_per_s, profile.burst, profile.aimd.quiet_s) == (20.0, 5, 3.0)
    assert profile.aimd.decrease_factor == Profile(name="x").aimd.decrease_factor
    assert profile.to_json()["aimd"]["quiet_s"] == 3.0
    assert "source" not in profile.to_json()


def test_unknown_profile_name() -> None:
    with pytest.raises(ConfigError) as info:
        load_profile("does-not-exist")
    assert str(info.value).startswith("does-not-exist: no such profile file or shipped profile")
    assert "cloud-80" in str(info.value)


CASES: list[tuple[dict[str, Any], str]] = [
    ({"rate_per_s": -5}, "rate_per_s: must be > 0, got -5"),
    ({"rate_per_s": 0}, "rate_per_s: must be > 0, got 0"),
    ({"rate_per_s": 5000}, "rate_per_s: must be <= 1000, got 5000"),
    ({"rate_per_s": "fast"}, "rate_per_s: must be a number or null, got 'fast'"),
    ({"rate_per_s": True}, "rate_per_s: must be a number or null, got true"),
    (
        {"rate_per_s": 10, "burst": 50},
        "burst: must be <= rate_per_s (10, one second of sends), got 50",
    ),
    ({"burst": 0}, "burst: must be >= 1, got 0"),
    ({"burst": 2.5}, "burst: must be an integer, got 2.5"),
    ({"concurrency": 0}, "concurrency: must be >= 1, got 0"),
    ({"concurrency": None}, "concurrency: must be an integer, got null"),
    ({"claim_batch": -1}, "claim_batch: must be >= 1, got -1"),
    ({"queue_size": "big"}, "queue_size: must be an integer, got 'big'"),
    ({"connect_timeout_s": 0}, "connect_timeout_s: must be > 0, got 0"),
    ({"connect_timeout_s": 20}, "connect_timeout_s: must be <= request_timeout_s (15), got 20"),
    ({"request_timeout_s": -1}, "request_timeout_s: must be > 0, got -1"),
    ({"lease_ttl_s": 10}, "lease_ttl_s: must be > request_timeout_s (15), got 10"),
    ({"max_attempts": 0}, "max_attempts: must be >= 1, got 0"),
    ({"max_attempts": 1000}, "max_attempts: must be <= 100, got 1000"),
    ({"backoff": {"base_s": 0}}, "backoff.base_s: must be > 0, got 0"),
    ({"backoff": {"base_s": 10, "max_s": 5}}, "backoff.max_s: must be >= base_s (10), got 5"),
    ({"backoff": {"jitter": 1.5}}, "backoff.jitter: must be <= 1, got 1.5"),
    ({"backoff": {"jitter": -0.1}}, "backoff.jitter: must be >= 0, got -0.1"),
    ({"backoff": {"factor": 2}}, "backoff.factor: unknown key (allowed: base_s, jitter, max_s)"),
    ({"backoff": 3}, "backoff: must be a mapping, got 3"),
    ({"aimd": {"decrease_factor": 1}}, "aimd.decrease_factor: must be < 1, got 1"),
    ({"aimd": {"decrease_factor": 0}}, "aimd.decrease_factor: must be > 0, got 0"),
    ({"aimd": {"floor_per_s": 100}}, "aimd.floor_per_s: must be <= rate_per_s (72), got 100"),
    ({"aimd": {"increase_per_s": -1}}, "aimd.increase_per_s: must be > 0, got -1"),
    ({"aimd": {"quiet_s": 0}}, "aimd.quiet_s: must be > 0, got 0"),
    ({"circuit": {"failures": 0}}, "circuit.failures: must be >= 1, got 0"),
    ({"circuit": {"open_s": -3}}, "circuit.open_s: must be > 0, got -3"),
    ({"tier": 1000}, "tier: must be one of 250, 2000, 10000, 100000, 'unlimited', null, got 1000"),
    (
        {"tier": 250.0},
        "tier: must be one of 250, 2000, 10000, 100000, 'unlimited', null, got 250.0",
    ),
    ({"recorder": {"flush_ms": 0}}, "recorder.flush_ms: must be >= 1, got 0"),
    ({"recorder": {"batch": 0}}, "recorder.batch: must be >= 1, got 0"),
    ({"progress_every_s": 0}, "progress_every_s: must be > 0, got 0"),
    ({"unknown_grace_s": -1}, "unknown_grace_s: must be > 0, got -1"),
    ({"name": "Bad Name"}, "name: must match [a-z0-9][a-z0-9._-]{0,63}, got 'Bad Name'"),
    ({"description": 5}, "description: must be a string"),
    ({"rate": 80}, "rate: unknown key (allowed: "),
    ({"api_key": "secret"}, "api_key: unknown key (secrets are never read from files"),
]


@pytest.mark.parametrize(("fields", "expected"), CASES, ids=[c[1].split(":")[0] for c in CASES])
def test_profile_error_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(fields))
    with pytest.raises(ConfigError) as info:
        load_profile("./p.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"p.yaml: {expected}"), message


def test_profile_must_be_a_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError) as info:
        load_profile("p.yaml")
    assert str(info.value) == "p.yaml: must be a mapping, got a list"


def test_null_rate_allows_any_burst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text("rate_per_s: null\nburst: 5000\naimd: {floor_per_s: 900}\n")
    profile = load_profile("p.yaml")
    assert profile.rate_per_s is None
    assert profile.burst == 5000
