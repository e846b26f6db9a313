"""The request budget: token-bucket pacing on an injected clock, the rate meter, and slowing down when
the server's shared bucket runs low."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from api_support import FakeServer, FakeTime, load

from tui.api.budget import RequestBudget
from tui.api.errors import BadRequest
from tui.model import Queue, QueueType

QUEUE_BODY = load("queues_list")["data"][0]


def budget(clock: FakeTime, rate: float | None = 2.0, burst: int = 4) -> RequestBudget:
    return RequestBudget(rate, burst, clock=clock.monotonic, sleep=clock.sleep)


async def test_burst_then_sustained_rate(clock: FakeTime) -> None:
    bucket = budget(clock)
    start = clock.now
    for _ in range(4):
        await bucket.acquire()
    assert clock.now == start  # the burst goes out at once
    for _ in range(6):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(3.0)  # 6 more at 2/s
    assert all(s == pytest.approx(0.5) for s in clock.sleeps)


async def test_idle_time_refills_up_to_the_burst_only(clock: FakeTime) -> None:
    bucket = budget(clock)
    for _ in range(4):
        await bucket.acquire()
    clock.advance(100)
    start = clock.now
    for _ in range(5):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(0.5)


async def test_unlimited_never_waits(clock: FakeTime) -> None:
    for rate in (None, 0):
        bucket = budget(clock, rate=rate)
        for _ in range(50):
            await bucket.acquire()
        assert clock.sleeps == [] and bucket.effective_rate is None


async def test_concurrent_callers_share_the_bucket(clock: FakeTime) -> None:
    bucket = budget(clock, rate=1.0, burst=1)
    start = clock.now
    await asyncio.gather(*(bucket.acquire() for _ in range(5)))
    assert clock.now - start == pytest.approx(4.0)


async def test_measured_rate_covers_the_last_ten_seconds(clock: FakeTime) -> None:
    bucket = budget(clock, rate=None)
    for _ in range(20):
        await bucket.acquire()
        clock.advance(0.25)  # 4 requests/s for 5 s
    assert bucket.measured_rate() == pytest.approx(2.0)  # 20 requests over a 10 s window
    clock.advance(6)  # now t=11: the 4 requests sent before t=1 have left the window
    assert bucket.measured_rate() == pytest.approx(1.6)
    clock.advance(10)
    assert bucket.measured_rate() == 0


def test_slowdown_below_twenty_percent_with_hysteresis(clock: FakeTime) -> None:
    bucket = budget(clock)
    bucket.observe(750, 750)
    assert not bucket.slowed and bucket.effective_rate == 2.0 and bucket.slowdown == 1.0
    bucket.observe(150, 750)  # exactly 20%: not yet
    assert not bucket.slowed
    bucket.observe(149, 750)
    assert bucket.slowed and bucket.effective_rate == 1.0 and bucket.slowdown == 2.0
    bucket.observe(200, 750)  # 26.7%: still recovering
    assert bucket.slowed
    bucket.observe(225, 750)
    assert not bucket.slowed and bucket.effective_rate == 2.0
    bucket.observe(None, 750)
    bucket.observe(5, 0)
    assert not bucket.slowed and bucket.remaining == 225


async def test_slowed_bucket_paces_at_half_rate(clock: FakeTime) -> None:
    bucket = budget(clock, burst=1)
    await bucket.acquire()
    bucket.observe(0, 100)
    start = clock.now
    for _ in range(3):
        await bucket.acquire()
    assert clock.now - start == pytest.approx(3.0)  # 1/s instead of 2/s


async def test_client_requests_pass_through_the_budget(
    make_client, server: FakeServer, clock: FakeTime
) -> None:
    client = make_client(budget_per_second=2.0, burst=4)
    start = clock.now
    for _ in range(8):
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert clock.now - start == pytest.approx(2.0)
    stats = client.stats()
    assert stats.budget_per_second == 2.0 and stats.requests_per_second == pytest.approx(0.8)


async def test_retries_also_spend_budget(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client(budget_per_second=1.0, burst=1)
    server.then(httpx.Response(503), httpx.Response(200, json=QUEUE_BODY))
    await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().requests_per_second == pytest.approx(0.2)


async def test_client_slows_down_on_low_remaining(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client(budget_per_second=2.0)
    low = {"x-ratelimit-remaining": "40", "x-ratelimit-limit": "750", "x-ratelimit-reset": "1787000001000"}
    server.then(httpx.Response(200, json=QUEUE_BODY, headers=low))
    await client.retrieve_queue("process-video", QueueType.TASK)
    stats = client.stats()
    assert stats.slowed_down and stats.budget_per_second == 1.0 and client.slowdown == 2.0
    assert (stats.ratelimit_remaining, stats.ratelimit_limit) == (40, 750)
    server.then(
        httpx.Response(
            200, json=QUEUE_BODY, headers={"x-ratelimit-remaining": "700", "x-ratelimit-limit": "750"}
        )
    )
    await client.retrieve_queue("process-video", QueueType.TASK)
    assert not client.stats().slowed_down and client.slowdown == 1.0


async def test_rate_limit_headers_on_errors_count_too(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(
        httpx.Response(
            400, json={"error": "x"}, headers={"x-ratelimit-remaining": "3", "x-ratelimit-limit": "750"}
        )
    )
    with pytest.raises(BadRequest):
        await client.reset_concurrency(
            Queue(
                id="q",
                name="a",
                type=QueueType.TASK,
                running=0,
                queued=0,
                paused=False,
                concurrency_limit=None,
            )
        )
    assert client.stats().slowed_down and client.stats().ratelimit_remaining == 3
