"""STALE means polling fails, never that a dialog was open; the top bar is on every screen, dialogs included."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from textual.app import App, ComposeResult
from textual.geometry import Region

from tests.app.actions_sim import rig
from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines, screen_text
from tests.app.test_console_sim import sim_console
from tui.screens.confirm import ConfirmScreen
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.help import HelpScreen
from tui.screens.run_detail import RunDetailScreen
from tui.screens.runs import RunsScreen
from tui.screens.session import PaneStatus
from tui.widgets.topbar import TopBar, TopBarState


async def test_a_modal_keeps_the_pane_polling_and_never_makes_it_stale() -> None:
    async with sim_console() as (app, pilot, _, _):
        assert app.session is not None
        status = app.session.pane("queues")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        before = status.succeeded_at
        await asyncio.sleep(0.6)  # twelve refresh intervals of 0.05 s
        await pilot.pause(0.05)
        assert status.succeeded_at is not None and before is not None and status.succeeded_at > before
        top = screen_lines(app)[0]
        assert "CONNECTED" in top and "sim" in top and "READ-ONLY" in top and "STALE" not in top
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)
        assert "STALE" not in screen_lines(app)[0]


async def test_the_server_dying_under_a_modal_shows_stale_in_the_modals_top_bar() -> None:
    async with sim_console() as (app, pilot, _, transport):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        transport.down = True
        await wait_for(pilot, lambda: "STALE" in screen_lines(app)[0], timeout=5)
        assert isinstance(app.screen, HelpScreen)
        transport.down = False
        await wait_for(pilot, lambda: "STALE" not in screen_lines(app)[0], timeout=5)


async def test_run_detail_and_diagnosis_carry_the_top_bar() -> None:
    async with sim_console() as (app, pilot, _, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.selected_run() is not None)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.detail is not None)
        await wait_for(pilot, lambda: "updated" in screen_lines(app)[0])
        top = screen_lines(app)[0]
        assert "sim" in top and "development" in top and "CONNECTED" in top and "READ-ONLY" in top
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiagnosisScreen))
        await wait_for(pilot, lambda: "CONNECTED" in screen_lines(app)[0] and "READ-ONLY" in screen_lines(app)[0])


async def test_production_is_named_in_red_words_on_a_dialog() -> None:
    async with rig("entity-offline", production=True) as r:
        await r.pilot.press("2")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen))
        screen = r.app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(r.pilot, lambda: screen.selected_run() is not None)
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.pause(0.1)
        assert "PRODUCTION" in screen_lines(r.app)[0] and "prod" in screen_lines(r.app)[0]


async def test_an_empty_filtered_table_says_which_filter_emptied_it() -> None:
    async with sim_console() as (app, pilot, _, _):
        await pilot.press("slash", *"zzzz")
        await wait_for(pilot, lambda: "no queue matches `zzzz` (esc clears the filter)" in screen_text(app))
        assert "No queues in this environment" not in screen_text(app)
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: "no queue matches" not in screen_text(app) and "PAUSED" in screen_text(app))
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.row_count > 0)
        await pilot.press("slash", *"!run_", "enter")
        await wait_for(pilot, lambda: "no run matches `!run_` (esc clears the filter)" in screen_text(app))


def test_stale_means_old_because_polling_fails() -> None:
    status = PaneStatus()
    status.succeeded(datetime(2026, 1, 1, tzinfo=UTC), at=100.0)
    assert not status.stale(2.0, at=130.0)  # old, but nobody tried: paused or hidden, not stale
    assert status.stale(2.0, at=130.0, trying=True)  # a poll has been retrying against a dead server
    status.failed("connection refused")
    assert not status.stale(2.0, at=105.0)  # failed, but the data is younger than three intervals
    assert status.stale(2.0, at=106.5)
    status.succeeded(datetime(2026, 1, 1, tzinfo=UTC), at=107.0)
    assert not status.stale(2.0, at=130.0)


async def test_the_top_bar_repaints_only_the_cells_that_read_differently() -> None:
    class BarApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TopBar()

    app = BarApp()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(TopBar)
        state = TopBarState(
            profile="p", environment="e", connection="CONNECTED", freshness="updated 1 s ago", access="READ-ONLY"
        )
        bar.state = state
        await pilot.pause()
        painted: list[Region] = []
        original = bar.refresh

        def refresh(*regions: Region, **kwargs: bool) -> TopBar:
            painted.extend(regions)
            return original(*regions, **kwargs)

        bar.refresh = refresh  # type: ignore[method-assign,assignment]
        bar.state = replace(state, freshness="updated 2 s ago")
        assert [(r.width, r.height) for r in painted] == [(1, 1)]  # the one digit
        painted.clear()
        bar.state = replace(state, freshness="updated 12 s ago")  # longer: what follows moves along
        assert painted and painted[0].right == bar.size.width
        painted.clear()
        bar.state = replace(state, freshness="updated 12 s ago", stale=True)
        assert painted  # a tone that changes repaints too
        await pilot.pause()
        line = "".join(s.text for s in app.screen._compositor.render_strips()[:1])
        assert "STALE updated 12 s ago" in line
