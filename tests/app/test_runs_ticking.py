"""The runs pane's rows between polls: ages tick on their own, and a run crossing its window turns STUCK."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Literal

import pytest

from tests.app.actions_sim import Rig, rig
from tests.app.harness import polled, wait_for
from tests.app.screen_text import screen_lines
from tests.simclient import seed_run
from tui.screens import runs as runs_module
from tui.screens.runs import RunsScreen
from tui.sim.state import Plan


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


def judged_anew(screen: RunsScreen) -> list[tuple[str, ...]]:
    """What the pane would show if it judged every run it holds from scratch now: each run's row, in order."""
    now = screen.session.clock()
    scope = screen._scope[0] if screen._scope else None
    fresh = [RunsScreen._row_for(screen, run, now, now.timestamp(), scope) for run in screen._runs.values()]
    fresh.sort(key=lambda entry: entry.order)
    return [(entry.row.key, *(screen.table._text(cell) for cell in entry.row.cells)) for entry in fresh]


async def triaged_pane(r: Rig, listed: int) -> RunsScreen:
    """The runs pane with more than `listed` runs, polling paused, its rows judged with a fresh triage."""
    session = r.app.session
    assert session is not None
    await r.pilot.press("2")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and r.app.screen.table.total_count > listed)
    screen = r.app.screen
    assert isinstance(screen, RunsScreen)
    session.paused = True
    await session.triage()
    screen.render_rows()
    return screen


async def test_a_new_triage_re_judges_only_what_it_may_judge_differently_and_agrees_with_judging_all() -> None:
    async with rig("queue-paused") as r:
        engine: Any = r.engine
        session = r.app.session
        assert session is not None
        screen = await triaged_pane(r, 30)
        before = shown(screen)
        # Someone resumes the paused queue: its flow changes, the rest of the world does not.
        engine.pause_queue(engine.queues["task/process-video"], False)
        engine.advance(1.0)
        judged: list[str] = []
        original = screen._row_for
        screen._row_for = lambda run, now, ts, scope: (judged.append(run.id), original(run, now, ts, scope))[1]  # type: ignore[method-assign]
        await session.triage()
        screen.render_rows()
        incremental = shown(screen)
        assert incremental != before
        assert 0 < len(judged) < len(incremental)  # … and was not a re-judging of every run
        assert incremental == judged_anew(screen)


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
        await wait_for(r.pilot, lambda: "35 s" in next(ln for ln in screen_lines(r.app) if run.friendly in ln), 6)


class CountingWake(asyncio.Event):
    """The pane's wake event, counting how often its poll loop waits on it."""

    waits = 0

    async def wait(self) -> Literal[True]:
        self.waits += 1
        return await super().wait()


async def test_a_paused_pane_sleeps_until_woken_and_resuming_polls_at_once() -> None:
    async with rig("blank") as r:
        screen, _run = await young_run_listed(r)
        session = r.app.session
        assert session is not None
        await r.pilot.press("P")
        wake = screen._wake = CountingWake()
        polls = screen._ticks
        await r.pilot.pause(1.0)
        assert wake.waits <= 1  # it waited once, not every 50 ms
        assert screen._ticks == polls
        await r.pilot.press("P")
        await wait_for(r.pilot, lambda: screen._ticks > polls, 3)


