"""Build a ``SandboxConfig`` from YAML or a plain dict, validating every field.

Every section and field is optional (defaults in ``config``); unknown fields are errors so
typos do not pass silently. Failures raise ``ConfigError(where, field, reason)`` where
``field`` is the dotted path (``faults.latency.p99_ms``, ``templates[1].name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.config.loader import read_yaml
from engine.errors import ConfigError
from engine.sandbox.catalog import (
    BUTTON_SUB_TYPES,
    CATEGORIES,
    HEADER_FORMATS,
    ButtonSpec,
    TemplateSpec,
)
from engine.sandbox.config import (
    HEALTH_VALUES,
    TIERS,
    AccountsConfig,
    DeliveryConfig,
    Distribution,
    FaultConfig,
    KeyConfig,
    LifecycleConfig,
    LimitsConfig,
    PortfolioConfig,
    RecipientRules,
    SandboxConfig,
    WebhookConfig,
)
from engine.sandbox.fields import Section


def _distribution(sec: Section, key: str, default: Distribution) -> Distribution:
    if not sec.has(key):
        return default
    d = sec.section(key)
    p50 = d.number("p50_ms", 0.0)
    p99 = d.number("p99_ms", p50)
    d.finish()
    if p99 < p50:
        raise sec.fail(f"{key}.p99_ms", "must be >= p50_ms")
    return Distribution(p50_ms=p50, p99_ms=p99)


def _tier(sec: Section, key: str) -> int | None:
    value = sec.raw(key)
    if value is None:
        return None
    tier = TIERS.get(str(value), -1)
    if tier == -1:
        raise sec.fail(key, "must be 250, 2000, 10000, 100000 or unlimited")
    return tier


def _accounts(sec: Section) -> AccountsConfig:
    d = AccountsConfig()
    portfolios: dict[str, PortfolioConfig] = {}
    psec = sec.section("portfolios")
    for name in psec.data:
        p = psec.section(str(name))
        portfolios[str(name)] = PortfolioConfig(
            tier=_tier(p, "tier"), waba_id=p.text("waba_id", None)
        )
        p.finish()
    psec.finish()
    default_portfolio = sec.text("default_portfolio", d.default_portfolio)
    if not portfolios:
        portfolios = dict(d.portfolios)
    portfolios.setdefault(default_portfolio, PortfolioConfig())
    default_mps = sec.number("default_mps", d.default_mps, lo=0.001)
    default_burst_s = sec.number("default_burst_s", d.default_burst_s, lo=0.001)
    keys: dict[str, KeyConfig] = {}
    ksec = sec.section("keys")
    for key in ksec.data:
        k = ksec.section(str(key))
        portfolio = k.text("portfolio", default_portfolio)
        if portfolio not in portfolios:
            raise k.fail("portfolio", f"unknown portfolio {portfolio!r}")
        phone = k.text("phone_number", None)
        if phone is not None and not phone.isdigit():
            raise k.fail("phone_number", "must be digits only")
        keys[str(key)] = KeyConfig(
            portfolio=portfolio,
            mps=k.number("mps", default_mps, lo=0.001),
            burst_s=k.number("burst_s", default_burst_s, lo=0.001),
            phone_number=phone,
            phone_number_id=k.text("phone_number_id", None),
        )
        k.finish()
    ksec.finish()
    accounts = AccountsConfig(
        accept_any_key=sec.boolean("accept_any_key", d.accept_any_key),
        default_portfolio=default_portfolio,
        default_mps=default_mps,
        default_burst_s=default_burst_s,
        keys=MappingProxyType(keys),
        portfolios=MappingProxyType(portfolios),
    )
    sec.finish()
    if not accounts.accept_any_key and not keys:
        raise sec.fail("keys", "must list at least one key when accept_any_key is false")
    return accounts


def _limits(sec: Section) -> LimitsConfig:
    d = LimitsConfig()
    limits = LimitsConfig(
        throughput_status=sec.choice("throughput_status", d.throughput_status, (400, 429)),
        pair_limit_s=sec.number("pair_limit_s", d.pair_limit_s),
        tier_error_code=sec.integer("tier_error_code", d.tier_error_code, lo=1),
        held_ratio=sec.ratio("held_ratio", d.held_ratio),
        held_drop_ratio=sec.ratio("held_drop_ratio", d.held_drop_ratio),
    )
    sec.finish()
    return limits


def _template(sec: Section) -> TemplateSpec:
    name = sec.text("name", None)
    language = sec.text("language", None)
    if name is None:
        raise sec.fail("name", "is required")
    if language is None:
        raise sec.fail("language", "is required")
    header_format = sec.choice("header_format", None, tuple(sorted(HEADER_FORMATS)))
    buttons: list[ButtonSpec] = []
    raw_buttons = sec.raw("buttons") or []
    if not isinstance(raw_buttons, list):
        raise sec.fail("buttons", "must be a list")
    for i, raw in enumerate(raw_buttons):
        b = Section(raw, sec.where, sec.name(f"buttons[{i}]"))
        sub_type = b.choice("type", None, tuple(sorted(BUTTON_SUB_TYPES)))
        if sub_type is None:
            raise b.fail("type", "is required")
        buttons.append(ButtonSpec(sub_type=sub_type, params=b.integer("params", 0, hi=1)))
        b.finish()
    spec = TemplateSpec(
        name=name,
        language=language,
        category=sec.choice("category", "marketing", tuple(sorted(CATEGORIES))),
        header_format=header_format,
        header_params=sec.integer("header_params", 0, hi=1),
        body_params=sec.integer("body_params", 0, hi=100),
        buttons=tuple(buttons),
    )
    sec.finish()
    return spec


def _templates(raw: Any, where: str) -> tuple[TemplateSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(where, "templates", "must be a non-empty list")
    specs = [_template(Section(item, where, f"templates[{i}]")) for i, item in enumerate(raw)]
    seen: set[tuple[str, str]] = set()
    for i, spec in enumerate(specs):
        if (spec.name, spec.language) in seen:
            raise ConfigError(where, f"templates[{i}]", "duplicate name and language")
        seen.add((spec.name, spec.language))
    return tuple(specs)


def _patterns(sec: Section, key: str) -> tuple[str, ...]:
    raw = sec.raw(key) or []
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise sec.fail(key, "must be a list of regular expressions")
    for p in raw:
        try:
            re.compile(p)
        except re.error as exc:
            raise sec.fail(key, f"bad regular expression {p!r}: {exc}") from exc
    return tuple(raw)


def _faults(sec: Section) -> FaultConfig:
    d = FaultConfig()
    rsec = sec.section("recipients")
    rules = RecipientRules(
        undeliverable=_patterns(rsec, "undeliverable"),
        opted_out=_patterns(rsec, "opted_out"),
        capped=_patterns(rsec, "capped"),
    )
    rsec.finish()
    faults = FaultConfig(
        error_5xx_ratio=sec.ratio("error_5xx_ratio", d.error_5xx_ratio),
        gateway_429_ratio=sec.ratio("gateway_429_ratio", d.gateway_429_ratio),
        gateway_503_ratio=sec.ratio("gateway_503_ratio", d.gateway_503_ratio),
        hang_ratio=sec.ratio("hang_ratio", d.hang_ratio),
        hang_s=sec.number("hang_s", d.hang_s, lo=0.0, hi=3600.0),
        reset_after_accept_ratio=sec.ratio("reset_after_accept_ratio", d.reset_after_accept_ratio),
        latency=_distribution(sec, "latency", d.latency),
        recipients=rules,
    )
    sec.finish()
    total = (
        faults.error_5xx_ratio
        + faults.gateway_429_ratio
        + faults.gateway_503_ratio
        + faults.hang_ratio
    )
    if total > 1.0:
        raise sec.fail("hang_ratio", "error_5xx, gateway_429, gateway_503 and hang ratios sum > 1")
    return faults


def _lifecycle(sec: Section) -> LifecycleConfig:
    d = LifecycleConfig()
    life = LifecycleConfig(
        delivered_ratio=sec.ratio("delivered_ratio", d.delivered_ratio),
        read_ratio=sec.ratio("read_ratio", d.read_ratio),
        skip_delivered_ratio=sec.ratio("skip_delivered_ratio", d.skip_delivered_ratio),
        duplicate_ratio=sec.ratio("duplicate_ratio", d.duplicate_ratio),
        reorder_ratio=sec.ratio("reorder_ratio", d.reorder_ratio),
        sent_delay=_distribution(sec, "sent_delay", d.sent_delay),
        delivered_delay=_distribution(sec, "delivered_delay", d.delivered_delay),
        read_delay=_distribution(sec, "read_delay", d.read_delay),
        failed_delay=_distribution(sec, "failed_delay", d.failed_delay),
    )
    sec.finish()
    return life


def _delivery(sec: Section) -> DeliveryConfig:
    d = DeliveryConfig()
    delivery = DeliveryConfig(
        batch_max=sec.integer("batch_max", d.batch_max, lo=1, hi=1000),
        batch_window_ms=sec.number("batch_window_ms", d.batch_window_ms, hi=10_000.0),
        concurrency=sec.integer("concurrency", d.concurrency, lo=1, hi=1024),
        queue_size=sec.integer("queue_size", d.queue_size, lo=1),
        request_timeout_ms=sec.number("request_timeout_ms", d.request_timeout_ms, lo=1.0),
        retry_initial_ms=sec.number("retry_initial_ms", d.retry_initial_ms, lo=1.0),
        retry_max_ms=sec.number("retry_max_ms", d.retry_max_ms, lo=1.0),
        retry_horizon_s=sec.number("retry_horizon_s", d.retry_horizon_s),
    )
    sec.finish()
    return delivery


def _headers(sec: Section, key: str) -> Mapping[str, str]:
    raw = sec.raw(key) or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise sec.fail(key, "must map header names to string values")
    return MappingProxyType(dict(raw))


def _webhooks(sec: Section) -> WebhookConfig:
    d = WebhookConfig()
    url = sec.text("default_url", None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise sec.fail("default_url", "must be an http:// or https:// URL")
    hooks = WebhookConfig(
        enabled=sec.boolean("enabled", d.enabled),
        default_url=url,
        default_headers=_headers(sec, "default_headers"),
        allow_loopback_ports=sec.boolean("allow_loopback_ports", d.allow_loopback_ports),
        signing_secret=sec.text("signing_secret", None),
        lifecycle=_lifecycle(sec.section("lifecycle")),
        delivery=_delivery(sec.section("delivery")),
    )
    sec.finish()
    return hooks


def sandbox_config_from_dict(
    data: Mapping[str, Any] | None, *, where: str = "<inline>"
) -> SandboxConfig:
    """Validate ``data`` (the YAML document's shape) into a ``SandboxConfig``.

    Raises ``ConfigError(where, field, reason)`` on the first bad field.
    """
    root = Section(data, where, "")
    d = SandboxConfig()
    templates = d.templates
    if root.has("templates"):
        templates = _templates(root.raw("templates"), where)
    config = SandboxConfig(
        accounts=_accounts(root.section("accounts")),
        limits=_limits(root.section("limits")),
        templates=templates,
        faults=_faults(root.section("faults")),
        webhooks=_webhooks(root.section("webhooks")),
        health=root.choice("health", d.health, HEALTH_VALUES),
    )
    root.finish()
    return config


def load_sandbox_config(path: str | Path) -> SandboxConfig:
    """Read and validate a YAML config file; ``ConfigError`` names the file on any problem.

    Read by ``engine.config.loader.read_yaml``, as every config file is: a file that is not
    UTF-8, over 1 MB, an alias bomb, too deep or with duplicate keys is refused the same
    way as a campaign spec."""
    where = str(path)
    return sandbox_config_from_dict(read_yaml(Path(path), where=where), where=where)
