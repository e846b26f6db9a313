"""SVG snapshots of each pane at 120x40 and 80x24, on the simulated incident with its clock frozen."""

from __future__ import annotations

import time
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.app.console_sim import World, incident
from tests.app.harness import make_app, settings, wait_for
from tui.app import PlatosApp
from tui.model import EnvironmentType

PANES = {"queues": "1", "runs": "2", "waitpoints": "3", "triage": "4"}
SIZES = [(120, 40), (80, 24)]
QUIET = 10.0
"""The request rate is measured over the last 10 s: with polling paused that long, the bar says 0.0 req/s."""


class Monotonic:
    """The client's monotonic clock; `skip` moves it on as if polling had been paused for QUIET seconds."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self) -> None:
        self.skipped += QUIET


def app_on(world: World, config: Any, clock: Monotonic, **kwargs: Any) -> PlatosApp:
    return make_app(world, config, monotonic=clock, **kwargs)


def loaded(pane: str, world: World, clock: Monotonic) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(
            pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None
        )
        # Queue metrics arrive after the queue list; wait for them so the frame never races them.
        await wait_for(pilot, lambda: len(app.session.metrics) == len(world.engine.queues))
        await pilot.press(PANES[pane])
        await wait_for(
            pilot, lambda: app.current_mode == pane and app.session.pane(pane).updated_at is not None
        )
        if pane == "waitpoints":
            approval, blocked = world.id("waitpoint_approval"), world.id("run_wait")
            await wait_for(pilot, lambda: blocked in str(app.screen.query_one("FastTable").row(approval)))
        if pane in ("runs", "triage"):
            # The runs pane asks for a triage to judge its overdue runs; the frame waits for the answer.
            await wait_for(pilot, lambda: app.session.triaged is not None)
        # Triage fills its detail area a beat after its table; under load that beat is longer.
        await pilot.pause(0.6 if pane == "triage" else 0.2)
        # Polling keeps going; pausing it makes the frame deterministic.
        app.session.paused = True
        clock.skip()
        app.screen.update_bars()  # say so now, not at the next tick of the age counter
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", list(PANES))
def test_pane_snapshot(snap_compare: Any, pane: str, size: tuple[int, int]) -> None:
    world, clock = incident(), Monotonic()
    app = app_on(world, settings(refresh=0.2), clock)
    assert snap_compare(app, terminal_size=size, run_before=loaded(pane, world, clock))


def test_production_profile_snapshot(snap_compare: Any) -> None:
    world, clock = incident(), Monotonic()
    config = settings(refresh=0.2, profile="prod", env_type=EnvironmentType.PRODUCTION, env_label="production")
    app = app_on(world, config, clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded("runs", world, clock))


def test_help_snapshot(snap_compare: Any) -> None:
    world, clock = incident(), Monotonic()

    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded("queues", world, clock)(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    app = app_on(world, settings(), clock)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_welcome_snapshot(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_TUI_CONFIG", "/home/operator/.config/platos-tui/config.toml")
    app = app_on(incident(), None, Monotonic(), start_demo=lambda: settings(demo=True))
    app._settings = None
    assert snap_compare(app, terminal_size=(80, 24))
