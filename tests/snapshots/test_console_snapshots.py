"""SVG snapshots of each pane at 120x40 and 80x24, on the fake incident with a frozen clock."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.app.fakes import incident, settings
from tests.app.harness import make_app, wait_for
from tui.model import EnvironmentType

PANES = {"queues": "1", "runs": "2", "waitpoints": "3", "triage": "4"}
SIZES = [(120, 40), (80, 24)]


def loaded(pane: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(
            pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None
        )
        # Queue metrics arrive after the queue list; wait for them so the frame never races them.
        await wait_for(pilot, lambda: bool(app.session.metrics))
        await pilot.press(PANES[pane])
        await wait_for(
            pilot, lambda: app.current_mode == pane and app.session.pane(pane).updated_at is not None
        )
        if pane == "waitpoints":
            await wait_for(
                pilot,
                lambda: "run_wait" in str(app.screen.query_one("FastTable").row("waitpoint_approval000001")),
            )
        if pane in ("runs", "triage"):
            # The runs pane asks for a triage to judge its overdue runs; the frame waits for the answer.
            await wait_for(pilot, lambda: app.session.triaged is not None)
        # Triage fills its detail area a beat after its table; under load that beat is longer.
        await pilot.pause(0.6 if pane == "triage" else 0.2)
        # Polling keeps going; pausing it makes the frame deterministic.
        app.session.paused = True
        app.screen.update_bars()  # say so now, not at the next tick of the age counter
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", list(PANES))
def test_pane_snapshot(snap_compare: Any, pane: str, size: tuple[int, int]) -> None:
    app = make_app(incident(), settings(refresh=0.05))
    assert snap_compare(app, terminal_size=size, run_before=loaded(pane))


def test_production_profile_snapshot(snap_compare: Any) -> None:
    config = settings(profile="prod", env_type=EnvironmentType.PRODUCTION, env_label="production")
    assert snap_compare(make_app(incident(), config), terminal_size=(80, 24), run_before=loaded("runs"))


def test_help_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded("queues")(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(make_app(incident(), settings()), terminal_size=(100, 30), run_before=run_before)


def test_welcome_snapshot(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_TUI_CONFIG", "/home/operator/.config/platos-tui/config.toml")
    app = make_app(incident(), None, start_demo=lambda: settings(demo=True))
    app._settings = None
    assert snap_compare(app, terminal_size=(80, 24))
