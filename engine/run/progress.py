"""``campaign_progress`` every few seconds: rate over the interval, counts, ETA.

Never one line per message, and never a count of the whole campaign per interval (that
reads every row: 356 ms on a 1M-row outbox, every few seconds, and on the job's core):
- once, at the first interval, the exact counts by state (``outbox.progress``), taken while
  the recorder holds its writes, so they and the recorder's outcome counters are one snapshot;
- every interval, the small sets exactly (``outbox.live_counts``: in flight, unknown,
  waiting for a retry time, each through its partial index), and the rest from that
  snapshot moved by the outcomes this job has recorded since: accepted, failed, and the
  remaining rows (``due`` = remaining - waiting - in flight).
A webhook that settles an unknown row shows at once in ``unknown`` and in ``accepted`` in
the final summary, which counts the outbox exactly again.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import asyncpg

from engine.db import outbox
from engine.logs import get_logger, is_human
from engine.run.recorder import Recorder
from engine.run.settings import JobSettings

log = get_logger("engine.progress")

# Outcomes that take a row out of the remaining set (a retry's "pending" does not).
LEAVES_REMAINING = ("accepted", "failed", "unknown")


class ProgressReporter:
    def __init__(
        self, settings: JobSettings, campaign_id: int, pool: asyncpg.Pool, recorder: Recorder
    ) -> None:
        self._s = settings
        self._campaign_id = campaign_id
        self._pool = pool
        self._recorder = recorder
        self._started = time.monotonic()
        self._last_at = self._started
        self._last_written = 0
        self._base: dict[str, Any] | None = None
        self._base_recorded: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"ProgressReporter(campaign_id={self._campaign_id}, written={self._last_written})"

    async def maybe_log(self, now: float, rate_per_s: float | None) -> None:
        if now - self._last_at < self._s.progress_every_s:
            return
        written = self._recorder.written
        interval = now - self._last_at
        rate = (written - self._last_written) / interval if interval > 0 else 0.0
        self._last_at, self._last_written = now, written
        counts = await self.counts()
        remaining = counts["due"] + counts["waiting"] + counts["in_flight"]
        if is_human():
            _draw_bar(counts, remaining, rate)
            return
        log.info(
            "campaign_progress",
            campaign=self._s.name,
            rate_per_s=round(rate, 1),
            pacer_rate_per_s=rate_per_s,
            eta_s=round(remaining / rate, 1) if rate > 0 else None,
            **_public(counts),
        )

    async def counts(self) -> dict[str, Any]:
        """Counts by state for the progress line: the keys of ``outbox.progress``, exact for
        the small sets, the rest moved from the first call's exact snapshot by the outcomes
        recorded since (see the module docstring)."""
        if self._base is None:
            async with self._recorder.writes_held():
                self._base = await outbox.progress(self._pool, self._campaign_id)
                self._base_recorded = Counter(self._recorder.by_state)
            return dict(self._base)
        base = self._base
        live = await outbox.live_counts(self._pool, self._campaign_id)
        recorded = self._recorder.by_state - self._base_recorded
        remaining = base["due"] + base["waiting"] + base["in_flight"]
        remaining -= sum(recorded[state] for state in LEAVES_REMAINING)
        remaining = max(remaining, live.waiting + live.in_flight)
        return {
            "due": remaining - live.waiting - live.in_flight,
            "waiting": live.waiting,
            "next_retry_at": live.next_retry_at,
            "in_flight": live.in_flight,
            "accepted": base["accepted"] + recorded["accepted"],
            "failed": base["failed"] + recorded["failed"],
            "unknown": live.unknown,
            "unknown_unsettled": live.unknown_unsettled,
            "suppressed": base["suppressed"],
            "cancelled": base["cancelled"],
            "total": base["total"],
        }

    async def final(self, state: str) -> dict[str, Any]:
        counts = await outbox.progress(self._pool, self._campaign_id)
        elapsed = time.monotonic() - self._started
        return {
            "campaign": self._s.name,
            "state": state,
            "elapsed_s": round(elapsed, 2),
            "outcomes_recorded": self._recorder.written,
            "avg_rate_per_s": round(self._recorder.written / elapsed, 1) if elapsed > 0 else 0.0,
            **_public(counts),
        }


def _public(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counts.items() if k != "next_retry_at"}


def _draw_bar(counts: dict[str, Any], remaining: int, rate: float) -> None:
    """One redrawn terminal line instead of a JSON event per interval."""
    total = max(1, int(counts["total"]))
    done = total - remaining
    width = 30
    filled = int(width * done / total)
    eta = f"{remaining / rate:,.0f}s" if rate > 0 else "--"
    line = (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done / total:5.1f}% "
        f"{done:,}/{total:,}  {rate:,.0f} msg/s  eta {eta}  "
        f"failed {counts['failed']:,} unknown {counts['unknown']:,}   "
    )
    sys.stderr.write(line)
    sys.stderr.flush()
