"""Backoff schedules: how long to wait before the next attempt, or give up.

Pure: randomness comes in as an ``rng`` (``random.Random`` or anything with
``random() -> float`` in ``[0, 1)``), so tests pin it.

Schedules by action:

- ``RETRY`` / ``THROTTLE``: exponential, ``cap = min(max_s, base_s * 2**(attempts-1))``,
  then jittered down: ``delay = cap * (1 - jitter * u)`` with ``u = rng.random()``.
  ``jitter=1`` is AWS "full jitter" (spreads a herd the most), ``0.5`` "equal jitter"
  (never retries sooner than half the cap; the default, so a 429 storm is not resent at
  once), ``0`` none. The delay is never below ``min_delay_s``.
- ``RETRY_RECIPIENT`` (131056 pair limit): Meta's ``4**x`` seconds: 1, 4, 16, 64, then
  64 again until ``pair_max_attempts`` (pair limits "borrow" burst, so patience works),
  plus up to 10 % jitter so requeued rows do not all land on the same tick.
- Anything else (``FAIL_*``): ``None``, give up now. ``PAUSE`` and ``UNKNOWN`` are not
  retries (a pause requeues without an attempt; unknown waits for a webhook) and raise.

Every schedule respects ``retry_after_min_s`` (e.g. 131049 asks for >= 24 h).

``attempts`` is the number of sends already made for this message, including the one
that just failed (>= 1). ``None`` means "no more": the runtime fails the message with the
last code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from engine.core.classify import Refused
from engine.core.codes import Action

__all__ = [
    "DEFAULT_POLICY",
    "PAIR_LIMIT_SCHEDULE_S",
    "RetryPolicy",
    "Rng",
    "next_retry_delay",
    "retry_delay_for",
]

#: Meta's documented pair-limit retry: 4**x seconds, x = 0, 1, 2, 3.
PAIR_LIMIT_SCHEDULE_S: Final[tuple[float, ...]] = (1.0, 4.0, 16.0, 64.0)
_PAIR_JITTER: Final = 0.1


class Rng(Protocol):
    """The part of ``random.Random`` we use."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Backoff parameters (seconds). ``max_attempts`` caps total sends of one message for
    RETRY/THROTTLE; ``pair_max_attempts`` for the pair-limit schedule."""

    base_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.5
    max_attempts: int = 8
    pair_max_attempts: int = 8
    min_delay_s: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.max_s:
            raise ValueError("RetryPolicy: need 0 < base_s <= max_s")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy: jitter must be within [0, 1]")
        if self.max_attempts < 1 or self.pair_max_attempts < 1:
            raise ValueError("RetryPolicy: max attempts must be >= 1")
        if self.min_delay_s < 0:
            raise ValueError("RetryPolicy: min_delay_s must be >= 0")


DEFAULT_POLICY: Final = RetryPolicy()

_BACKOFF_ACTIONS: Final = frozenset({Action.RETRY, Action.THROTTLE})
_GIVE_UP_ACTIONS: Final = frozenset({Action.FAIL_RECIPIENT, Action.FAIL_PAYLOAD})


def next_retry_delay(
    policy: RetryPolicy,
    attempts: int,
    action: Action,
    rng: Rng | float,
    *,
    retry_after_min_s: float = 0.0,
    max_attempts: int | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` to give up (fail).

    ``rng`` may be a float in ``[0, 1)`` instead of a generator (one draw).
    ``max_attempts`` (from the registry rule) lowers the policy cap for this code.
    Raises ``ValueError`` for ``PAUSE``/``UNKNOWN`` (not retry decisions) and for
    ``attempts < 1``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    if action in _GIVE_UP_ACTIONS:
        return None
    if action is Action.RETRY_RECIPIENT:
        limit = _cap(policy.pair_max_attempts, max_attempts)
        if attempts >= limit:
            return None
        step = PAIR_LIMIT_SCHEDULE_S[min(attempts, len(PAIR_LIMIT_SCHEDULE_S)) - 1]
        delay = step * (1.0 + _PAIR_JITTER * _draw(rng))
        return max(delay, retry_after_min_s, policy.min_delay_s)
    if action in _BACKOFF_ACTIONS:
        if attempts >= _cap(policy.max_attempts, max_attempts):
            return None
        return max(_backoff(policy, attempts, rng), retry_after_min_s, policy.min_delay_s)
    raise ValueError(f"{action.value} is not a retry decision")


def retry_delay_for(
    policy: RetryPolicy, attempts: int, refused: Refused, rng: Rng | float
) -> float | None:
    """:func:`next_retry_delay` with the rule's ``retry_after_min_s`` and ``max_attempts``
    taken from a classified :class:`~engine.core.classify.Refused` outcome."""
    return next_retry_delay(
        policy,
        attempts,
        refused.action,
        rng,
        retry_after_min_s=refused.retry_after_min_s,
        max_attempts=refused.max_attempts,
    )


def _backoff(policy: RetryPolicy, attempts: int, rng: Rng | float) -> float:
    # 2**(attempts-1) overflows float for huge attempt counts; the cap is reached long before.
    exponent = min(attempts - 1, 64)
    cap = min(policy.max_s, policy.base_s * (2.0**exponent))
    return cap * (1.0 - policy.jitter * _draw(rng))


def _cap(policy_max: int, rule_max: int | None) -> int:
    return policy_max if rule_max is None else min(policy_max, rule_max)


def _draw(rng: Rng | float) -> float:
    u = rng if isinstance(rng, float | int) else rng.random()
    return min(max(float(u), 0.0), 1.0)
