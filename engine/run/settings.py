"""Everything one job needs, resolved once from the spec, its profile and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.spec import CampaignSpec, load_spec, resolve_api_key


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSettings:
    spec: CampaignSpec
    spec_path: str
    api_key: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channel(self) -> str:
        return self.spec.channel.name

    @property
    def portfolio(self) -> str:
        return self.spec.channel.portfolio

    @property
    def base_url(self) -> str:
        return self.spec.channel.base_url

    @property
    def audience(self) -> str:
        return self.spec.audience

    @property
    def template_name(self) -> str:
        return self.spec.template.name

    @property
    def template_language(self) -> str:
        return self.spec.template.language

    @property
    def spec_hash(self) -> str:
        return self.spec.spec_hash

    @property
    def spec_json(self) -> dict[str, Any]:
        return self.spec.to_json()

    @property
    def tier_limit(self) -> int | None:
        """The portfolio's daily unique-recipient limit (unknown tier = 250; None = unlimited)."""
        return self.spec.profile.daily_limit

    @property
    def rate_per_s(self) -> float | None:
        return self.spec.profile.rate_per_s

    @property
    def concurrency(self) -> int:
        return self.spec.profile.concurrency

    @property
    def queue_size(self) -> int:
        return self.spec.profile.queue_size

    @property
    def claim_batch(self) -> int:
        return self.spec.profile.claim_batch

    @property
    def connect_timeout_s(self) -> float:
        return self.spec.profile.connect_timeout_s

    @property
    def request_timeout_s(self) -> float:
        return self.spec.profile.request_timeout_s

    @property
    def flush_s(self) -> float:
        return self.spec.profile.recorder.flush_ms / 1000.0

    @property
    def record_batch(self) -> int:
        return self.spec.profile.recorder.batch

    @property
    def lease_ttl_s(self) -> float:
        return self.spec.profile.lease_ttl_s

    @property
    def progress_every_s(self) -> float:
        return self.spec.profile.progress_every_s

    @property
    def on_unknown(self) -> str:
        return self.spec.options.on_unknown

    @property
    def unknown_grace_s(self) -> float:
        return self.spec.profile.unknown_grace_s

    @property
    def max_attempts(self) -> int:
        return self.spec.max_attempts


def load_job_settings(
    spec_path: Path, *, profile_override: str | None, environ: Mapping[str, str]
) -> JobSettings:
    """Load and validate the spec and resolve the API key (``ConfigError`` on any problem)."""
    spec = load_spec(spec_path, profile=profile_override)
    api_key = resolve_api_key(spec, environ)
    return JobSettings(spec=spec, spec_path=spec.source, api_key=api_key)
