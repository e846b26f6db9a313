"""An in-process simulator with a frozen clock, for the simulator's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tui.sim.engine import Engine
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app

START = datetime(2026, 8, 21, 18, 0, tzinfo=UTC)
V2 = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}", "x-trigger-api-version": "2025-07-16"}
V1 = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
ADMIN_HEADERS = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}


class Client:
    """HTTP over ASGI to one simulator, plus direct access to its engine."""

    def __init__(self, scenario: str) -> None:
        self.app = create_app(SimOptions(scenario=scenario, speed=0, seed=1, start=START))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    async def get(self, path: str, *, headers: dict[str, str] = V2, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=headers)

    async def post(self, path: str, body: Any = None, *, headers: dict[str, str] = V2) -> httpx.Response:
        return await self.http.post(path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = await (self.post(path, body) if method == "POST" else self.get(path, **params))
        assert response.status_code in (200, 202), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def advance(self, seconds: float) -> None:
        response = await self.post("/_sim/advance", {"seconds": seconds}, headers=ADMIN_HEADERS)
        assert response.status_code == 200, response.text


@pytest.fixture
async def client(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    simulator = Client(getattr(request, "param", "incident"))
    yield simulator
    await simulator.http.aclose()
