"""Claim-ahead sizing: claim about CLAIM_AHEAD_S of sends, the whole queue at full speed."""

from __future__ import annotations

import pytest

from engine.run.producer import CLAIM_AHEAD_S, IDLE_POLL_S, MIN_AHEAD, ClaimAhead


class Simulation:
    """Senders draining a queue at ``rate_per_s`` (``hands`` idle workers first take a row
    each at once), with a producer following ``ClaimAhead`` on a fake clock."""

    def __init__(self, plan: ClaimAhead, *, maxsize: int, rate_per_s: float, hands: int) -> None:
        self.plan = plan
        self.maxsize = maxsize
        self.rate_per_s = rate_per_s
        self.hands = hands
        self.queued = 0
        self.taken = 0.0
        self.now = 0.0
        self.claims: list[int] = []
        self.max_unsent = 0

    def _take(self, n: float) -> None:
        n = min(n, self.queued)
        self.queued -= int(n)
        self.taken += int(n)

    def run(self, seconds: float) -> None:
        while self.now < seconds:
            limit, wait_s = self.plan.plan(
                queued=self.queued,
                room=self.maxsize - self.queued,
                taken=int(self.taken),
                now=self.now,
            )
            if limit:
                assert limit <= self.maxsize - self.queued
                self.claims.append(limit)
                self.plan.claimed(limit, limit)
                self.queued += limit
                self._take(max(0, self.hands - self.taken))  # idle workers grab rows
                self.now += 0.005  # the claim's round trip
                self._take(self.rate_per_s * 0.005)
            else:
                assert 0 < wait_s <= IDLE_POLL_S
                self.now += wait_s
                self._take(self.rate_per_s * wait_s)
            self.max_unsent = max(self.max_unsent, self.queued)


@pytest.mark.parametrize("rate_per_s", [80.0, 1000.0])
def test_paced_channel_claims_about_claim_ahead_seconds(rate_per_s: float) -> None:
    sim = Simulation(
        ClaimAhead(capacity=2000, batch=1000), maxsize=2000, rate_per_s=rate_per_s, hands=64
    )
    sim.run(60.0)
    ahead = max(MIN_AHEAD, rate_per_s * CLAIM_AHEAD_S)
    late = sim.claims[len(sim.claims) // 2 :]
    assert max(late) <= ahead
    assert sim.plan.ahead <= 2 * ahead
    assert sim.max_unsent <= 2 * ahead + 64  # the first claims may overshoot once
    # and the senders never ran dry after the start: the rate was met
    assert sim.taken >= rate_per_s * 59


def test_full_speed_grows_to_the_whole_queue() -> None:
    sim = Simulation(
        ClaimAhead(capacity=2000, batch=1000), maxsize=2000, rate_per_s=20_000.0, hands=64
    )
    sim.run(2.0)
    assert sim.plan.ahead == 2000
    assert max(sim.claims) == 1000  # claim_batch caps one claim


def test_first_claim_is_small_and_waits_are_bounded() -> None:
    plan = ClaimAhead(capacity=2000, batch=1000)
    limit, _ = plan.plan(queued=0, room=2000, taken=0, now=0.0)
    assert limit == MIN_AHEAD
    plan.claimed(limit, limit)
    limit, wait_s = plan.plan(queued=MIN_AHEAD, room=2000 - MIN_AHEAD, taken=0, now=0.01)
    assert limit == 0 and 0 < wait_s <= IDLE_POLL_S


def test_an_exhausted_outbox_does_not_grow_the_window() -> None:
    """Claims that found fewer rows than asked (the end, a budget) are not starvation."""
    plan = ClaimAhead(capacity=2000, batch=1000)
    for i in range(20):
        limit, _ = plan.plan(queued=0, room=2000, taken=0, now=i * 0.25)
        plan.claimed(limit, 0)
    assert plan.ahead == MIN_AHEAD
