"""API keys (channels) and business portfolios with their live limit state.

A ``Channel`` is one API key = one phone number: its throughput bucket, its pair limiter,
its webhook metadata (display number, phone number id, WABA id). A ``Portfolio`` owns the
messaging-limit window shared by all its channels. ``Accounts.resolve`` maps a
``D360-API-KEY`` header to a channel, creating channels for unlisted keys when the config
accepts any key. Identifiers not set in the config are derived from the key, so they are
stable across runs.
"""

from __future__ import annotations

from hashlib import blake2b

from engine.sandbox.config import AccountsConfig, KeyConfig, LimitsConfig
from engine.sandbox.limits import PairLimiter, TierWindow, TokenBucket


def _digits(label: str, n: int) -> str:
    """``n`` decimal digits derived from ``label`` (stable, not random)."""
    value = int.from_bytes(blake2b(label.encode(), digest_size=8).digest(), "big")
    return str(value % 10**n).zfill(n)


class Portfolio:
    """A business portfolio: name, WABA id, and its unique-recipient tier window."""

    __slots__ = ("name", "tier", "tier_limit_initial", "waba_id")

    def __init__(self, name: str, tier_limit: int | None, waba_id: str | None) -> None:
        self.name = name
        self.tier_limit_initial = tier_limit
        self.tier = TierWindow(tier_limit)
        self.waba_id = waba_id or "10" + _digits(f"waba:{name}", 13)

    def __repr__(self) -> str:
        return f"<Portfolio {self.name} tier={self.tier.limit} waba={self.waba_id}>"

    def reset(self) -> None:
        """Back to the configured tier with nobody counted."""
        self.tier = TierWindow(self.tier_limit_initial)


class Channel:
    """One API key: limits and webhook metadata. Mutable, owned by the event loop."""

    __slots__ = (
        "_config",
        "_pair_spacing_s",
        "api_key",
        "bucket",
        "maintenance_until",
        "pairs",
        "phone_number",
        "phone_number_id",
        "portfolio",
    )

    def __init__(
        self,
        api_key: str,
        config: KeyConfig,
        portfolio: Portfolio,
        limits: LimitsConfig,
        now: float,
    ) -> None:
        self.api_key = api_key
        self.portfolio = portfolio
        self._config = config
        self._pair_spacing_s = limits.pair_limit_s
        self.phone_number = config.phone_number or "1555" + _digits(f"phone:{api_key}", 7)
        self.phone_number_id = config.phone_number_id or "1" + _digits(f"pnid:{api_key}", 14)
        self.bucket = TokenBucket(config.mps, max(1.0, config.mps * config.burst_s), now)
        self.pairs = PairLimiter(limits.pair_limit_s)
        self.maintenance_until = 0.0  # sends fail with 131057 until then (clock seconds)

    def __repr__(self) -> str:
        return f"<Channel {self.phone_number} portfolio={self.portfolio.name} {self.bucket!r}>"

    @property
    def waba_id(self) -> str:
        return self.portfolio.waba_id

    def reset(self, now: float) -> None:
        """Full bucket, no pair history."""
        cfg = self._config
        self.bucket = TokenBucket(cfg.mps, max(1.0, cfg.mps * cfg.burst_s), now)
        self.pairs = PairLimiter(self._pair_spacing_s)
        self.maintenance_until = 0.0


class Accounts:
    """Key → channel lookup (listed keys first, then any non-empty key if accepted)."""

    __slots__ = ("_channels", "_config", "_limits", "portfolios")

    def __init__(self, config: AccountsConfig, limits: LimitsConfig) -> None:
        self._config = config
        self._limits = limits
        self.portfolios: dict[str, Portfolio] = {
            name: Portfolio(name, p.tier, p.waba_id) for name, p in config.portfolios.items()
        }
        self._channels: dict[str, Channel] = {}

    def __repr__(self) -> str:
        return f"<Accounts channels={len(self._channels)} portfolios={len(self.portfolios)}>"

    def resolve(self, api_key: str | None, now: float) -> Channel | None:
        """The channel of ``api_key``, or None when the key is missing or unknown (401)."""
        if not api_key:
            return None
        channel = self._channels.get(api_key)
        if channel is not None:
            return channel
        cfg = self._config.keys.get(api_key)
        if cfg is None:
            if not self._config.accept_any_key:
                return None
            cfg = KeyConfig(
                portfolio=self._config.default_portfolio,
                mps=self._config.default_mps,
                burst_s=self._config.default_burst_s,
            )
        channel = Channel(api_key, cfg, self.portfolios[cfg.portfolio], self._limits, now)
        self._channels[api_key] = channel
        return channel

    def channels(self) -> list[Channel]:
        """Channels seen so far (listed keys appear once used)."""
        return list(self._channels.values())

    def reset(self, now: float) -> None:
        """Fresh limits on every channel and portfolio."""
        for channel in self._channels.values():
            channel.reset(now)
        for portfolio in self.portfolios.values():
            portfolio.reset()
