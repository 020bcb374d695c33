"""``engine.core.holds``: which scope a hold takes, and which events place or lift one."""

from __future__ import annotations

import pytest

from engine.core.codes import PauseScope
from engine.core.holds import (
    HoldKey,
    Lift,
    Place,
    hold_key,
    on_account_update,
    on_quality_update,
    on_template_status,
)

CTX = {"campaign_id": 7, "channel": "main", "portfolio": "acme", "template": "promo"}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (PauseScope.CAMPAIGN, HoldKey(PauseScope.CAMPAIGN, campaign_id=7)),
        (PauseScope.CHANNEL, HoldKey(PauseScope.CHANNEL, channel="main")),
        (PauseScope.PORTFOLIO, HoldKey(PauseScope.PORTFOLIO, portfolio="acme")),
        (PauseScope.TEMPLATE, HoldKey(PauseScope.TEMPLATE, portfolio="acme", template="promo")),
    ],
)
def test_a_key_keeps_only_what_its_scope_needs(scope: PauseScope, expected: HoldKey) -> None:
    assert hold_key(scope, **CTX) == expected  # type: ignore[arg-type]


def test_a_channel_hold_without_a_channel_widens_to_the_portfolio() -> None:
    assert hold_key(PauseScope.CHANNEL, portfolio="acme") == HoldKey(
        PauseScope.PORTFOLIO, portfolio="acme"
    )


@pytest.mark.parametrize(
    ("scope", "ctx"),
    [
        (PauseScope.CAMPAIGN, {"channel": "main"}),
        (PauseScope.TEMPLATE, {"portfolio": "acme"}),
        (PauseScope.PORTFOLIO, {"channel": None}),
        (PauseScope.CHANNEL, {}),
    ],
)
def test_a_key_that_cannot_be_placed_is_an_error(scope: PauseScope, ctx: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="needs"):
        hold_key(scope, **ctx)  # type: ignore[arg-type]


def test_a_template_hold_without_portfolio_covers_every_portfolio() -> None:
    key = hold_key(PauseScope.TEMPLATE, template="promo")
    assert key.portfolio is None
    assert key.describe() == "template 'promo'"
    assert hold_key(PauseScope.TEMPLATE, **CTX).describe() == (  # type: ignore[arg-type]
        "template 'promo' in portfolio 'acme'"
    )


@pytest.mark.parametrize("event", ["PAUSED", "DISABLED", "FLAGGED", "paused"])
def test_template_events_that_stop_sending(event: str) -> None:
    got = on_template_status(event, "promo", "LOW_QUALITY")
    assert got == Place(
        PauseScope.TEMPLATE, f"template promo {event.upper()}: LOW_QUALITY", "template_status"
    )


@pytest.mark.parametrize("event", ["REINSTATED", "APPROVED"])
def test_template_events_that_lift(event: str) -> None:
    assert isinstance(on_template_status(event, "promo", None), Lift)


@pytest.mark.parametrize("event", ["PENDING", "IN_APPEAL", None, "", "SOMETHING_NEW"])
def test_other_template_events_change_nothing(event: str | None) -> None:
    assert on_template_status(event, "promo", None) is None


@pytest.mark.parametrize(
    ("event", "rating", "expected"),
    [
        ("FLAGGED", None, Place(PauseScope.CHANNEL, "number quality FLAGGED", "quality")),
        ("UPGRADE", "RED", Place(PauseScope.CHANNEL, "number quality RED", "quality")),
        (None, "red", Place(PauseScope.CHANNEL, "number quality RED", "quality")),
        ("UNFLAGGED", None, Lift(PauseScope.CHANNEL, "quality", "number quality UNFLAGGED")),
        (None, "GREEN", Lift(PauseScope.CHANNEL, "quality", "number quality GREEN")),
        ("THROUGHPUT_UPGRADE", None, None),
        ("DOWNGRADE", None, None),  # a tier change: the budget handles it
        ("ONBOARDING", "YELLOW", Lift(PauseScope.CHANNEL, "quality", "number quality YELLOW")),
        (None, None, None),
    ],
)
def test_quality_updates(event: str | None, rating: str | None, expected: object) -> None:
    assert on_quality_update(event, rating) == expected


def test_flagged_wins_over_a_lifting_rating() -> None:
    assert isinstance(on_quality_update("FLAGGED", "GREEN"), Place)


@pytest.mark.parametrize(
    "event", ["ACCOUNT_RESTRICTION", "DISABLED_UPDATE", "ACCOUNT_DELETED", "account_restriction"]
)
def test_account_events_that_hold_the_portfolio(event: str) -> None:
    got = on_account_update(event, '{"restriction_info":[]}')
    assert isinstance(got, Place)
    assert (got.scope, got.source) == (PauseScope.PORTFOLIO, "account")
    assert got.reason.startswith(f"account {event.upper()}: ")


@pytest.mark.parametrize(
    "event", ["ACCOUNT_VIOLATION", "VERIFIED_ACCOUNT", "VOLUME_BASED_PRICING_TIER_UPDATE", None]
)
def test_other_account_events_hold_nothing(event: str | None) -> None:
    assert on_account_update(event) is None


def test_long_account_details_are_cut() -> None:
    got = on_account_update("ACCOUNT_RESTRICTION", "x" * 5000)
    assert got is not None and len(got.reason) < 200


def test_the_parser_reads_a_quality_rating_under_any_known_name() -> None:
    from engine.core.webhook import QualityUpdate, parse_webhook

    def body(value: dict[str, object]) -> dict[str, object]:
        change = {"field": "phone_number_quality_update", "value": value}
        return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}

    for value, rating in (
        ({"event": "FLAGGED"}, None),
        ({"event": "UPGRADE", "quality_rating": "red"}, "RED"),
        ({"event": "UPGRADE", "quality_score": {"score": "GREEN"}}, "GREEN"),
        ({"event": "UPGRADE", "current_quality": None}, None),
    ):
        [event] = parse_webhook(body(value)).events
        assert isinstance(event, QualityUpdate)
        assert event.rating == rating, value
