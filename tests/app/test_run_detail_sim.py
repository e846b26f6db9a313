"""The run detail screen against the simulator over in-process ASGI: real client, real wire shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from textual.app import App
from textual.widgets import Static

from tests.app.harness import wait_for
from tui.api.client import EngineClient
from tui.config import Settings
from tui.model import WAIT_FOR_TOKEN, RunStatus, Trace
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.trace_tree import TraceTree, deepest_open_span, looks_like_tool_call

sim = pytest.importorskip("tui.sim.server")


class Host(App[None]):
    def __init__(self, screen: RunDetailScreen) -> None:
        super().__init__()
        self.detail = screen

    def on_mount(self) -> None:
        self.push_screen(self.detail)


def sim_client(scenario: str) -> tuple[EngineClient, Callable[[], datetime]]:
    """A client on an in-process simulator, and the simulator's (frozen, speed 0) clock."""
    app = sim.create_app(sim.SimOptions(scenario=scenario, speed=0, seed=1))
    client = EngineClient(
        "http://127.0.0.1",
        sim.DEFAULT_SECRET_KEY,
        budget_per_second=None,
        transport=httpx.ASGITransport(app=app),
    )
    return client, lambda: app.state.sim.engine.now


def settings() -> Settings:
    return Settings(profile="sim", url="http://127.0.0.1", secret_key="unused", refresh_seconds=0.2)


async def find_run(client: EngineClient, status: RunStatus, wanted: Callable[[Trace], bool]) -> str:
    page = await client.list_runs(statuses=[status], page_size=100)
    for run in page.items:
        if wanted(await client.run_trace(run.id)):
            return run.id
    raise AssertionError(f"no {status} run in the scenario has the wanted trace")


def text(screen: RunDetailScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _hangs_in_tool(trace: Trace) -> bool:
    span = deepest_open_span(trace)
    return span is not None and looks_like_tool_call(span)


def _waits_on_token(trace: Trace) -> bool:
    span = deepest_open_span(trace)
    return span is not None and span.message == WAIT_FOR_TOKEN


async def test_entity_offline_run_shows_the_hung_tool_call() -> None:
    client, clock = sim_client("entity-offline")
    try:
        run_id = await find_run(client, RunStatus.EXECUTING, _hangs_in_tool)
        screen = RunDetailScreen(client, settings(), run_id, clock=clock)
        async with Host(screen).run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: screen.polls > 0)
            assert "EXECUTING" in text(screen, "#title")
            summary = text(screen, "#summary")
            hung_words = "HUNG HERE" in summary  # "Hung in" only past the tool-call threshold, else "Now in"
            assert ("Hung in" if hung_words else "Now in") in summary and "● running" in summary
            tree = screen.query_one(TraceTree)
            trace = screen._data.trace
            assert trace is not None
            hung = deepest_open_span(trace)
            assert hung is not None
            await wait_for(pilot, lambda: (row := tree.row_for(hung.id)) is not None and row.entity is not None)
            row = tree.row_for(hung.id)
            assert row is not None and "● running" in row.plain and f"entity {row.entity}" in row.plain
            assert tree.cursor_node is tree.node_for(hung.id)
    finally:
        await client.aclose()


async def test_orphan_waitpoint_run_links_to_its_token() -> None:
    client, clock = sim_client("orphan-waitpoint")
    try:
        run_id = await find_run(client, RunStatus.WAITING, _waits_on_token)
        screen = RunDetailScreen(client, settings(), run_id, clock=clock)
        async with Host(screen).run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: screen.selected_token_id is not None)
            token_id = screen.selected_token_id
            assert token_id is not None and token_id.startswith("waitpoint_")
            await wait_for(pilot, lambda: "WAITING" in text(screen, "#token-panel"))
            assert token_id in text(screen, "#token-panel")
    finally:
        await client.aclose()


async def test_unknown_run_on_the_simulator_says_not_found() -> None:
    client, clock = sim_client("healthy")
    try:
        screen = RunDetailScreen(client, settings(), "run_doesnotexist0000000000", clock=clock)
        async with Host(screen).run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: screen.polls > 0 or "not found" in text(screen, "#summary"))
            await wait_for(pilot, lambda: "Run not found" in text(screen, "#summary"))
    finally:
        await client.aclose()
