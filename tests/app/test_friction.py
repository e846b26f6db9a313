"""Friction: the filter line, help, the palette, sorting, the waitpoints order."""

from __future__ import annotations

from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines
from tests.app.test_console_sim import sim_console
from tui.screens.queues import QueuesScreen


async def test_the_filter_line_shows_above_the_footer_with_a_live_match_count() -> None:
    async with sim_console(size=(100, 24)) as (app, pilot, _, _):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)
        await wait_for(pilot, lambda: "Command" in screen_lines(app)[-1])  # the footer is up
        await pilot.press("slash", *"agent")
        await wait_for(pilot, lambda: screen.table.filter == "agent")
        await pilot.pause(0.05)
        line = screen_lines(app)[-2]
        shown, total = screen.table.row_count, screen.table.total_count
        assert "/ agent" in line and f"{shown} of {total} match" in line, screen_lines(app)[-3:]
        assert "palette" in screen_lines(app)[-1]  # the footer stays, under the filter line
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", *"zzz")
        await wait_for(pilot, lambda: "0 of" in screen_lines(app)[-2])
