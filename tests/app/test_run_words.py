"""Words that fit the state: a run waiting for a worker is not "hung"; HUNG HERE only marks an EXECUTING run."""

from __future__ import annotations

from datetime import timedelta

from tests.app.harness import wait_for
from tests.app.screen_text import screen_text
from tests.app.test_console_sim import sim_console
from tui.model import RunStatus
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.run_summary import HungSpan, waiting_words


async def test_a_queued_run_is_waiting_for_a_worker_not_hung() -> None:
    async with sim_console() as (app, pilot, engine, _):
        engine.advance(35 * 60)
        queued = [run for run in engine.with_status("PENDING") if run.queue == "task/process-video"]
        assert queued, "the incident's paused queue holds QUEUED runs"
        app.open_run(queued[0].friendly)
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.detail is not None)
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "Waiting  for a worker for" in text
        assert "Hung in" not in text and "HUNG HERE" not in text and "● running" not in text


async def test_an_executing_run_still_shows_where_it_hangs() -> None:
    async with sim_console("entity-offline") as (app, pilot, engine, _):
        engine.advance(30 * 60)
        executing = engine.with_status("EXECUTING")
        app.open_run(executing[0].friendly)
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.detail is not None)
        await wait_for(pilot, lambda: "HUNG HERE" in screen_text(app), timeout=5)
        assert "Hung in" in screen_text(app)


def test_waiting_words_name_what_the_run_waits_for() -> None:
    age = timedelta(minutes=35)
    assert waiting_words(RunStatus.QUEUED, age, None) == "for a worker for 35 m"
    assert waiting_words(RunStatus.DEQUEUED, age, None) == "for a worker for 35 m"
    wait = HungSpan("wait.forToken()", timedelta(hours=2), hung=True, token_id="waitpoint_1")
    assert waiting_words(RunStatus.WAITING, age, wait) == "on wait.forToken() token waitpoint_1 for 2 h"
    assert waiting_words(RunStatus.EXECUTING, age, wait) is None
