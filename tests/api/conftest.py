"""Fixtures for the API client tests: a fake server and clock, and clients wired to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from api_support import ADMIN, BASE, SECRET, FakeServer, FakeTime

from tui.api.client import EngineClient
from tui.api.guard import WriteGuard


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_client(server: FakeServer, clock: FakeTime) -> AsyncIterator[Callable[..., EngineClient]]:
    built: list[EngineClient] = []

    def build(**overrides: Any) -> EngineClient:
        options: dict[str, Any] = {
            "admin_token": ADMIN,
            "guard": WriteGuard(read_only=False),
            "budget_per_second": None,
            "transport": httpx.MockTransport(server.handle),
            "sleep": clock.sleep,
            "clock": clock.monotonic,
            "wall_clock": clock.time,
            "jitter": lambda: 0.5,
        }
        options.update(overrides)
        base = options.pop("base_url", BASE)
        secret = options.pop("secret_key", SECRET)
        engine = EngineClient(base, secret, **options)
        built.append(engine)
        return engine

    yield build
    for engine in built:
        await engine.aclose()


@pytest.fixture
def client(make_client: Callable[..., EngineClient]) -> EngineClient:
    return make_client()
