"""Real-server conditions in the console, over the simulator: preview branches, restricted keys, a lagging list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
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
from tui.model import ACTIVE_STATUSES, EnvironmentType
from tui.screens.runs import RunsScreen
from tui.widgets.table import FastTable

server = pytest.importorskip("tui.sim.server")
START = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
PREVIEW_KEY = "tr_preview_pl4tosprev1ewbranchkey1"


@asynccontextmanager
async def console(settings: Settings, sim: server.SimOptions) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], Any]]:
    sim_app = server.create_app(sim)
    engine = sim_app.state.sim.engine
    transport = httpx.ASGITransport(app=sim_app)

    def build(config: Settings) -> EngineClient:
        return EngineClient(
            config.url,
            config.secret_key,
            transport=transport,
            budget_per_second=None,
            guard=WriteGuard(read_only=True),
            branch=config.branch,
        )

    app = PlatosApp(settings, make_client=build, clock=lambda: engine.now)
    async with app.run_test(size=(160, 30)) as pilot:
        yield app, pilot, sim_app


def preview(branch: str | None) -> tuple[Settings, server.SimOptions]:
    settings = Settings(
        profile="pr",
        url="http://127.0.0.1",
        secret_key=PREVIEW_KEY,
        env_type=EnvironmentType.PREVIEW,
        env_label="preview",
        refresh_seconds=0.05,
        branch=branch,
    )
    return settings, server.SimOptions(scenario="healthy", speed=0, seed=1, start=START, secret_key=PREVIEW_KEY)


async def test_a_preview_key_with_its_branch_works_and_shows_the_branch() -> None:
    async with console(*preview("feature-x")) as (app, pilot, _):
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        top = screen_lines(app)[0]
        assert "branch feature-x" in top and "CONNECTED" in top


async def test_a_preview_key_without_a_branch_says_how_to_set_one() -> None:
    async with console(*preview(None)) as (app, pilot, _):
        await wait_for(pilot, lambda: "UNAUTHORIZED" in screen_lines(app)[0])
        assert "no branch: set PLATOS_BRANCH" in screen_lines(app)[0]
        assert app.session is not None
        assert "PLATOS_BRANCH" in (app.session.client.stats().last_error or "")


async def test_a_scoped_key_refused_the_token_routes_leaves_the_rest_working() -> None:
    sim = server.SimOptions(scenario="incident", speed=0, seed=1, start=START)
    scoped = server.Sim(sim).scoped_key
    settings = Settings(profile="scoped", url="http://127.0.0.1", secret_key=scoped, refresh_seconds=0.05)
    async with console(settings, sim) as (app, pilot, _):
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        await pilot.press("3")
        await wait_for_text(pilot, "this key cannot read waitpoint tokens")
        assert "CONNECTED" in screen_lines(app)[0] and "UNAUTHORIZED" not in screen_lines(app)[0]
        await pilot.press("2")
        assert app.session is not None
        await wait_for(pilot, lambda: app.session.pane("runs").updated_at is not None)  # type: ignore[union-attr]
        assert app.session.pane("runs").error is None


async def test_the_runs_pane_reads_past_a_page_the_replica_emptied() -> None:
    sim = server.SimOptions(scenario="healthy", speed=0, seed=1, start=START, replica_lag=30)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY)
    async with console(settings, sim) as (app, pilot, sim_app):
        engine = sim_app.state.engine
        for i in range(120):  # older than the lag, so the replica has them
            engine.create_run("send-email", created_at=START - timedelta(hours=1, seconds=i), enqueue=False)
        listing = EngineClient(
            "http://127.0.0.1", server.DEFAULT_SECRET_KEY, transport=httpx.ASGITransport(app=sim_app)
        )
        first = await listing.list_runs(statuses=ACTIVE_STATUSES, page_size=100)
        second = await listing.list_runs(statuses=ACTIVE_STATUSES, page_size=100, after=first.next)
        await listing.aclose()
        for run in first.items:
            engine.cancel(engine.runs[run.id.removeprefix("run_")])  # the replica still calls them active
        target = second.items[0].id
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.row_count > 0)
        assert target in app.screen.query_one(FastTable).keys


async def test_the_top_bar_says_when_the_server_clock_is_off_and_ages_follow_it() -> None:
    sim = server.SimOptions(scenario="healthy", speed=0, seed=1, clock_skew=-1200)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY)
    sim_app = server.create_app(sim)
    client = EngineClient(
        "http://127.0.0.1", settings.secret_key, transport=httpx.ASGITransport(app=sim_app), budget_per_second=None
    )
    app = PlatosApp(settings, make_client=lambda _: client)  # no fixed clock: the session follows the server's
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: "server clock −20 m" in screen_lines(app)[0])
        assert app.session is not None
        drift = (app.session.clock() - sim_app.state.engine.now).total_seconds()
        assert abs(drift) < 5, drift
