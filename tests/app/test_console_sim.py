"""The console against the simulator in-process (real EngineClient over ASGI), with the sim's frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.app.harness import polled, wait_for, wait_for_text
from tests.app.screen_text import screen_lines, screen_text
from tests.simclient import QUICK_RETRY
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings
from tui.screens.runs import RunsScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.widgets.table import FastTable

server = pytest.importorskip("tui.sim.server")
START = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)


class Switch(httpx.AsyncBaseTransport):
    """An ASGI transport that can be "unplugged": while down, every request fails to connect."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def sim_console(
    scenario: str = "incident", size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], Any, Switch]]:
    sim_app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=1, start=START))
    engine = sim_app.state.sim.engine
    transport = Switch(sim_app)
    settings = Settings(
        profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY, refresh_seconds=0.05, demo=True
    )

    def make_client(config: Settings) -> EngineClient:
        return EngineClient(
            config.url,
            config.secret_key,
            transport=transport,
            budget_per_second=None,
            guard=WriteGuard(read_only=True),
            retry=QUICK_RETRY,
        )

    app = PlatosApp(settings, make_client=make_client, clock=lambda: engine.now)
    async with app.run_test(size=size) as pilot:
        await wait_for(
            pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None, timeout=10
        )
        yield app, pilot, engine, transport


async def test_incident_queues_show_the_paused_queue_and_the_environment_line() -> None:
    async with sim_console() as (app, pilot, _, _):
        await wait_for_text(pilot, "PAUSED")
        text = screen_text(app)
        assert "process-video" in text
        assert "in use" in screen_lines(app)[1]
        assert "DEMO" in screen_lines(app)[0] and "CONNECTED" in screen_lines(app)[0]


async def test_incident_runs_pane_marks_stuck_runs_first() -> None:
    async with sim_console() as (app, pilot, engine, _):
        engine.advance(300)  # long enough for the DEQUEUED summarize runs to pass the 2 minute threshold
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for_text(pilot, "STUCK", timeout=10)
        table = app.screen.query_one(FastTable)
        first = table.row(table.keys[0])
        assert first is not None and getattr(first.cells[0], "text", "") == "STUCK"


async def test_enter_on_a_queue_scopes_the_runs_pane_to_it() -> None:
    async with sim_console() as (app, pilot, _, _):
        screen: Any = app.screen
        await wait_for(pilot, lambda: screen.select_queue("agent-turn") and screen.table.cursor_key is not None)
        assert screen.select_queue("agent-turn")
        await pilot.press("enter")
        await wait_for_text(pilot, "queue: agent-turn", timeout=10)
        await wait_for(pilot, lambda: app.screen.query_one(FastTable).total_count > 0, timeout=10)
        keys = app.screen.query_one(FastTable).keys
        runs_screen: Any = app.screen
        assert all(
            runs_screen._runs[key].task_identifier == "agent-turn" or runs_screen._runs[key].queue for key in keys
        )
        # Scoped to a queue the list reveals each run's queue: the column shows it. Unscoped it would be dashes.
        table = app.screen.query_one(FastTable)
        assert "queue" in table.visible_columns
        await wait_for(pilot, lambda: "task/agent-turn" in screen_text(app), timeout=10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "queue: agent-turn" not in screen_text(app), timeout=10)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.total_count > 0)
        assert "queue" not in app.screen.query_one(FastTable).visible_columns
        assert "Queue" not in screen_lines(app)[2]


async def test_waitpoints_pane_links_orphan_tokens_to_their_blocked_runs() -> None:
    async with sim_console() as (app, pilot, engine, _):
        engine.advance(60)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen))
        await wait_for_text(pilot, "WAITING", timeout=10)
        screen: Any = app.screen
        await wait_for(pilot, polled(screen, lambda: bool(screen._blocked)), timeout=20)
        token_id, run_id = next(iter(screen._blocked.items()))
        assert token_id.startswith("waitpoint_") and run_id.startswith("run_")


async def test_triage_pane_shows_the_paused_queue() -> None:
    async with sim_console() as (_, pilot, engine, _):
        engine.advance(300)
        await pilot.press("4")
        await wait_for_text(pilot, "process-video", timeout=10)  # the paused queue is a finding


async def test_server_dies_and_comes_back() -> None:
    async with sim_console() as (app, pilot, _, transport):
        await wait_for_text(pilot, "process-video")
        transport.down = True
        await wait_for(pilot, lambda: "DISCONNECTED" in screen_lines(app)[0], timeout=20)
        await wait_for(pilot, lambda: "STALE" in screen_lines(app)[0], timeout=20)
        assert "process-video" in screen_text(app)  # last good data kept on screen
        transport.down = False
        await wait_for(
            pilot,
            lambda: "CONNECTED" in screen_lines(app)[0] and "DISCONNECTED" not in screen_lines(app)[0],
            timeout=30,
        )
        await wait_for(pilot, lambda: "STALE" not in screen_lines(app)[0], timeout=30)
        assert "process-video" in screen_text(app)
