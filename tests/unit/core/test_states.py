from __future__ import annotations

import itertools

import pytest

from engine.core.states import (
    CAMPAIGN_TRANSITIONS,
    MESSAGE_TRANSITIONS,
    CampaignState,
    MessageState,
    StateKind,
    TransitionError,
    allowed_sources,
    allowed_targets,
    check_transition,
    is_allowed,
)
from engine.errors import EngineError

M = MessageState
C = CampaignState

MESSAGE_EDGES = {
    (M.PENDING, M.IN_FLIGHT),
    (M.PENDING, M.SUPPRESSED),
    (M.PENDING, M.CANCELLED),
    (M.IN_FLIGHT, M.ACCEPTED),
    (M.IN_FLIGHT, M.FAILED),
    (M.IN_FLIGHT, M.UNKNOWN),
    (M.IN_FLIGHT, M.PENDING),
    (M.IN_FLIGHT, M.SUPPRESSED),
    (M.UNKNOWN, M.ACCEPTED),
    (M.UNKNOWN, M.PENDING),
    (M.UNKNOWN, M.FAILED),
    (M.ACCEPTED, M.FAILED),
    (M.FAILED, M.PENDING),
    (M.FAILED, M.ACCEPTED),
}

CAMPAIGN_EDGES = {
    (C.SCHEDULED, C.RUNNING),
    (C.SCHEDULED, C.PAUSED),
    (C.SCHEDULED, C.CANCELLED),
    (C.SCHEDULED, C.FAILED),
    *(
        (src, dst)
        for src in (C.RUNNING, C.THROTTLED)
        for dst in (C.PAUSED, C.COMPLETED, C.CANCELLED, C.FAILED)
    ),
    (C.RUNNING, C.THROTTLED),
    (C.THROTTLED, C.RUNNING),
    (C.PAUSED, C.RUNNING),
    (C.PAUSED, C.SCHEDULED),
    (C.PAUSED, C.CANCELLED),
    (C.PAUSED, C.FAILED),
    (C.COMPLETED, C.SCHEDULED),
    (C.FAILED, C.SCHEDULED),
}


def test_enum_values_match_the_sql_check_constraints() -> None:
    assert [s.value for s in M] == [
        "pending",
        "in_flight",
        "accepted",
        "failed",
        "unknown",
        "suppressed",
        "cancelled",
    ]
    assert [s.value for s in C] == [
        "scheduled",
        "running",
        "throttled",
        "paused",
        "completed",
        "cancelled",
        "failed",
    ]


@pytest.mark.parametrize(("old", "new"), list(itertools.product(M, M)))
def test_message_table_is_exactly_the_documented_edges(old: M, new: M) -> None:
    expected = (old, new) in MESSAGE_EDGES
    assert is_allowed("message", old, new) is expected
    if expected:
        check_transition(StateKind.MESSAGE, old.value, new.value)
    else:
        with pytest.raises(TransitionError):
            check_transition("message", old, new)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(C, C)))
def test_campaign_table_is_exactly_the_documented_edges(old: C, new: C) -> None:
    assert is_allowed("campaign", old, new) is ((old, new) in CAMPAIGN_EDGES)


def test_every_state_has_a_row() -> None:
    assert set(MESSAGE_TRANSITIONS) == set(M)
    assert set(CAMPAIGN_TRANSITIONS) == set(C)


def test_terminal_states_have_no_way_out() -> None:
    assert allowed_targets(M.SUPPRESSED) == ()
    assert allowed_targets(M.CANCELLED) == ()
    assert allowed_targets(C.CANCELLED) == ()


def test_error_is_a_value_error_and_an_engine_error_with_context() -> None:
    with pytest.raises(TransitionError) as info:
        check_transition("message", "accepted", "pending")
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, EngineError)
    assert (err.kind, err.old, err.new) == ("message", "accepted", "pending")
    assert "accepted" in str(err) and "pending" in str(err)


@pytest.mark.parametrize(
    ("kind", "old", "new", "reason"),
    [
        ("message", "pending", "pending", "same state"),
        ("message", "pending", "sent", "unknown state"),
        ("message", "bogus", "pending", "unknown state"),
        ("recipient", "pending", "in_flight", "unknown kind"),
        ("campaign", "pending", "running", "unknown state"),
    ],
)
def test_bad_input_raises(kind: str, old: str, new: str, reason: str) -> None:
    with pytest.raises(TransitionError, match=reason):
        check_transition(kind, old, new)


@pytest.mark.parametrize("new", list(M))
def test_allowed_sources_is_the_inverse_of_the_table(new: M) -> None:
    expected = tuple(sorted(src.value for src, dst in MESSAGE_EDGES if dst == new))
    assert allowed_sources(new) == expected
    for src in allowed_sources(new):
        check_transition("message", src, new)


@pytest.mark.parametrize("new", list(C))
def test_allowed_sources_campaign(new: C) -> None:
    assert allowed_sources(new) == tuple(sorted(s.value for s, d in CAMPAIGN_EDGES if d == new))


def test_sql_guard_examples() -> None:
    assert allowed_sources(M.ACCEPTED) == ("failed", "in_flight", "unknown")
    assert allowed_sources(M.IN_FLIGHT) == ("pending",)
    assert allowed_sources(C.SCHEDULED) == ("completed", "failed", "paused")
    assert all(isinstance(s, str) for s in allowed_sources(M.PENDING))
