"""STALE means polling fails, never that a dialog was open; the top bar is on every screen, dialogs included."""

from __future__ import annotations

import asyncio

from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines
from tests.app.test_console_sim import sim_console
from tui.screens.help import HelpScreen


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
