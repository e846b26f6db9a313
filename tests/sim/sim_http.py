"""Shared helpers for the simulator's API-fidelity tests: an in-process server with a frozen clock, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app

KEY = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
API = {**KEY, "x-trigger-api-version": "2025-07-16"}
ADMIN = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}
START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


async def open_client(scenario: str = "incident") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client bound to a fresh simulator (speed 0: the clock moves only through /_sim/advance)."""
    app = create_app(SimOptions(scenario=scenario, speed=0, seed=1, start=START))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data  # a streamed body carries no Content-Length


async def runs(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/runs", headers=API, params={"page[size]": "100", **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["data"]
    return items
