"""``campaign_progress`` every few seconds: rate over the interval, counts, ETA.

Counts come from the outbox (one aggregate query per interval), so they are the truth a
crash would leave behind, not an in-memory estimate. Never one line per message.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import asyncpg

from engine.db import outbox
from engine.logs import get_logger, is_human
from engine.run.recorder import Recorder
from engine.run.settings import JobSettings

log = get_logger("engine.progress")


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

    def __repr__(self) -> str:
        return f"ProgressReporter(campaign_id={self._campaign_id}, written={self._last_written})"

    async def maybe_log(self, now: float, rate_per_s: float | None) -> None:
        if now - self._last_at < self._s.progress_every_s:
            return
        written = self._recorder.written
        interval = now - self._last_at
        rate = (written - self._last_written) / interval if interval > 0 else 0.0
        self._last_at, self._last_written = now, written
        counts = await outbox.progress(self._pool, self._campaign_id)
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
