"""The run list's lagging replica (API.md §4.2): short pages with `next` set, just-changed runs missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sim_http import ADMIN, API

from tui.sim.server import SimOptions, create_app

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LAG = 5.0


@pytest.fixture
async def lagging() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(SimOptions(scenario="healthy", speed=0, seed=1, start=START, replica_lag=LAG))
    engine = app.state.engine
    created = [
        engine.create_run("send-email", created_at=engine.now - timedelta(minutes=30 - i), tags=["lag"], enqueue=False)
        for i in range(5)
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        yield http, (engine, created)


async def pages(http: httpx.AsyncClient, status: str) -> list[list[str]]:
    """Every page of `status` runs tagged `lag`, two at a time, following `next` to the end."""
    params = {"filter[tag]": "lag", "filter[status]": status, "page[size]": "2"}
    out: list[list[str]] = []
    while True:
        body = (await http.get("/api/v1/runs", headers=API, params=params)).json()
        out.append([run["id"] for run in body["data"]])
        if "next" not in body["pagination"]:
            return out
        params["page[after]"] = body["pagination"]["next"]


async def test_a_just_changed_run_leaves_a_short_page_and_is_missing_from_its_new_status(
    lagging: tuple[httpx.AsyncClient, Any],
) -> None:
    http, (engine, created) = lagging
    newest = created[-2:]
    for run in newest:
        engine.cancel(run)
    queued = await pages(http, "QUEUED")
    # The replica still holds the two newest as QUEUED: the first page is picked with them, then emptied.
    assert queued[0] == [] and len(queued) > 1
    assert sorted(i for page in queued for i in page) == sorted(r.friendly for r in created[:3])
    assert await pages(http, "CANCELED") == [[]]
    await http.post("/_sim/advance", json={"seconds": LAG + 1}, headers=ADMIN)
    assert sorted(i for page in await pages(http, "CANCELED") for i in page) == sorted(r.friendly for r in newest)
    assert all(len(page) == 2 for page in (await pages(http, "QUEUED"))[:-1])


async def test_a_just_triggered_run_is_not_listed_yet(lagging: tuple[httpx.AsyncClient, Any]) -> None:
    http, (engine, _) = lagging
    fresh = engine.create_run("send-email", tags=["lag"], enqueue=False)
    listed = [i for page in await pages(http, "QUEUED") for i in page]
    assert fresh.friendly not in listed and len(listed) == 5

