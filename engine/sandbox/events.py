"""On-demand notifications for ``POST /_sandbox/events`` (pure: build, do not send).

Request bodies (``api_key`` optional everywhere: it picks the channel whose metadata and
webhook destination are used; without it the default destination is used):

=========================  ===========================================================
``type``                   fields → webhook ``field`` (and sandbox effect)
=========================  ===========================================================
``inbound_text``           ``from``, ``text``, ``name``? → ``messages`` (type text)
``inbound_button``         ``from``, ``payload``, ``text``?, ``context_id``? (wamid
                           replied to), ``name``? → ``messages`` (type button)
``user_preferences``       ``wa_id``, ``value`` stop|resume → ``user_preferences``
                           (stop: later marketing sends to wa_id fail 131050)
``template_status``        ``template``, ``language``?, ``event`` (PAUSED, DISABLED,
                           REINSTATED, APPROVED, FLAGGED, ...), ``reason``? →
                           ``message_template_status_update`` (PAUSED: sends 132015;
                           DISABLED: 132016; REINSTATED/APPROVED: sendable again)
``phone_number_quality``   ``event`` (FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE,
                           THROUGHPUT_UPGRADE, ONBOARDING), ``limit``? (TIER_250 ..
                           TIER_UNLIMITED), ``maintenance_s``? → ``phone_number_quality_
                           update`` (limit sets the portfolio tier; THROUGHPUT_UPGRADE
                           puts the number in maintenance: sends fail with 131057 for
                           ``maintenance_s``, default 60, as Meta does for up to a minute)
``account_update``         ``event``, any extra fields (``restriction_info``,
                           ``ban_info``, ...) → ``account_update``
``health_status``          ``value`` AVAILABLE|LIMITED|BLOCKED → no webhook; changes
                           ``GET /health_status``
=========================  ===========================================================
``phone_number_quality_update`` is accepted as an alias of ``phone_number_quality``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Final

from engine.sandbox import payloads
from engine.sandbox.accounts import Channel
from engine.sandbox.catalog import STATUS_EVENTS, Catalog, TemplateSpec
from engine.sandbox.config import HEALTH_VALUES, TIERS

_QUALITY_EVENTS: Final = frozenset(
    {"FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE", "THROUGHPUT_UPGRADE", "ONBOARDING"}
)
_SENDABLE_AGAIN: Final = frozenset({"REINSTATED", "APPROVED"})
#: Seconds a number stays in maintenance (131057) after THROUGHPUT_UPGRADE ("up to 1 min").
MAINTENANCE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What to emit (``payload`` None = nothing) and the state change to apply.

    ``effect`` is one of ``("template", name, language|None, status)``,
    ``("opt_out", wa_id, bool stopped)``, ``("tier", limit|None)``, ``("health", value)``,
    or ``()``.
    """

    label: str
    payload: dict[str, Any] | None
    effect: tuple[Any, ...]


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _digits(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key).lstrip("+")
    if not value.isdigit():
        raise ValueError(f"{key} must be a phone number (digits)")
    return value


