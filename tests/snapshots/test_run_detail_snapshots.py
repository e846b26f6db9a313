"""SVG snapshots of the run detail screen at 120x40 and 80x24, on the simulator with a frozen clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from textual import work
from textual.app import App
from textual.pilot import Pilot

from tests.app.detail_sim import DetailHost, detail_world, no_wait
from tui.api.client import EngineClient
from tui.config import Settings
from tui.model import RunStatus
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.trace_tree import deepest_open_span, looks_like_tool_call

SIM_START = datetime(2026, 8, 21, 18, 0, 0, tzinfo=UTC)


async def _loaded(pilot: Pilot[None]) -> None:
    deadline = time.monotonic() + 5
    while not (isinstance(pilot.app.screen, RunDetailScreen) and pilot.app.screen.polls > 0):
        assert time.monotonic() < deadline, "run detail never loaded"
        await pilot.pause(0.02)
    await pilot.pause(0.1)


def host(run: str, *, refresh: float = 0.05) -> DetailHost:
    """The run's detail on the real client over the detail world (seed 1, clock frozen)."""
    world = detail_world()
    client = world.sim.client(admin=False, sleep=no_wait)
    # The measured request rate depends on how fast this machine ran the reads: pin it for the picture.
    client._budget.measured_rate = lambda: 0.0  # type: ignore[method-assign]
    client._budget.measured_burst_rate = lambda: 0.0  # type: ignore[method-assign]
    return DetailHost(client, world.id(run), refresh=refresh)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_stuck_run_trace(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(host("run_stuck", refresh=30), terminal_size=size, run_before=_loaded)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_waiting_run_with_token_panel(snap_compare, size: tuple[int, int]) -> None:
    async def open_token(pilot: Pilot[None]) -> None:
        await _loaded(pilot)  # the run lists the token it waits on by itself
        await pilot.pause(0.2)

    assert snap_compare(host("run_wait", refresh=30), terminal_size=size, run_before=open_token)


def test_failed_run_output_tab_80x24(snap_compare) -> None:
    async def output_tab(pilot: Pilot[None]) -> None:
        await _loaded(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause(0.1)

    assert snap_compare(host("run_failed", refresh=30), terminal_size=(80, 24), run_before=output_tab)


class _SimHost(App[None]):
    """Finds the incident scenario's hung agent-turn run on an in-process simulator, then shows its detail."""

    def __init__(self) -> None:
        super().__init__()
        from tui.sim.server import DEFAULT_SECRET_KEY, SimOptions, create_app

        self.sim_app = create_app(SimOptions(scenario="incident", speed=0, seed=1, start=SIM_START))
        engine = self.sim_app.state.sim.engine
        self.client = EngineClient(
            "http://127.0.0.1",
            DEFAULT_SECRET_KEY,
            budget_per_second=None,
            transport=httpx.ASGITransport(app=self.sim_app),
            wall_clock=lambda: engine.now.timestamp(),  # the frozen simulator's time is the picture's: no skew
        )
        # The measured request rate depends on how fast this machine ran the reads: pin it for the picture.
        self.client._budget.measured_rate = lambda: 0.0  # type: ignore[method-assign]
        self.client._budget.measured_burst_rate = lambda: 0.0  # type: ignore[method-assign]

    def sim_now(self) -> datetime:
        now: datetime = self.sim_app.state.sim.engine.now
        return now

    def on_mount(self) -> None:
        self._open_hung_run()

    @work
    async def _open_hung_run(self) -> None:
        page = await self.client.list_runs(statuses=[RunStatus.EXECUTING], tasks=["agent-turn"], page_size=100)
        for run in sorted(page.items, key=lambda r: r.created_at):
            span = deepest_open_span(await self.client.run_trace(run.id))
            if span is not None and looks_like_tool_call(span):
                settings = Settings(profile="demo", url="http://127.0.0.1", secret_key="unused", refresh_seconds=30)
                self.push_screen(RunDetailScreen(self.client, settings, run.id, clock=self.sim_now))
                return
        raise AssertionError("the incident scenario has no hung agent-turn run")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_incident_hung_run_on_the_simulator(snap_compare, size: tuple[int, int]) -> None:
    pytest.importorskip("tui.sim.server")
    assert snap_compare(_SimHost(), terminal_size=size, run_before=_loaded)
