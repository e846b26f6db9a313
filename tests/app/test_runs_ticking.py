"""The runs pane's rows between polls: ages tick on their own, and a run crossing its window turns STUCK."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.actions_sim import Rig, rig
from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines
from tests.simclient import seed_run
from tui.screens.runs import RunsScreen


def cells(screen: RunsScreen, run_id: str) -> tuple[str, ...]:
    texts = screen.table.texts(run_id)  # as drawn now: the age is live
    assert texts is not None
    return texts


async def young_run_listed(r: Rig) -> tuple[RunsScreen, Any]:
    """A QUEUED run 30 s in its status, listed on the runs pane."""
    run = seed_run(r.engine, "send-email", "QUEUED", minutes=0.5, created=0.5)
    await r.pilot.press("2")
    await wait_for(
        r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and r.app.screen.table.row(run.friendly) is not None
    )
    screen = r.app.screen
    assert isinstance(screen, RunsScreen)
    return screen, run


async def test_an_age_ticks_each_second_and_the_window_crossing_marks_it_stuck() -> None:
    async with rig("blank") as r:
        engine: Any = r.engine
        window = r.app.session.settings.thresholds.dequeued_seconds  # type: ignore[union-attr]
        screen, run = await young_run_listed(r)
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


def shown(screen: RunsScreen) -> list[tuple[str, ...]]:
    return [(key, *(screen.table.texts(key) or ())) for key in screen.table.keys]


async def test_a_new_triage_re_judges_only_what_it_may_judge_differently_and_agrees_with_judging_all() -> None:
    async with rig("queue-paused") as r:
        engine: Any = r.engine
        session = r.app.session
        assert session is not None
        await r.pilot.press("2")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and r.app.screen.table.total_count > 30)
        screen = r.app.screen
        assert isinstance(screen, RunsScreen)
        session.paused = True
        await session.triage()
        screen.render_rows()
        before = shown(screen)
        # Someone resumes the paused queue: its flow changes, the rest of the world does not.
        engine.pause_queue(engine.queues["task/process-video"], False)
        engine.advance(1.0)
        judged: list[str] = []
        original = screen._row_for
        screen._row_for = lambda run, now, scope: (judged.append(run.id), original(run, now, scope))[1]  # type: ignore[method-assign]
        await session.triage()
        screen.render_rows()
        incremental = shown(screen)
        assert incremental != before
        assert 0 < len(judged) < len(incremental)  # … and was not a re-judging of every run
        screen._basis = (None, None)  # forget the last triage: every run judged anew
        screen.render_rows()
        assert shown(screen) == incremental


@pytest.mark.every_frame  # what the terminal still shows is the last frame drawn
async def test_ages_keep_ticking_on_screen_while_polling_is_paused() -> None:
    async with rig("blank") as r:
        engine: Any = r.engine
        _screen, run = await young_run_listed(r)
        await r.pilot.press("P")
        assert r.app.session is not None and r.app.session.paused
        engine.advance(5.0)
        line = next(line for line in screen_lines(r.app) if run.friendly in line)
        assert "30 s" in line  # the terminal still shows the age of the last poll …
        # … until the pane's 1 s ticker repaints the cell.
        await wait_for(r.pilot, lambda: "35 s" in next(ln for ln in screen_lines(r.app) if run.friendly in ln), 3)
