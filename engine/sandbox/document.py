"""A ``SandboxConfig`` back as its YAML-shaped document (the inverse of ``loader``).

Used to hand an in-code config to a sandbox subprocess (``testing.SandboxProcess``):
``sandbox_config_from_dict(sandbox_config_to_dict(c)) == c`` for every valid config.
"""

from __future__ import annotations

from typing import Any

from engine.sandbox.catalog import TemplateSpec
from engine.sandbox.config import Distribution, SandboxConfig


def _tier_name(tier: int | None) -> str | int:
    return "unlimited" if tier is None else tier


def _dist(d: Distribution) -> dict[str, float]:
    return {"p50_ms": d.p50_ms, "p99_ms": d.p99_ms}


def _template_dict(t: TemplateSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name, "language": t.language, "category": t.category}
    if t.header_format is not None:
        out["header_format"] = t.header_format
        out["header_params"] = t.header_params
    out["body_params"] = t.body_params
    out["buttons"] = [{"type": b.sub_type, "params": b.params} for b in t.buttons]
    return out


def sandbox_config_to_dict(config: SandboxConfig) -> dict[str, Any]:
    """The YAML-shaped dict of ``config`` (``sandbox_config_from_dict`` gives it back)."""
    a, lim, f, w = config.accounts, config.limits, config.faults, config.webhooks
    life, dlv = w.lifecycle, w.delivery
    return {
        "accounts": {
            "accept_any_key": a.accept_any_key,
            "default_portfolio": a.default_portfolio,
            "default_mps": a.default_mps,
            "default_burst_s": a.default_burst_s,
            "portfolios": {
                name: {"tier": _tier_name(p.tier), **({"waba_id": p.waba_id} if p.waba_id else {})}
                for name, p in a.portfolios.items()
            },
            "keys": {
                key: {
                    "portfolio": k.portfolio,
                    "mps": k.mps,
                    "burst_s": k.burst_s,
                    **({"phone_number": k.phone_number} if k.phone_number else {}),
                    **({"phone_number_id": k.phone_number_id} if k.phone_number_id else {}),
                }
                for key, k in a.keys.items()
            },
        },
        "limits": {
            "throughput_status": lim.throughput_status,
            "pair_limit_s": lim.pair_limit_s,
            "tier_error_code": lim.tier_error_code,
            "held_ratio": lim.held_ratio,
            "held_drop_ratio": lim.held_drop_ratio,
        },
        "templates": [_template_dict(t) for t in config.templates],
        "faults": {
            "error_5xx_ratio": f.error_5xx_ratio,
            "gateway_429_ratio": f.gateway_429_ratio,
            "gateway_503_ratio": f.gateway_503_ratio,
            "hang_ratio": f.hang_ratio,
            "hang_s": f.hang_s,
            "reset_after_accept_ratio": f.reset_after_accept_ratio,
            "latency": _dist(f.latency),
            "recipients": {
                "undeliverable": list(f.recipients.undeliverable),
                "opted_out": list(f.recipients.opted_out),
                "capped": list(f.recipients.capped),
            },
        },
        "webhooks": {
            "enabled": w.enabled,
            "default_url": w.default_url,
            "default_headers": dict(w.default_headers),
            "allow_loopback_ports": w.allow_loopback_ports,
            "signing_secret": w.signing_secret,
            "lifecycle": {
                "delivered_ratio": life.delivered_ratio,
                "read_ratio": life.read_ratio,
                "skip_delivered_ratio": life.skip_delivered_ratio,
                "duplicate_ratio": life.duplicate_ratio,
                "reorder_ratio": life.reorder_ratio,
                "sent_delay": _dist(life.sent_delay),
                "delivered_delay": _dist(life.delivered_delay),
                "read_delay": _dist(life.read_delay),
                "failed_delay": _dist(life.failed_delay),
            },
            "delivery": {
                "batch_max": dlv.batch_max,
                "batch_window_ms": dlv.batch_window_ms,
                "concurrency": dlv.concurrency,
                "queue_size": dlv.queue_size,
                "request_timeout_ms": dlv.request_timeout_ms,
                "retry_initial_ms": dlv.retry_initial_ms,
                "retry_max_ms": dlv.retry_max_ms,
                "retry_horizon_s": dlv.retry_horizon_s,
            },
        },
        "health": config.health,
    }
