"""Meta's sending limits as pure state machines over an injected ``now`` (seconds).

- ``TokenBucket``: per-key throughput (130429). Refills ``rate_per_s`` tokens per second up
  to ``capacity``; each admitted send takes one. O(1).
- ``PairLimiter``: one key to one recipient at most once per ``spacing_s`` (131056),
  measured between accepted sends. Memory is bounded by the sends of the last ``spacing_s``.
- ``TierWindow``: a portfolio's messaging limit: unique recipients per rolling
  ``window_s``. A recipient already counted is always admitted (and its window extended);
  a new one only while fewer than ``limit`` are counted. Amortised O(1).

None of them sleeps or reads a clock; callers pass ``now`` that never goes backwards.
"""

from __future__ import annotations

from collections import deque

from engine.sandbox.config import TIER_WINDOW_S


class TokenBucket:
    """Token bucket: ``try_take(now)`` is True when a token was available (and taken)."""

    __slots__ = ("_last_s", "_tokens", "capacity", "rate_per_s")

    def __init__(self, rate_per_s: float, capacity: float, now: float) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("rate_per_s must be > 0 and capacity >= 1")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._tokens = capacity
        self._last_s = now

    def __repr__(self) -> str:
        return f"<TokenBucket rate={self.rate_per_s}/s tokens={self._tokens:.2f}/{self.capacity}>"

    def try_take(self, now: float) -> bool:
        """Refill for the time elapsed since the last call, then take one token if whole."""
        elapsed = now - self._last_s
        if elapsed > 0:
            tokens = self._tokens + elapsed * self.rate_per_s
            self._tokens = tokens if tokens < self.capacity else self.capacity
            self._last_s = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class PairLimiter:
    """Minimum spacing between accepted sends to one recipient (from one key)."""

    __slots__ = ("_last", "_log", "spacing_s")

    def __init__(self, spacing_s: float) -> None:
        self.spacing_s = spacing_s
        self._last: dict[str, float] = {}
        self._log: deque[tuple[float, str]] = deque()

    def __repr__(self) -> str:
        return f"<PairLimiter spacing={self.spacing_s}s tracked={len(self._last)}>"

    def _expire(self, now: float) -> None:
        horizon = now - self.spacing_s
        log, last = self._log, self._last
        while log and log[0][0] <= horizon:
            t, who = log.popleft()
            if last.get(who) == t:
                del last[who]

    def allowed(self, wa_id: str, now: float) -> bool:
        """True when no accepted send to ``wa_id`` happened in the last ``spacing_s``."""
        if self.spacing_s <= 0:
            return True
        self._expire(now)
        last = self._last.get(wa_id)
        return last is None or now - last >= self.spacing_s

    def record(self, wa_id: str, now: float) -> None:
        """Note an accepted send to ``wa_id`` at ``now``."""
        if self.spacing_s <= 0:
            return
        self._last[wa_id] = now
        self._log.append((now, wa_id))


class TierWindow:
    """Unique recipients per rolling window for one portfolio; ``limit=None`` is unlimited."""

    __slots__ = ("_last", "_log", "limit", "window_s")

    def __init__(self, limit: int | None, window_s: float = TIER_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._last: dict[str, float] = {}
        self._log: deque[tuple[float, str]] = deque()

    def __repr__(self) -> str:
        return f"<TierWindow limit={self.limit} counted={len(self._last)}>"

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        log, last = self._log, self._last
        while log and log[0][0] <= horizon:
            t, who = log.popleft()
            if last.get(who) == t:
                del last[who]

    def count(self, now: float) -> int:
        """Unique recipients counted in the window ending at ``now``."""
        self._expire(now)
        return len(self._last)

    def admit(self, wa_id: str, now: float) -> bool:
        """Count a delivery to ``wa_id``; False (nothing counted) when it would exceed the tier.

        An unlimited window tracks nothing (no memory, always True).
        """
        if self.limit is None:
            return True
        self._expire(now)
        if wa_id not in self._last and len(self._last) >= self.limit:
            return False
        self._last[wa_id] = now
        self._log.append((now, wa_id))
        return True

    def reset(self) -> None:
        """Forget every counted recipient."""
        self._last.clear()
        self._log.clear()