async def test_a_due_poll_starts_on_the_tick_and_its_redraw_stands_in_for_the_ticks() -> None:
    """One wake-up a second, not one for the tick and another for the poll: the frame a poll draws is the tick's."""
    async with rig("blank", refresh=2.0) as r:
        screen, _run = await young_run_listed(r)
        session = r.app.session
        assert session is not None
        await wait_for(r.pilot, lambda: screen._polling_since is None)
        drawn: list[int] = []
        original = screen.update_bars
        screen.update_bars = lambda: (drawn.append(1), original())[1]  # type: ignore[method-assign]

        def tick(since_poll: float, took: float = 0.0) -> tuple[bool, bool]:
            """Whether a tick this long after the last full poll's start woke the poll, and drew."""
            drawn.clear()
            screen._wake.clear()
            screen._last_full, screen._took = time.monotonic() - since_poll, took
            screen._tick()
            return screen._wake.is_set(), bool(drawn)

        assert screen._interval == 2.0
        assert tick(1.0) == (False, True)  # not due: the tick moves the bars and ages on
        assert tick(1.95) == (True, False)  # due (a tick may fire a little early): the poll draws for it
        assert tick(1.95, took=1.0) == (True, True)  # a slow poll's redraw would come late: the tick draws too
        session.paused = True
        assert tick(5.0) == (False, True)
        session.paused = False
        screen._interval = 0.5  # polls more often than ticks keep their own timer
        assert tick(5.0) == (False, True)
        screen._interval = 2.0
        polls = screen._ticks
        tick(5.0)
        await wait_for(r.pilot, lambda: screen._ticks > polls and bool(drawn), 3)  # the woken poll ran and drew


async def test_ages_tick_each_second_between_polls() -> None:
    """Polling every 30 s, the ages on screen still move each second (the pane's 1 s tick), not at the next poll."""
    async with rig("blank", refresh=30.0) as r:
        engine: Any = r.engine
        _screen, run = await young_run_listed(r)
        assert r.app.session is not None and not r.app.session.paused
        await r.pilot.pause(0.3)  # the first poll's frame is drawn
        engine.advance(3.0)
        await wait_for(r.pilot, lambda: "33 s" in next(ln for ln in screen_lines(r.app) if run.friendly in ln), 6)


@pytest.mark.parametrize("scenario", ["incident", "worker-crashed"])
async def test_as_the_clock_runs_the_rows_judged_again_agree_with_judging_all(scenario: str) -> None:
    """Between polls, only runs judged by their trace are judged again each minute (the rest at their window's
    crossing): at each step the pane shows exactly what judging every run anew shows."""
    async with rig(scenario) as r:
        engine: Any = r.engine
        screen = await triaged_pane(r, 20)
        judged: list[str] = []
        original = screen._row_for
        screen._row_for = lambda run, now, ts, scope: (judged.append(run.id), original(run, now, ts, scope))[1]  # type: ignore[method-assign]
        changes = 0
        for _ in range(16):
            engine.advance(45.0)
            before = shown(screen)
            judged.clear()
            screen.render_rows()
            incremental = shown(screen)
            changes += [row[1] for row in incremental] != [row[1] for row in before]
            assert len(judged) < len(incremental)  # not every run, every minute …
            assert incremental == judged_anew(screen)  # … and yet the rows every run judged anew would give
        assert changes  # a verdict did change on the way


async def test_a_run_whose_trace_goes_quiet_turns_stuck_between_polls() -> None:
    """Past its window but its trace moving: slow. No poll comes (paused); once the trace the triage read is older
    than the progress window, the same row reads STUCK, as judging it anew says."""
    async with rig("blank") as r:
        engine: Any = r.engine
        session = r.app.session
        assert session is not None
        progressing = Plan(duration=math.inf, step_seconds=30)
        run = seed_run(r.engine, "process-video", "EXECUTING", minutes=20, plan=progressing)
        engine.advance(60.0)  # a step span opens and closes: the trace moved a moment ago
        screen, _ = await young_run_listed(r)
        session.paused = True
        await session.triage()
        screen.render_rows()
        assert cells(screen, run.friendly)[0] == "slow"
        for _ in range(8):
            engine.advance(60.0)
            screen.render_rows()
            assert shown(screen) == judged_anew(screen)
        assert cells(screen, run.friendly)[0] == "STUCK"


