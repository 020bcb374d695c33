from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.merge import StatusRank, implied_statuses, merge_status, rank_of

KNOWN = ["sent", "delivered", "read", "failed"]
ANY_STATUS = st.sampled_from([*KNOWN, "played", "deleted", "warning", "SENT", " Read ", "", "x"])


def fold(statuses: list[str], start: str | None = None) -> str | None:
    current = start
    for s in statuses:
        new = merge_status(current, s)
        if new is not None:
            current = new
    return current


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        (None, "sent", "sent"),
        (None, "read", "read"),
        (None, "failed", "failed"),
        ("sent", "delivered", "delivered"),
        ("sent", "read", "read"),  # read implies delivered: no delivered webhook needed
        ("delivered", "read", "read"),
        ("sent", "sent", None),  # duplicate
        ("read", "delivered", None),  # regression (Chatwoot 14529)
        ("read", "sent", None),
        ("delivered", "sent", None),
        ("sent", "failed", "failed"),
        ("delivered", "failed", None),  # failed after delivered/read: ignored
        ("read", "failed", None),
        ("failed", "sent", None),
        ("failed", "delivered", "delivered"),  # multi-device: delivered outranks failed
        ("failed", "read", "read"),
        ("failed", "failed", None),
        ("sent", "played", None),  # unknown / non-Cloud-API statuses never change anything
        (None, "deleted", None),
        ("sent", "DELIVERED", "delivered"),
        ("garbage", "sent", "sent"),  # unrecognised stored value: treated as absent
    ],
)
def test_merge_table(current: str | None, incoming: str, expected: str | None) -> None:
    assert merge_status(current, incoming) == expected


def test_rank_order() -> None:
    assert StatusRank.SENT < StatusRank.FAILED < StatusRank.DELIVERED < StatusRank.READ
    assert rank_of(None) is None and rank_of("nope") is None


@pytest.mark.parametrize(
    ("status", "implied"),
    [
        ("sent", ("sent",)),
        ("delivered", ("sent", "delivered")),
        ("read", ("sent", "delivered", "read")),
        ("failed", ("failed",)),
        (None, ()),
        ("played", ()),
    ],
)
def test_implied_statuses(status: str | None, implied: tuple[str, ...]) -> None:
    assert implied_statuses(status) == implied


@given(st.one_of(st.none(), ANY_STATUS), ANY_STATUS)
def test_idempotent(current: str | None, incoming: str) -> None:
    first = merge_status(current, incoming)
    after = first if first is not None else current
    assert merge_status(after, incoming) is None


@given(st.one_of(st.none(), ANY_STATUS), ANY_STATUS)
def test_monotonic(current: str | None, incoming: str) -> None:
    new = merge_status(current, incoming)
    if new is not None:
        old_rank = rank_of(current)
        assert old_rank is None or rank_of(new) > old_rank  # type: ignore[operator]


@given(st.lists(ANY_STATUS, max_size=8), st.randoms(use_true_random=False))
def test_order_of_arrival_does_not_matter(statuses: list[str], rnd: object) -> None:
    shuffled = list(statuses)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(statuses) == fold(shuffled)


def test_commutative_on_every_pair() -> None:
    for a, b in itertools.product(KNOWN, KNOWN):
        assert fold([a, b]) == fold([b, a])
        assert fold([a, b]) == max(a, b, key=lambda s: rank_of(s))  # type: ignore[arg-type,return-value]


@given(st.lists(ANY_STATUS, max_size=8))
def test_result_is_the_maximum_seen(statuses: list[str]) -> None:
    ranks = [r for r in map(rank_of, statuses) if r is not None]
    expected = max(ranks).name.lower() if ranks else None
    assert fold(statuses) == expected
