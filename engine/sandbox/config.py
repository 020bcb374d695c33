"""Sandbox configuration: frozen data, validated once at load (see ``loader``).

Units are in the names: ``*_ms`` milliseconds, ``*_s`` seconds, ``mps`` messages per second,
``*_ratio`` a probability in [0, 1]. Every section has a documented default, so an empty
file (or no file) gives the default sandbox: any non-empty API key is valid, every key is
in portfolio ``default`` (unlimited tier) at 1,000 mps, no faults, webhooks on, catalog
``hello_world`` (en_US) and ``demo_promo`` (en). ``campaigns/sandbox.example.yaml``
documents every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from engine.sandbox.catalog import TemplateSpec, default_templates

#: Messaging-limit tiers: unique recipients per rolling 24 h per portfolio (None = unlimited).
TIERS: Final[Mapping[str, int | None]] = MappingProxyType(
    {
        "250": 250,
        "2000": 2000,
        "10000": 10000,
        "100000": 100000,
        "unlimited": None,
        "TIER_250": 250,
        "TIER_2K": 2000,
        "TIER_10K": 10000,
        "TIER_100K": 100000,
        "TIER_UNLIMITED": None,
    }
)
HEALTH_VALUES: Final = ("AVAILABLE", "LIMITED", "BLOCKED")
TIER_WINDOW_S: Final = 86_400.0


def _empty_headers() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """A delay: log-normal with median ``p50_ms`` and 99th percentile ``p99_ms``.

    ``p99_ms == p50_ms`` means a constant delay; both 0 means none.
    """

    p50_ms: float = 0.0
    p99_ms: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyConfig:
    """One API key = one phone number (channel).

    ``mps`` is the throughput limit (token bucket refill per second), ``burst_s`` the bucket
    depth in seconds of ``mps``. Phone number and id are derived from the key when unset.
    """

    portfolio: str
    mps: float = 1000.0
    burst_s: float = 1.0
    phone_number: str | None = None
    phone_number_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioConfig:
    """A business portfolio: its messaging-limit tier (None = unlimited) and WABA id."""

    tier: int | None = None
    waba_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountsConfig:
    """Which API keys exist and the portfolio each belongs to.

    With ``accept_any_key`` every non-empty key not listed in ``keys`` is valid and gets
    ``default_portfolio``, ``default_mps`` and ``default_burst_s``.
    """

    accept_any_key: bool = True
    default_portfolio: str = "default"
    default_mps: float = 1000.0
    default_burst_s: float = 1.0
    keys: Mapping[str, KeyConfig] = field(default_factory=lambda: MappingProxyType({}))
    portfolios: Mapping[str, PortfolioConfig] = field(
        default_factory=lambda: MappingProxyType({"default": PortfolioConfig()})
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsConfig:
    """Meta-side limits and pacing.

    ``throughput_status`` is the HTTP status of a 130429 (400 or 429). ``pair_limit_s`` is the
    minimum spacing of accepted sends from one key to one recipient (131056; 0 disables).
    A send over the portfolio tier is accepted, then fails asynchronously with
    ``tier_error_code``. ``held_ratio`` of accepted sends answer
    ``held_for_quality_assessment``; ``held_drop_ratio`` of those later fail with 132015.
    """

    throughput_status: int = 400
    pair_limit_s: float = 6.0
    tier_error_code: int = 131048
    held_ratio: float = 0.0
    held_drop_ratio: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientRules:
    """Regular expressions (full match on the recipient's digits) whose sends fail async.

    ``undeliverable`` → 131026; ``opted_out`` → 131050 and ``capped`` → 131049, both for
    marketing templates only (other categories are delivered, as Meta does).
    """

    undeliverable: tuple[str, ...] = ()
    opted_out: tuple[str, ...] = ()
    capped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """Injected faults, drawn per request from the seeded dice.

    Gateway faults (360dialog 429/503, 5xx, hang) are decided before the body is read and
    their ratios must sum to at most 1. A hang holds the request ``hang_s`` then resets the
    connection; the message is *not* accepted. ``reset_after_accept_ratio`` of accepted
    sends reset the connection instead of answering: the message *was* accepted and gets
    its webhooks. ``latency`` delays every answer after authentication.
    """

    error_5xx_ratio: float = 0.0
    gateway_429_ratio: float = 0.0
    gateway_503_ratio: float = 0.0
    hang_ratio: float = 0.0
    hang_s: float = 30.0
    reset_after_accept_ratio: float = 0.0
    latency: Distribution = field(default_factory=Distribution)
    recipients: RecipientRules = field(default_factory=RecipientRules)


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleConfig:
    """What happens to an accepted message, as status webhooks.

    ``sent`` always (unless the message fails); then ``delivered`` with ``delivered_ratio``,
    then ``read`` with ``read_ratio`` (of delivered). Delays are relative to accept (sent)
    and to the previous status (delivered, read). ``skip_delivered_ratio`` of read messages
    get no ``delivered`` webhook (read implies delivered). ``duplicate_ratio`` of statuses are
    sent twice; ``reorder_ratio`` of messages get a later status before an earlier one.
    """

    delivered_ratio: float = 0.95
    read_ratio: float = 0.6
    skip_delivered_ratio: float = 0.0
    duplicate_ratio: float = 0.0
    reorder_ratio: float = 0.0
    sent_delay: Distribution = field(
        default_factory=lambda: Distribution(p50_ms=100.0, p99_ms=500.0)
    )
    delivered_delay: Distribution = field(
        default_factory=lambda: Distribution(p50_ms=300.0, p99_ms=2000.0)
    )
    read_delay: Distribution = field(
        default_factory=lambda: Distribution(p50_ms=1000.0, p99_ms=5000.0)
    )
    failed_delay: Distribution = field(
        default_factory=lambda: Distribution(p50_ms=200.0, p99_ms=1000.0)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryConfig:
    """How the emitter posts webhooks.

    Due statuses of one key are grouped for up to ``batch_window_ms`` into POSTs of at most
    ``batch_max`` statuses; ``concurrency`` POSTs run at once; at most ``queue_size`` statuses
    wait (more are dropped and counted). A POST that is not answered 200 within
    ``request_timeout_ms`` is retried after ``retry_initial_ms`` doubling up to
    ``retry_max_ms``, until ``retry_horizon_s`` after its first attempt.
    """

    batch_max: int = 10
    batch_window_ms: float = 10.0
    concurrency: int = 16
    queue_size: int = 200_000
    request_timeout_ms: float = 5000.0
    retry_initial_ms: float = 500.0
    retry_max_ms: float = 30_000.0
    retry_horizon_s: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    """Webhooks: on/off, where they go when a key has none, and their behaviour.

    ``default_url``/``default_headers`` are used for keys that never POSTed
    ``/v1/configs/webhook``. ``allow_loopback_ports`` lets per-key URLs on loopback hosts
    carry a port (360dialog rejects any explicit port). With ``signing_secret`` every POST
    carries ``x-360dialog-signature``: lowercase hex HMAC-SHA256 of the raw body.
    """

    enabled: bool = True
    default_url: str | None = None
    default_headers: Mapping[str, str] = field(default_factory=_empty_headers)
    allow_loopback_ports: bool = True
    signing_secret: str | None = None
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """The whole sandbox: accounts, limits, catalog, faults, webhooks, health."""

    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    templates: tuple[TemplateSpec, ...] = field(default_factory=default_templates)
    faults: FaultConfig = field(default_factory=FaultConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    health: str = "AVAILABLE"


def default_sandbox_config() -> SandboxConfig:
    """The documented default sandbox (what ``campaign sandbox`` runs without ``--config``)."""
    return SandboxConfig()


def sandbox_config_from_dict(
    data: Mapping[str, Any] | None, *, where: str = "<inline>"
) -> SandboxConfig:
    """Validate a dict shaped like the YAML file (see ``loader``); ``ConfigError`` if bad."""
    from engine.sandbox import loader

    return loader.sandbox_config_from_dict(data, where=where)


def load_sandbox_config(path: str | Path) -> SandboxConfig:
    """Read and validate a YAML config file; ``ConfigError`` names file, field and reason."""
    from engine.sandbox import loader

    return loader.load_sandbox_config(path)