async def test_a_calm_pane_looks_only_at_what_changed_and_asks_for_a_triage_once_a_run_is_overdue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No run overdue: a poll judges only the runs it stored anew (not every run held, every poll); the first
    run to cross its window by age alone, with nothing re-read, brings a triage."""
    async with rig("blank") as r:
        engine: Any = r.engine
        session = r.app.session
        assert session is not None
        for _ in range(30):
            seed_run(r.engine, "send-email", "QUEUED", minutes=0.5, created=0.5)
        screen, run = await young_run_listed(r)
        await wait_for(r.pilot, lambda: screen.table.total_count == 31)
        judged: list[str] = []
        original = runs_module.assess

        def counted(run: Any, *args: Any, **kwargs: Any) -> Any:
            judged.append(run.id)
            return original(run, *args, **kwargs)

        monkeypatch.setattr(runs_module, "assess", counted)
        polls = screen._ticks
        await wait_for(r.pilot, polled(screen, lambda: screen._ticks >= polls + 2))
        assert len(judged) < 31 and session.triaged is None  # nothing overdue: not every run judged again
        window = session.settings.thresholds.dequeued_seconds
        engine.advance(window)  # every run is now past its window, and none of them changed
        await wait_for(r.pilot, polled(screen, lambda: session.triaged is not None), timeout=10)
        assert cells(screen, run.friendly)[0] == "STUCK"


async def test_a_run_stays_while_any_page_lists_it_and_goes_when_none_does() -> None:
    """A run pushed off the newest page by newer runs is still on the stuck page: it stays. Cancelled, no page
    lists it: it goes (the pane counts which pages list each run instead of walking them all)."""
    async with rig("blank") as r:
        engine: Any = r.engine
        old = seed_run(r.engine, "process-video", "EXECUTING", minutes=5)
        screen, _ = await young_run_listed(r)
        await wait_for(r.pilot, lambda: screen.table.row(old.friendly) is not None)
        for _ in range(120):
            seed_run(r.engine, "send-email", "QUEUED", minutes=0.1, created=0.1)
        off_the_newest_page = lambda: screen._head is not None and old.friendly not in screen._head.ids  # noqa: E731
        await wait_for(r.pilot, polled(screen, off_the_newest_page))
        for _ in range(3):  # from the poll that pushed it off, poll after poll
            assert off_the_newest_page() and screen.table.row(old.friendly) is not None  # the stuck page lists it
            polls = screen._ticks
            await wait_for(r.pilot, polled(screen, lambda polls=polls: screen._ticks > polls))
        engine.cancel(old)
        await wait_for(r.pilot, polled(screen, lambda: screen.table.row(old.friendly) is None))
        assert old.friendly not in screen._runs


async def test_a_poll_draws_the_bars_once_and_an_answer_read_again_moves_nothing() -> None:
    """A poll draws the bars when it knows how it ended, not also halfway; a page whose answer did not change since
    the last read takes no run again, and one that changed takes its runs."""
    async with rig("blank") as r:
        screen, _run = await young_run_listed(r)
        session = r.app.session
        assert session is not None and screen._ticker is not None
        session.paused = True  # only a wake polls
        screen._ticker.pause()  # and only the poll draws
        await wait_for(r.pilot, lambda: screen._polling_since is None)
        drawn: list[int] = []
        taken: list[str] = []
        draw, take = screen.update_bars, screen.take
        screen.update_bars = lambda: (drawn.append(1), draw())[1]  # type: ignore[method-assign]
        screen.take = lambda run: (taken.append(run.id), take(run))[1]  # type: ignore[method-assign]

        async def poll() -> None:
            drawn.clear()
            taken.clear()
            polls = screen._ticks
            screen.refresh_now()
            await wait_for(r.pilot, lambda: screen._ticks > polls and screen._polling_since is None)

        await poll()
        await poll()
        assert (drawn, taken) == ([1], [])
        new = seed_run(r.engine, "send-email", "QUEUED", minutes=0.1, created=0.1)
        await poll()
        assert drawn == [1] and new.friendly in taken
        assert screen.table.row(new.friendly) is not None
