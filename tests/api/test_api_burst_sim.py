"""Burst scopes end to end: the real client over the simulator's ASGI app and its real rate limiter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from api_support import FakeTime

from tui.api.client import EngineClient
from tui.model import Queue
from tui.sim.server import DEFAULT_SECRET_KEY, SimOptions, create_app

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
Scope = dict[str, Any]


class Observed:
    """Wraps the simulator to count the requests it receives and how many overlap."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.002)  # a little service time, so concurrent requests really overlap
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


@pytest.fixture
def sim() -> Any:
    return create_app(SimOptions(scenario="incident", speed=0, seed=1, start=START))


@pytest.fixture
def observed(sim: Any) -> Observed:
    return Observed(sim)


@asynccontextmanager
async def _client(observed: Observed, **options: Any) -> AsyncIterator[EngineClient]:
    client = EngineClient(
        "http://127.0.0.1",
        DEFAULT_SECRET_KEY,
        transport=httpx.ASGITransport(app=observed),
        budget_per_second=2.0,
        burst=4,
        **options,
    )
    yield client
    await client.aclose()


async def _reads(client: EngineClient, queues: list[Queue], count: int) -> list[Queue]:
    picks = [queues[i % len(queues)] for i in range(count)]
    return await asyncio.gather(*(client.retrieve_queue(q.name, q.type) for q in picks))


async def test_sixty_reads_in_a_burst_beat_the_sustained_rate(observed: Observed) -> None:
    async with _client(observed) as client:
        queues = await client.list_queues()
        before = observed.requests
        started = time.monotonic()
        async with client.burst() as tally:
            answers = await _reads(client, queues, 60)
        elapsed = time.monotonic() - started
        assert len(answers) == 60
        assert elapsed < 10.0  # at 2 req/s (burst 4) the same reads need 28 s
        assert tally.requests == observed.requests - before == 60
        assert observed.peak == 8  # overlapping, but never more than the cap
        stats = client.stats()
        assert stats.ratelimit_limit == 750 and stats.ratelimit_remaining is not None
        assert stats.ratelimit_remaining > 375


async def test_a_low_server_bucket_makes_the_burst_pace(sim: Any, observed: Observed) -> None:
    clock = FakeTime()
    async with _client(observed, sleep=clock.sleep, clock=clock.monotonic, wall_clock=clock.time) as client:
        queues = await client.list_queues()
        sim.state.sim.bucket.tokens = 300.0  # another client of this environment has spent 60% of it
        await client.retrieve_queue(queues[0].name, queues[0].type)  # a background read sees the headers
        assert client.stats().ratelimit_remaining in (298, 299, 300)
        before, start = observed.requests, clock.now
        async with client.burst() as tally:
            await _reads(client, queues, 10)  # a 429 would raise RateLimited here
        assert tally.requests == observed.requests - before == 10
        # Paced by the sustained budget: 2 tokens left of the burst of 4, then 8 more at 2 req/s.
        assert clock.now - start == pytest.approx(4.0)


async def test_background_reads_outside_a_scope_stay_paced(observed: Observed) -> None:
    clock = FakeTime()
    async with _client(observed, sleep=clock.sleep, clock=clock.monotonic, wall_clock=clock.time) as client:
        queues = await client.list_queues()
        start = clock.now
        async with client.burst():
            pass
        await _reads(client, queues, 12)
        # 3 tokens left of the burst of 4, then 9 more at 2 req/s.
        assert clock.now - start == pytest.approx(4.5)
