"""Exact counters behind ``GET /_sandbox/stats``.

Definitions (all reset by ``POST /_sandbox/reset``):
- ``requests``: every ``POST /messages``, whatever its outcome (401s, faults and hangs too).
- ``accepted``: sends answered with a wamid, plus sends accepted whose connection was then
  reset (``resets_after_accept`` of them); ``held``: accepted with
  ``held_for_quality_assessment``.
- ``rejected_by_code``: synchronous rejections by Meta error code as a string; 360dialog's
  own errors (no Meta code) as ``http_401``, ``http_429``, ``http_503``. ``hangs`` are not
  rejections (no answer at all).
- ``unique_recipients``: distinct ``wa_id`` with at least one accepted send.
- ``duplicate_sends``: accepted sends whose ``(wa_id, template name)`` already had one.
- ``max_rps_1s``: per API key, the largest number of accepts whose times fall in one
  sliding window ``(t - 1 s, t]`` (evaluated at every accept time t, so exact).
- ``statuses_emitted``: distinct ``(wamid, status)`` handed to the wire (first attempt; not
  duplicates, not retries); ``failed_by_code`` splits the failed ones by error code.
- ``webhooks_sent``: webhook POSTs answered 200 (statuses and events);
  ``webhook_attempts_failed``: POST attempts answered non-200, timed out or refused;
  ``webhook_drops``: statuses/events dropped because the emitter queue was full;
  ``webhooks_abandoned``: statuses/events given up after the retry horizon;
  ``webhooks_unrouted``: statuses/events with no URL for their key.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class RateWindow:
    """Peak count of events in any sliding one-second window (event times non-decreasing)."""

    __slots__ = ("_times", "peak")

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self.peak = 0

    def __repr__(self) -> str:
        return f"<RateWindow peak={self.peak} live={len(self._times)}>"

    def record(self, now: float) -> None:
        """Add an event at ``now`` and update the peak over ``(now - 1, now]``."""
        times = self._times
        times.append(now)
        horizon = now - 1.0
        while times[0] <= horizon:
            times.popleft()
        if len(times) > self.peak:
            self.peak = len(times)


class SandboxStats:
    """Mutable counters; the gateway and the emitter write, ``snapshot`` reads."""

    def __init__(self) -> None:
        self.requests = 0
        self.accepted = 0
        self.held = 0
        self.hangs = 0
        self.resets_after_accept = 0
        self.rejected_by_code: dict[str, int] = {}
        self.duplicate_sends = 0
        self._seen: dict[str, str | set[str]] = {}
        self._rates: dict[str, RateWindow] = {}
        self.statuses_emitted = {"sent": 0, "delivered": 0, "read": 0, "failed": 0}
        self.failed_by_code: dict[str, int] = {}
        self.webhooks_sent = 0
        self.webhook_statuses_sent = 0
        self.webhook_attempts_failed = 0
        self.webhook_drops = 0
        self.webhooks_abandoned = 0
        self.webhooks_unrouted = 0
        self.events_emitted: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"<SandboxStats requests={self.requests} accepted={self.accepted} "
            f"webhooks_sent={self.webhooks_sent}>"
        )

    def reject(self, code: str) -> None:
        """Count a synchronous rejection under ``code`` (``"130429"``, ``"http_401"``)."""
        self.rejected_by_code[code] = self.rejected_by_code.get(code, 0) + 1

    def accept(self, api_key: str, wa_id: str, template: str, now: float) -> None:
        """Count an accepted send at ``now`` (the injected clock, seconds)."""
        self.accepted += 1
        seen = self._seen.get(wa_id)
        if seen is None:
            self._seen[wa_id] = template
        elif isinstance(seen, str):
            if seen == template:
                self.duplicate_sends += 1
            else:
                self._seen[wa_id] = {seen, template}
        elif template in seen:
            self.duplicate_sends += 1
        else:
            seen.add(template)
        rate = self._rates.get(api_key)
        if rate is None:
            rate = self._rates[api_key] = RateWindow()
        rate.record(now)

    def emitted(self, status: str, error_code: int) -> None:
        """Count one distinct status put on the wire."""
        self.statuses_emitted[status] += 1
        if error_code:
            key = str(error_code)
            self.failed_by_code[key] = self.failed_by_code.get(key, 0) + 1

    def snapshot(self, webhooks_pending: int) -> dict[str, Any]:
        """The JSON document of ``GET /_sandbox/stats``."""
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "held": self.held,
            "rejected_by_code": dict(self.rejected_by_code),
            "hangs": self.hangs,
            "resets_after_accept": self.resets_after_accept,
            "unique_recipients": len(self._seen),
            "duplicate_sends": self.duplicate_sends,
            "max_rps_1s": {key: rate.peak for key, rate in self._rates.items()},
            "statuses_emitted": dict(self.statuses_emitted),
            "failed_by_code": dict(self.failed_by_code),
            "webhooks_sent": self.webhooks_sent,
            "webhook_statuses_sent": self.webhook_statuses_sent,
            "webhook_attempts_failed": self.webhook_attempts_failed,
            "webhook_drops": self.webhook_drops,
            "webhooks_abandoned": self.webhooks_abandoned,
            "webhooks_unrouted": self.webhooks_unrouted,
            "webhooks_pending": webhooks_pending,
            "events_emitted": dict(self.events_emitted),
        }
