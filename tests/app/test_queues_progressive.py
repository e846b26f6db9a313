"""The queues pane draws the queue list page by page against a simulator of many queues (issue 13)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_lines
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings
from tui.screens.queues import QueuesScreen

server = pytest.importorskip("tui.sim.server")
START = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)


class Gate(httpx.AsyncBaseTransport):
    """ASGI to the simulator, holding queue-list pages past `open_to` until the test opens the gate further."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.open_to = 1
        self.moved = asyncio.Event()
        self.pages_read: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/queues":
            page = int(request.url.params.get("page", "1"))
            while page > self.open_to:
                self.moved.clear()
                await self.moved.wait()
            self.pages_read.append(page)
        return await self.inner.handle_async_request(request)

    def open(self, to_page: int) -> None:
        self.open_to = to_page
        self.moved.set()


@asynccontextmanager
async def many_queues(queues: int, paused: tuple[int, ...] = ()) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], Gate]]:
    """The console on a simulator of `queues` queues; `paused` are positions in the listing (by name) to pause."""
    sim_app = server.create_app(server.SimOptions(speed=0, seed=1, start=START, queues=queues, runs=200))
    engine = sim_app.state.sim.engine
    listed = sorted(engine.queues.values(), key=lambda queue: queue.name)
    for position in paused:
        engine.pause_queue(listed[position], True)
    gate = Gate(sim_app)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY, demo=True)

    def make_client(config: Settings) -> EngineClient:
        return EngineClient(
            config.url, config.secret_key, transport=gate, budget_per_second=None, guard=WriteGuard(read_only=True)
        )

    app = PlatosApp(settings, make_client=make_client, clock=lambda: engine.now)
    async with app.run_test(size=(120, 40)) as pilot:
        yield app, pilot, gate
        gate.open(10**6)  # let a poll in flight finish, so the app can close


def queues_pane(app: PlatosApp) -> QueuesScreen:
    screen = app.screen
    assert isinstance(screen, QueuesScreen)
    return screen


async def test_rows_appear_before_the_last_page_and_the_header_counts_the_pages() -> None:
    async with many_queues(1_000) as (app, pilot, gate):
        pane = queues_pane(app)
        await wait_for(pilot, lambda: pane.table.total_count == 100, timeout=10)
        assert gate.pages_read == [1]
        await wait_for(pilot, lambda: "page 1/10" in screen_lines(app)[1])
        gate.open(3)
        await wait_for(pilot, lambda: pane.table.total_count == 300)
        await wait_for(pilot, lambda: "page 3/10" in screen_lines(app)[1])
        gate.open(10)
        await wait_for(pilot, lambda: pane.table.total_count == 1_000, timeout=10)
        await wait_for_text(pilot, "1000 queues")
        assert "page" not in screen_lines(app)[1]


def healths(pane: QueuesScreen) -> list[str]:
    cells = [pane.table.row(key).cells[0] for key in pane.table.keys]  # type: ignore[union-attr]
    return [getattr(cell, "text", cell) for cell in cells]


async def test_problems_stay_first_as_pages_arrive() -> None:
    async with many_queues(1_000, paused=(150, 999)) as (app, pilot, gate):
        pane = queues_pane(app)
        gate.open(2)
        await wait_for(pilot, lambda: pane.table.total_count == 200, timeout=10)
        assert healths(pane)[0] == "PAUSED" and healths(pane).count("PAUSED") == 1
        gate.open(10)
        await wait_for(pilot, lambda: pane.table.total_count == 1_000, timeout=10)
        assert healths(pane)[:2] == ["PAUSED", "PAUSED"]  # the one on the last page sorted in first


async def test_a_refresh_keeps_every_row_while_it_rereads_the_pages() -> None:
    async with many_queues(500) as (app, pilot, gate):
        pane = queues_pane(app)
        gate.open(10**6)
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        assert pane.table.total_count == 500
        gate.open(1)  # the next refresh reads page 1, then waits for page 2
        read = len(gate.pages_read)
        pane.refresh_now()
        await wait_for(pilot, lambda: len(gate.pages_read) > read and "page 1/5" in screen_lines(app)[1])
        assert pane.table.total_count == 500  # the rows not re-read yet are still shown
