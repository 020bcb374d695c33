from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.classify import classify_response, classify_status_error
from engine.core.codes import Action
from engine.core.retry import (
    DEFAULT_POLICY,
    PAIR_LIMIT_SCHEDULE_S,
    RetryPolicy,
    next_retry_delay,
    retry_delay_for,
)

NO_JITTER = RetryPolicy(base_s=1.0, max_s=60.0, jitter=0.0, max_attempts=10, min_delay_s=0.0)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 32.0), (7, 60.0), (9, 60.0)],
)
@pytest.mark.parametrize("action", [Action.RETRY, Action.THROTTLE])
def test_exponential_without_jitter(attempts: int, expected: float, action: Action) -> None:
    assert next_retry_delay(NO_JITTER, attempts, action, 0.5) == expected


def test_gives_up_at_max_attempts() -> None:
    assert next_retry_delay(NO_JITTER, 9, Action.RETRY, 0.0) is not None
    assert next_retry_delay(NO_JITTER, 10, Action.RETRY, 0.0) is None
    # a rule's cap is lower than the policy's
    assert next_retry_delay(NO_JITTER, 2, Action.RETRY, 0.0, max_attempts=3) == 2.0
    assert next_retry_delay(NO_JITTER, 3, Action.RETRY, 0.0, max_attempts=3) is None


@pytest.mark.parametrize("u", [0.0, 0.25, 0.5, 0.999])
def test_jitter_bounds(u: float) -> None:
    full = RetryPolicy(jitter=1.0, min_delay_s=0.0)
    equal = RetryPolicy(jitter=0.5, min_delay_s=0.0)
    assert next_retry_delay(full, 3, Action.RETRY, u) == pytest.approx(4.0 * (1 - u))
    delay = next_retry_delay(equal, 3, Action.RETRY, u)
    assert delay is not None and 2.0 <= delay <= 4.0


def test_min_delay_floor() -> None:
    policy = RetryPolicy(jitter=1.0, min_delay_s=0.05)
    assert next_retry_delay(policy, 1, Action.RETRY, 0.9999999) == 0.05


def test_pair_limit_schedule() -> None:
    policy = RetryPolicy(pair_max_attempts=7)
    delays = [next_retry_delay(policy, n, Action.RETRY_RECIPIENT, 0.0) for n in range(1, 8)]
    assert delays == [1.0, 4.0, 16.0, 64.0, 64.0, 64.0, None]
    assert PAIR_LIMIT_SCHEDULE_S == (1.0, 4.0, 16.0, 64.0)
    jittered = next_retry_delay(policy, 2, Action.RETRY_RECIPIENT, 0.999)
    assert jittered is not None and 4.0 <= jittered <= 4.4


@pytest.mark.parametrize("action", [Action.FAIL_RECIPIENT, Action.FAIL_PAYLOAD])
def test_permanent_actions_give_up(action: Action) -> None:
    assert next_retry_delay(DEFAULT_POLICY, 1, action, 0.3) is None


@pytest.mark.parametrize("action", [Action.PAUSE, Action.UNKNOWN])
def test_non_retry_actions_raise(action: Action) -> None:
    with pytest.raises(ValueError):
        next_retry_delay(DEFAULT_POLICY, 1, action, 0.3)


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        next_retry_delay(DEFAULT_POLICY, 0, Action.RETRY, 0.3)


def test_retry_after_min_is_respected() -> None:
    assert next_retry_delay(NO_JITTER, 1, Action.RETRY, 0.0, retry_after_min_s=600.0) == 600.0
    assert (
        next_retry_delay(NO_JITTER, 1, Action.RETRY_RECIPIENT, 0.0, retry_after_min_s=30.0) == 30.0
    )


def test_retry_delay_for_uses_the_rule() -> None:
    mm_sync = classify_status_error(134101)  # template syncing: wait >= 10 min
    assert retry_delay_for(NO_JITTER, 1, mm_sync, 0.0) == 600.0
    one_retry = classify_response(400, {"error": {"code": 135000}})
    assert retry_delay_for(NO_JITTER, 1, one_retry, 0.0) == 1.0  # type: ignore[arg-type]
    assert retry_delay_for(NO_JITTER, 2, one_retry, 0.0) is None  # type: ignore[arg-type]


def test_accepts_a_random_generator() -> None:
    rng = random.Random(7)
    delays = [next_retry_delay(DEFAULT_POLICY, 4, Action.RETRY, rng) for _ in range(50)]
    assert all(d is not None and 4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_s": 0.0},
        {"base_s": 10.0, "max_s": 5.0},
        {"jitter": 1.5},
        {"max_attempts": 0},
        {"pair_max_attempts": 0},
        {"min_delay_s": -1.0},
    ],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@given(
    attempts=st.integers(min_value=1, max_value=10_000),
    u=st.floats(min_value=0.0, max_value=1.0),
    base=st.floats(min_value=0.01, max_value=10.0),
    cap=st.floats(min_value=10.0, max_value=3600.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_delay_always_within_bounds(
    attempts: int, u: float, base: float, cap: float, jitter: float
) -> None:
    policy = RetryPolicy(base_s=base, max_s=cap, jitter=jitter, max_attempts=100_000)
    delay = next_retry_delay(policy, attempts, Action.RETRY, u)
    assert delay is not None
    assert policy.min_delay_s <= delay <= cap