def build_event(
    data: Mapping[str, Any],
    *,
    channel: Channel,
    now_s: float,
    catalog: Catalog,
    new_wamid: Callable[[str], str],
) -> EventPlan:
    """Validate an event request and build its notification. ``ValueError`` says what is wrong."""
    kind = data.get("type")
    ts = int(now_s)
    number_value = {
        "waba_id": channel.waba_id,
        "phone_number": channel.phone_number,
        "phone_number_id": channel.phone_number_id,
    }
    if kind in ("inbound_text", "inbound_button"):
        wa_id = _digits(data, "from")
        name = _text(data, "name", "Sandbox User")
        if kind == "inbound_text":
            value = payloads.inbound_text(
                wa_id=wa_id,
                name=name,
                wamid=new_wamid(wa_id),
                timestamp_s=ts,
                text=_text(data, "text"),
            )
        else:
            payload = _text(data, "payload")
            context = data.get("context_id")
            if context is not None and not isinstance(context, str):
                raise ValueError("context_id must be a wamid string")
            value = payloads.inbound_button(
                wa_id=wa_id,
                name=name,
                wamid=new_wamid(wa_id),
                timestamp_s=ts,
                payload=payload,
                text=_text(data, "text", payload),
                business_number=channel.phone_number,
                context_id=context,
            )
        return EventPlan(kind, payloads.messages_envelope(**number_value, value=value), ())
    if kind == "user_preferences":
        wa_id = _digits(data, "wa_id")
        choice = data.get("value")
        if choice not in ("stop", "resume"):
            raise ValueError("value must be stop or resume")
        value = payloads.user_preferences(
            wa_id=wa_id, name=_text(data, "name", "Sandbox User"), value=choice, timestamp_s=ts
        )
        envelope = payloads.messages_envelope(**number_value, field="user_preferences", value=value)
        return EventPlan(kind, envelope, ("opt_out", wa_id, choice == "stop"))
    if kind == "template_status":
        name = _text(data, "template")
        language = data.get("language")
        if language is not None and not isinstance(language, str):
            raise ValueError("language must be a string")
        event = data.get("event")
        if event not in STATUS_EVENTS:
            raise ValueError(f"event must be one of {', '.join(sorted(STATUS_EVENTS))}")
        matches = [s for s in catalog_specs(catalog, name) if language in (None, s.language)]
        if not matches:
            raise ValueError(f"template {name!r} is not in the catalog")
        reason = data.get("reason")
        template_id = str(int.from_bytes(blake2b(name.encode(), digest_size=6).digest(), "big"))
        value = payloads.template_status(
            event=event,
            template_id=template_id,
            name=name,
            language=matches[0].language if language is None else language,
            reason=reason if isinstance(reason, str) else None,
        )
        envelope = payloads.waba_envelope(
            waba_id=channel.waba_id, time_s=ts, field="message_template_status_update", value=value
        )
        status = "APPROVED" if event in _SENDABLE_AGAIN else event
        effect: tuple[Any, ...] = ()
        if event in ("PAUSED", "DISABLED", *_SENDABLE_AGAIN):
            effect = ("template", name, language, status)
        return EventPlan(kind, envelope, effect)
    if kind in ("phone_number_quality", "phone_number_quality_update"):
        event = data.get("event")
        if event not in _QUALITY_EVENTS:
            raise ValueError(f"event must be one of {', '.join(sorted(_QUALITY_EVENTS))}")
        limit = data.get("limit")
        if limit is not None and (not isinstance(limit, str) or limit not in TIERS):
            raise ValueError(
                "limit must be TIER_250, TIER_2K, TIER_10K, TIER_100K or TIER_UNLIMITED"
            )
        value = payloads.phone_quality(phone_number=channel.phone_number, event=event, limit=limit)
        envelope = payloads.waba_envelope(
            waba_id=channel.waba_id, time_s=ts, field="phone_number_quality_update", value=value
        )
        change: tuple[Any, ...] = ("tier", TIERS[limit]) if limit else ()
        if event == "THROUGHPUT_UPGRADE":
            seconds = data.get("maintenance_s", MAINTENANCE_S)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ValueError("maintenance_s must be a number of seconds")
            if not 0 <= seconds <= 600:
                raise ValueError("maintenance_s must be between 0 and 600")
            change = ("maintenance", float(seconds), *change)
        return EventPlan("phone_number_quality_update", envelope, change)
    if kind == "account_update":
        event = _text(data, "event")
        extra = {k: v for k, v in data.items() if k not in ("type", "event", "api_key")}
        value = payloads.account_update(phone_number=channel.phone_number, event=event, extra=extra)
        envelope = payloads.waba_envelope(
            waba_id=channel.waba_id, time_s=ts, field="account_update", value=value
        )
        return EventPlan(kind, envelope, ())
    if kind == "health_status":
        health = data.get("value")
        if health not in HEALTH_VALUES:
            raise ValueError(f"value must be one of {', '.join(HEALTH_VALUES)}")
        return EventPlan(kind, None, ("health", health))
    raise ValueError(f"unknown event type {kind!r}")


def catalog_specs(catalog: Catalog, name: str) -> list[TemplateSpec]:
    """Every translation of ``name`` in the catalog."""
    return [spec for spec in catalog.specs() if spec.name == name]


def event_rng_label(data: Mapping[str, Any]) -> str:
    """The dice label of an event request (so inbound wamids are stable under the seed)."""
    return "event:" + ",".join(f"{k}={data[k]}" for k in sorted(data))
