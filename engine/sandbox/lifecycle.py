"""What happens to an accepted message after the 200: its planned status webhooks (pure).

``plan_statuses(rng, config, failure_code)`` returns ``Planned`` entries, each a status at
an offset (seconds after accept):
- a failing message gets one ``failed`` status carrying ``failure_code``;
- otherwise ``sent``; then ``delivered`` with ``delivered_ratio``; then ``read`` with
  ``read_ratio`` of the delivered. With ``skip_delivered_ratio`` a read message has no
  ``delivered`` webhook (Meta sends only ``read`` when both happen together).
- ``pricing`` rides on ``sent`` and on the first of delivered/read (never both), as Meta's
  per-message pricing does.
- ``reorder_ratio``: the last two statuses swap times (read before delivered, or delivered
  before sent); ``duplicate_ratio``: a status is planned a second time, later, flagged
  ``duplicate`` (duplicates are not counted in ``statuses_emitted``).
The entries are ordered as planned, not by time; the emitter orders by time.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from engine.sandbox.config import LifecycleConfig
from engine.sandbox.dice import sample_ms


class Planned(NamedTuple):
    """One status to emit ``offset_s`` after accept."""

    offset_s: float
    status: str
    error_code: int
    priced: bool
    duplicate: bool


def plan_statuses(
    rng: random.Random, config: LifecycleConfig, failure_code: int | None
) -> list[Planned]:
    """Plan the statuses of one accepted message (see module doc). Draws only from ``rng``."""
    if failure_code:
        plan = [
            Planned(
                sample_ms(rng, config.failed_delay) / 1000.0, "failed", failure_code, False, False
            )
        ]
    else:
        t_sent = sample_ms(rng, config.sent_delay) / 1000.0
        plan = [Planned(t_sent, "sent", 0, True, False)]
        if rng.random() < config.delivered_ratio:
            t_delivered = t_sent + sample_ms(rng, config.delivered_delay) / 1000.0
            if rng.random() < config.read_ratio:
                t_read = t_delivered + sample_ms(rng, config.read_delay) / 1000.0
                skip = (
                    config.skip_delivered_ratio > 0 and rng.random() < config.skip_delivered_ratio
                )
                if skip:
                    plan.append(Planned(t_read, "read", 0, True, False))
                else:
                    plan.append(Planned(t_delivered, "delivered", 0, True, False))
                    plan.append(Planned(t_read, "read", 0, False, False))
            else:
                plan.append(Planned(t_delivered, "delivered", 0, True, False))
        if len(plan) > 1 and config.reorder_ratio > 0 and rng.random() < config.reorder_ratio:
            early, late = plan[-2], plan[-1]
            plan[-2] = early._replace(offset_s=late.offset_s)
            plan[-1] = late._replace(offset_s=early.offset_s)
    if config.duplicate_ratio > 0:
        for entry in list(plan):
            if rng.random() < config.duplicate_ratio:
                extra = sample_ms(rng, config.sent_delay) / 1000.0
                plan.append(entry._replace(offset_s=entry.offset_s + extra, duplicate=True))
    return plan
