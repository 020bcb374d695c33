"""Campaign configuration: throughput profiles and campaign specs, frozen and validated.

Everything is checked when loaded; a problem is a ``ConfigError`` whose one-line message
names the file, the dotted field and the reason, e.g.
``campaigns/x.yaml: profile.rate_per_s: must be > 0, got -5``.
"""

from engine.config.profile import (
    Aimd,
    Backoff,
    Circuit,
    Profile,
    Recorder,
    Tier,
    find_profile,
    known_profiles,
    load_profile,
)
from engine.config.spec import (
    CampaignSpec,
    ChannelSpec,
    Options,
    WindowSpec,
    load_spec,
    resolve_api_key,
    resolve_webhook_secret,
)
from engine.core.render import (
    ButtonSpec,
    CurrencyParam,
    DateTimeParam,
    HeaderSpec,
    TemplateSpec,
    TextParam,
)

__all__ = [
    "Aimd",
    "Backoff",
    "ButtonSpec",
    "CampaignSpec",
    "ChannelSpec",
    "Circuit",
    "CurrencyParam",
    "DateTimeParam",
    "HeaderSpec",
    "Options",
    "Profile",
    "Recorder",
    "TemplateSpec",
    "TextParam",
    "Tier",
    "WindowSpec",
    "find_profile",
    "known_profiles",
    "load_profile",
    "load_spec",
    "resolve_api_key",
    "resolve_webhook_secret",
]
