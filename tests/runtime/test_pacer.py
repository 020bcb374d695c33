"""The pacer never lets more than rate x elapsed + burst through, on either loop."""

from __future__ import annotations

import asyncio
import time

from engine.run.pacer import DEFAULT_BURST_S, Pacer


async def _grant_times(pacer: Pacer, workers: int, total: int) -> list[float]:
    times: list[float] = []
    task = asyncio.create_task(pacer.run())

    async def worker() -> None:
        while len(times) < total:
            await pacer.acquire()
            times.append(time.monotonic())

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return times[:total]


def _max_in_window(times: list[float], window_s: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_never_exceeds_rate_plus_small_burst() -> None:
    rate = 400.0
    pacer = Pacer(rate)
    times = await _grant_times(pacer, workers=50, total=300)
    # Any 0.25 s window: at most rate * 0.25 + burst (capacity = rate * DEFAULT_BURST_S).
    burst = max(1.0, rate * DEFAULT_BURST_S)
    assert _max_in_window(times, 0.25) <= rate * 0.25 + burst + 1


async def test_rate_change_applies() -> None:
    pacer = Pacer(1000.0)
    pacer.set_rate(100.0)
    times = await _grant_times(pacer, workers=10, total=30)
    assert _max_in_window(times, 0.1) <= 100 * 0.1 + max(1.0, 100 * DEFAULT_BURST_S) + 1


async def test_uncapped_pacer_grants_immediately() -> None:
    pacer = Pacer(None)
    for _ in range(1000):
        await pacer.acquire()
    assert pacer.granted == 1000


async def test_cancelled_waiter_does_not_block_others() -> None:
    pacer = Pacer(50.0)
    task = asyncio.create_task(pacer.run())
    try:
        waiter = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.wait_for(asyncio.gather(*(pacer.acquire() for _ in range(3))), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_profile_burst_is_the_bucket_capacity() -> None:
    pacer = Pacer(200.0, burst=5)
    times = await _grant_times(pacer, workers=20, total=60)
    assert _max_in_window(times, 0.1) <= 200 * 0.1 + 5 + 1
