"""Status planning and seeded dice (pure)."""

from __future__ import annotations

import random
import statistics

from engine.sandbox.config import Distribution, LifecycleConfig
from engine.sandbox.dice import Dice, sample_ms
from engine.sandbox.lifecycle import Planned, plan_statuses


def _life(**kw: object) -> LifecycleConfig:
    base: dict[str, object] = {
        "delivered_ratio": 1.0,
        "read_ratio": 1.0,
        "sent_delay": Distribution(p50_ms=100, p99_ms=100),
        "delivered_delay": Distribution(p50_ms=200, p99_ms=200),
        "read_delay": Distribution(p50_ms=300, p99_ms=300),
        "failed_delay": Distribution(p50_ms=50, p99_ms=50),
    }
    base.update(kw)
    return LifecycleConfig(**base)  # type: ignore[arg-type]


def test_full_funnel_with_pricing_on_sent_and_delivered() -> None:
    plan = plan_statuses(random.Random(1), _life(), None)
    assert [(p.status, round(p.offset_s, 3), p.priced) for p in plan] == [
        ("sent", 0.1, True),
        ("delivered", 0.3, True),
        ("read", 0.6, False),
    ]


def test_failure_is_a_single_failed_status() -> None:
    assert plan_statuses(random.Random(1), _life(), 131026) == [
        Planned(0.05, "failed", 131026, False, False)
    ]


def test_skip_delivered_prices_read() -> None:
    plan = plan_statuses(random.Random(1), _life(skip_delivered_ratio=1.0), None)
    assert [(p.status, p.priced) for p in plan] == [("sent", True), ("read", True)]


def test_reorder_swaps_the_last_two() -> None:
    plan = plan_statuses(random.Random(1), _life(reorder_ratio=1.0), None)
    times = {p.status: round(p.offset_s, 3) for p in plan}
    assert times == {"sent": 0.1, "delivered": 0.6, "read": 0.3}
    plan = plan_statuses(random.Random(1), _life(reorder_ratio=1.0, read_ratio=0.0), None)
    times = {p.status: round(p.offset_s, 3) for p in plan}
    assert times == {"sent": 0.3, "delivered": 0.1}


def test_duplicates_are_flagged_and_later() -> None:
    plan = plan_statuses(random.Random(1), _life(duplicate_ratio=1.0), None)
    originals = [p for p in plan if not p.duplicate]
    copies = [p for p in plan if p.duplicate]
    assert len(originals) == len(copies) == 3
    for original, copy in zip(originals, copies, strict=True):
        assert copy.status == original.status and copy.offset_s > original.offset_s


def test_ratios_are_respected_over_many_messages() -> None:
    rng = random.Random(7)
    life = _life(delivered_ratio=0.9, read_ratio=0.5)
    plans = [plan_statuses(rng, life, None) for _ in range(4000)]
    delivered = sum(any(p.status == "delivered" for p in plan) for plan in plans)
    read = sum(any(p.status == "read" for p in plan) for plan in plans)
    assert 0.88 < delivered / 4000 < 0.92
    assert 0.47 < read / delivered < 0.53


def test_sample_ms_matches_percentiles() -> None:
    rng = random.Random(3)
    dist = Distribution(p50_ms=20, p99_ms=200)
    samples = sorted(sample_ms(rng, dist) for _ in range(20_000))
    assert 18 < statistics.median(samples) < 22
    assert 170 < samples[int(0.99 * len(samples))] < 230
    assert sample_ms(rng, Distribution(p50_ms=5, p99_ms=5)) == 5
    assert sample_ms(rng, Distribution()) == 0
    exp = sorted(sample_ms(rng, Distribution(p50_ms=0, p99_ms=100)) for _ in range(20_000))
    assert 85 < exp[int(0.99 * len(exp))] < 115


def test_dice_streams_repeat_per_seed_and_advance_per_repeat() -> None:
    a, b = Dice(5), Dice(5)
    first = [a.for_request("k", b"body").random() for _ in range(3)]
    assert first == [b.for_request("k", b"body").random() for _ in range(3)]
    assert len(set(first)) == 3  # the same bytes again draw fresh dice
    assert Dice(6).for_request("k", b"body").random() != first[0]
    assert Dice(5).for_request("other", b"body").random() != first[0]


def test_wamids_are_unique_and_meta_looking() -> None:
    dice = Dice(1)
    rng = dice.for_request("k", b"x")
    wamids = {dice.wamid(rng, "15551234567") for _ in range(5000)}
    assert len(wamids) == 5000
    sample = next(iter(wamids))
    assert sample.startswith("wamid.HBgLMTU1NTEyMzQ1Nj")  # base64 of the embedded number
    # a reset never reissues a wamid, even when the same stream is replayed
    before = dice.wamid(Dice(9).for_request("k", b"y"), "1")
    dice2 = Dice(9)
    w1 = dice2.wamid(dice2.for_request("k", b"y"), "1")
    dice2.reset()
    w2 = dice2.wamid(dice2.for_request("k", b"y"), "1")
    assert w1 == before and w2 != w1
