"""Config loading: defaults, the documented example, and errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.sandbox.config import (
    SandboxConfig,
    default_sandbox_config,
    load_sandbox_config,
    sandbox_config_from_dict,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "campaigns" / "sandbox.example.yaml"


def test_default_config_is_the_documented_one() -> None:
    config = default_sandbox_config()
    assert config.accounts.accept_any_key is True
    assert config.accounts.default_mps == 1000
    assert dict(config.accounts.portfolios)["default"].tier is None
    assert config.faults.error_5xx_ratio == 0 and config.faults.hang_ratio == 0
    assert config.webhooks.enabled is True
    names = {(t.name, t.language, t.body_params, len(t.buttons)) for t in config.templates}
    assert names == {("hello_world", "en_US", 0, 0), ("demo_promo", "en", 2, 1)}
    assert sandbox_config_from_dict({}) == config
    assert sandbox_config_from_dict(None) == config


def test_example_file_documents_every_section() -> None:
    config = load_sandbox_config(EXAMPLE)
    assert isinstance(config, SandboxConfig)
    assert config.accounts.keys["acme-key-1"].mps == 80
    assert config.accounts.portfolios["acme"].tier == 2000
    assert {t.name for t in config.templates} == {"hello_world", "demo_promo", "order_update"}
    defaults = default_sandbox_config()
    assert config.webhooks.lifecycle == defaults.webhooks.lifecycle
    assert config.webhooks.delivery == defaults.webhooks.delivery
    assert config.faults == defaults.faults
    assert config.limits == defaults.limits


BAD: list[tuple[dict[str, Any], str]] = [
    ({"faults": {"error_5xx_ratio": 1.5}}, "faults.error_5xx_ratio"),
    ({"faults": {"latency": {"p50_ms": 50, "p99_ms": 10}}}, "faults.latency.p99_ms"),
    ({"faults": {"recipients": {"capped": ["("]}}}, "faults.recipients.capped"),
    ({"faults": {"typo": 1}}, "faults.typo"),
    ({"limits": {"throughput_status": 418}}, "limits.throughput_status"),
    ({"accounts": {"portfolios": {"p": {"tier": 1000}}}}, "accounts.portfolios.p.tier"),
    ({"accounts": {"keys": {"k": {"portfolio": "nope"}}}}, "accounts.keys.k.portfolio"),
    ({"accounts": {"keys": {"k": {"mps": 0}}}}, "accounts.keys.k.mps"),
    ({"accounts": {"accept_any_key": False}}, "accounts.keys"),
    ({"templates": [{"language": "en"}]}, "templates[0].name"),
    (
        {"templates": [{"name": "a", "language": "en", "buttons": [{"type": "x"}]}]},
        "templates[0].buttons[0].type",
    ),
    (
        {"templates": [{"name": "a", "language": "en"}, {"name": "a", "language": "en"}]},
        "templates[1]",
    ),
    ({"templates": []}, "templates"),
    ({"webhooks": {"default_url": "ftp://x"}}, "webhooks.default_url"),
    ({"webhooks": {"default_headers": {"X": 1}}}, "webhooks.default_headers"),
    ({"webhooks": {"delivery": {"batch_max": 0}}}, "webhooks.delivery.batch_max"),
    ({"webhooks": {"lifecycle": {"read_ratio": "high"}}}, "webhooks.lifecycle.read_ratio"),
    ({"health": "GREEN"}, "health"),
    ({"accounts": []}, "accounts"),
]


@pytest.mark.parametrize(("data", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_fields_are_named(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        sandbox_config_from_dict(data, where="x.yaml")
    assert info.value.where == "x.yaml"
    assert info.value.field == field
    assert str(info.value).startswith(f"x.yaml: {field}: ")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: No such file or directory"):
        load_sandbox_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults:\n  latency: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_sandbox_config(bad)
    assert info.value.where == str(bad) and info.value.field is not None
    assert info.value.field.startswith("line ")
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_sandbox_config(top)


def test_config_round_trips_through_its_dict() -> None:
    from engine.sandbox.document import sandbox_config_to_dict

    for config in (default_sandbox_config(), load_sandbox_config(EXAMPLE)):
        assert sandbox_config_from_dict(sandbox_config_to_dict(config)) == config
