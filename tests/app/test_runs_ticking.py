"""The runs pane's rows between polls: ages tick on their own, and a run crossing its window turns STUCK."""

from __future__ import annotations

from typing import Any

from tests.app.actions_sim import rig
from tests.app.harness import wait_for
from tests.simclient import seed_run
from tui.screens.runs import RunsScreen


def cells(screen: RunsScreen, run_id: str) -> tuple[str, ...]:
    texts = screen.table.texts(run_id)  # as drawn now: the age is live
    assert texts is not None
    return texts


async def test_an_age_ticks_each_second_and_the_window_crossing_marks_it_stuck() -> None:
    async with rig("blank") as r:
        engine: Any = r.engine
        window = r.app.session.settings.thresholds.dequeued_seconds  # type: ignore[union-attr]
        run = seed_run(engine, "send-email", "QUEUED", minutes=0.5, created=0.5)
        await r.pilot.press("2")
        await wait_for(
            r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and r.app.screen.table.row(run.friendly) is not None
        )
        screen = r.app.screen
        assert isinstance(screen, RunsScreen)
        assert r.app.session is not None
        r.app.session.paused = True  # no polls: only the clock moves
        assert cells(screen, run.friendly)[4] == "30 s"
        for second in range(1, 4):
            engine.advance(1.0)
            screen.render_rows()
            assert cells(screen, run.friendly)[4] == f"{30 + second} s"
            assert cells(screen, run.friendly)[0] == ""
        engine.advance(window - 33 + 1)
        screen.render_rows()
        assert cells(screen, run.friendly)[0] == "STUCK"
        assert screen.table.keys[0] == run.friendly
