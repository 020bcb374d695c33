from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.budget import (
    DEFAULT_TIER_LIMIT,
    RECHECK_S,
    WINDOW_S,
    Allow,
    Wait,
    budget_decision,
    parse_tier,
    parse_tier_strict,
    remaining_budget,
)


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("TIER_250", 250),
        ("TIER_2K", 2_000),
        ("TIER_10K", 10_000),
        ("TIER_100K", 100_000),
        ("TIER_UNLIMITED", None),
        ("TIER_50", 50),
        ("TIER_1K", 1_000),
        ("tier_2k", 2_000),
        (" TIER_10K ", 10_000),
        (2000, 2_000),
        (250, 250),
        ("2000", 2_000),
        ("2K", 2_000),
        ("100k", 100_000),
        ("unlimited", None),
        ("Unlimited", None),
        ("1M", 1_000_000),
    ],
)
def test_parse_tier(value: object, limit: int | None) -> None:
    assert parse_tier_strict(value) == limit
    assert parse_tier(value) == limit


@pytest.mark.parametrize(
    "value",
    ["TIER_NOT_SET", "", "TIER_5X", "lots", None, 0, -5, True, 2.5, ["TIER_2K"], "0", "TIER_0K"],
)
def test_unknown_tier(value: object) -> None:
    with pytest.raises(ValueError):
        parse_tier_strict(value)
    assert parse_tier(value) == DEFAULT_TIER_LIMIT == 250
    assert parse_tier(value, default=10_000) == 10_000
    assert parse_tier(value, default=None) is None


@given(st.one_of(st.text(max_size=20), st.integers(), st.none(), st.floats(), st.booleans()))
def test_parse_tier_never_raises(value: object) -> None:
    result = parse_tier(value)
    assert result is None or result > 0


NOW = 1_750_000_000.0


def test_unlimited_and_already_counted_always_allow() -> None:
    assert budget_decision(None, 10**9, False, NOW - 10, NOW) == Allow()
    assert budget_decision(250, 250, True, NOW - 10, NOW) == Allow()


def test_below_limit_allows() -> None:
    assert budget_decision(250, 249, False, NOW - 100, NOW) == Allow()


def test_at_limit_waits_until_oldest_leaves_window() -> None:
    oldest = NOW - 3600.0
    decision = budget_decision(250, 250, False, oldest, NOW)
    assert decision == Wait(oldest + WINDOW_S)
    assert isinstance(decision, Wait) and decision.until == NOW + WINDOW_S - 3600.0


def test_stale_counts_recheck_soon() -> None:
    assert budget_decision(250, 300, False, NOW - WINDOW_S - 5, NOW) == Wait(
        NOW + RECHECK_S, "tier_limit_reached_recheck"
    )
    assert budget_decision(250, 250, False, None, NOW) == Wait(
        NOW + RECHECK_S, "tier_limit_reached_recheck"
    )


def test_headroom() -> None:
    assert remaining_budget(250, 200, headroom=50) == 0
    assert isinstance(budget_decision(250, 200, False, NOW - 1, NOW, headroom=50), Wait)
    assert remaining_budget(None, 5) is None
    assert remaining_budget(250, -3) == 250
    assert remaining_budget(250, 1000) == 0


@given(
    limit=st.one_of(st.none(), st.integers(1, 100_000)),
    used=st.integers(0, 200_000),
    counted=st.booleans(),
    age=st.one_of(st.none(), st.floats(0, 2 * WINDOW_S)),
)
def test_decision_is_consistent(
    limit: int | None, used: int, counted: bool, age: float | None
) -> None:
    oldest = None if age is None else NOW - age
    decision = budget_decision(limit, used, counted, oldest, NOW)
    if limit is None or counted or used < limit:
        assert decision == Allow()
    else:
        assert isinstance(decision, Wait) and NOW < decision.until <= NOW + WINDOW_S
