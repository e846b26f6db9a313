"""Burst scopes: user-requested work skips the sustained rate, capped in flight, and falls back to pacing
before it could take the server's shared bucket to half."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from api_support import FakeServer, FakeTime, load

from tui.api.budget import BURST_IN_FLIGHT, RequestBudget
from tui.api.client import ClientStats
from tui.api.transport import ConnectionState
from tui.model import QueueType
from tui.screens.bar import rate_label

QUEUE_BODY = load("queues_list")["data"][0]


def budget(clock: FakeTime, rate: float | None = 2.0, burst: int = 4) -> RequestBudget:
    return RequestBudget(rate, burst, clock=clock.monotonic, sleep=clock.sleep)


async def send(bucket: RequestBudget, count: int) -> None:
    for _ in range(count):
        async with bucket.slot():
            pass


async def test_burst_skips_the_sustained_rate_and_still_counts(clock: FakeTime) -> None:
    bucket = budget(clock)
    async with bucket.burst() as tally:
        assert bucket.bursting
        await send(bucket, 40)
    assert clock.sleeps == [] and tally.requests == 40
    assert bucket.measured_rate() == pytest.approx(4.0)  # 40 requests in the 10 s window
    assert bucket.measured_burst_rate() == pytest.approx(4.0)
    assert not bucket.bursting


async def test_the_top_bar_counts_a_burst_apart_from_the_paced_rate(clock: FakeTime) -> None:
    """A triage's burst goes past the sustained budget by design: the bar must not read as the budget overrun."""
    bucket = budget(clock)
    await send(bucket, 4)
    async with bucket.burst():
        await send(bucket, 30)
    stats = ClientStats(
        ConnectionState.CONNECTED,
        bucket.measured_rate(),
        2.0,
        None,
        None,
        None,
        burst_per_second=bucket.measured_burst_rate(),
    )
    assert rate_label(stats) == "0.4/2.0 req/s + 3.0 burst"
    clock.now += 11  # the window moves past both
    assert bucket.measured_burst_rate() == 0


async def test_outside_a_scope_pacing_is_unchanged(clock: FakeTime) -> None:
    bucket = budget(clock)
    async with bucket.burst():
        await send(bucket, 10)
    start = clock.now
    await send(bucket, 10)
    # The burst spent no sustained tokens: 4 at once, then 6 at 2/s.
    assert clock.now - start == pytest.approx(3.0)


async def test_a_concurrent_task_outside_the_scope_stays_paced(clock: FakeTime) -> None:
    bucket = budget(clock, rate=1.0, burst=1)
    background = asyncio.create_task(send(bucket, 3))  # created before the scope: no burst
    async with bucket.burst() as tally:
        await send(bucket, 5)
        await background
    assert tally.requests == 5
    assert clock.sleeps == [pytest.approx(1.0)] * 2


async def test_tasks_created_inside_inherit_and_in_flight_is_capped(clock: FakeTime) -> None:
    bucket = budget(clock)
    release = asyncio.Event()
    in_flight = 0
    peak = 0

    async def hold() -> None:
        nonlocal in_flight, peak
        async with bucket.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1

    async with bucket.burst() as tally:
        tasks = [asyncio.create_task(hold()) for _ in range(20)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert in_flight == BURST_IN_FLIGHT == 8
        release.set()
        await asyncio.gather(*tasks)
    assert peak == 8 and tally.requests == 20 and clock.sleeps == []


async def test_falls_back_to_pacing_at_half_the_server_bucket(clock: FakeTime) -> None:
    bucket = budget(clock, rate=1.0, burst=1)
    await bucket.acquire()  # the sustained bucket is now empty
    bucket.observe(380, 750)  # half is 375
    release = asyncio.Event()
    entered: list[float] = []

    async def hold() -> None:
        async with bucket.slot():
            entered.append(clock.now)
            await release.wait()

    async with bucket.burst() as tally:
        held = [asyncio.create_task(hold()) for _ in range(5)]
        for _ in range(5):
            await asyncio.sleep(0)
        # 380 - 4 in flight = 376 > 375 let the fifth go at once; 380 - 5 = 375 makes the sixth wait.
        assert entered == [clock.now] * 5 and clock.sleeps == []
        sixth = asyncio.create_task(hold())
        for _ in range(5):
            await asyncio.sleep(0)
        assert clock.sleeps == [pytest.approx(1.0)] and len(entered) == 6
        release.set()
        await asyncio.gather(*held, sixth)
        # With nothing in flight, 376 is above half again: a burst.
        bucket.observe(376, 750)
        await send(bucket, 1)
        assert len(clock.sleeps) == 1
        bucket.observe(375, 750)
        await send(bucket, 2)
        assert len(clock.sleeps) == 3
    assert tally.requests == 9


async def test_nested_scopes_count_in_both(clock: FakeTime) -> None:
    bucket = budget(clock)
    async with bucket.burst() as outer:
        await send(bucket, 2)
        async with bucket.burst() as inner:
            await send(bucket, 3)
        await send(bucket, 1)
    assert (outer.requests, inner.requests) == (6, 3)


async def test_a_scope_belongs_to_its_budget(clock: FakeTime) -> None:
    mine, other = budget(clock, rate=1.0, burst=1), budget(clock, rate=1.0, burst=1)
    async with mine.burst() as tally:
        await send(other, 3)
    assert tally.requests == 0 and len(clock.sleeps) == 2


async def test_client_burst_counts_retries(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client(budget_per_second=1.0, burst=1)
    server.then(httpx.Response(503), httpx.Response(200, json=QUEUE_BODY))
    async with client.burst() as tally:
        await asyncio.gather(*(client.retrieve_queue("process-video", QueueType.TASK) for _ in range(3)))
    assert tally.requests == len(server.requests) == 4
    assert clock.sleeps == [0.5]  # only the retry's backoff; no pacing
    assert client.stats().requests_per_second == pytest.approx(0.4)
