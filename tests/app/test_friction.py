"""Friction: the filter line, help, the palette, sorting, the waitpoints order."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Input

from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines, screen_text
from tests.app.test_console_sim import sim_console
from tui.screens.command_line import CommandLine
from tui.screens.help import HelpScreen
from tui.screens.prompt import PromptScreen
from tui.screens.queues import QueuesScreen
from tui.screens.runs import RunsScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.widgets.table import FastTable


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


async def test_the_palette_opens_on_this_consoles_commands_and_finds_write() -> None:
    async with sim_console() as (app, pilot, _, _):
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        # The pane's own keys come first: the queues pane's sort opens the list.
        await wait_for(pilot, lambda: "Sort (s)" in screen_text(app))
        text = screen_text(app)
        for textual_own in ("Change theme", "Show keys", "Save screenshot", "Maximize"):
            assert textual_own not in text, textual_own
        await pilot.press(*"write")
        await wait_for(pilot, lambda: ":write" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))  # the reason for write mode
        assert "Write mode for 15 min" in screen_text(app)


async def test_a_palette_command_that_needs_an_argument_opens_the_command_line_with_it() -> None:
    async with sim_console() as (app, pilot, _, _):
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*":run ID")
        await wait_for(pilot, lambda: ":run ID" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLine))
        assert app.screen.query_one(Input).value == ":run "


async def test_help_lists_this_consoles_keys_grouped_by_pane_with_nothing_cut() -> None:
    async with sim_console(size=(100, 30)) as (app, pilot, _, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(FastTable)
        rows = [table.row(key).cells for key in table.keys]  # type: ignore[union-attr]
        keys = {str(cells[0]) for cells in rows}
        for internal in ("super+c", "shift+tab", "tab", "^c", "^q", "←", "→"):
            assert internal not in keys, internal
        wheres = [str(cells[2]) for cells in rows]
        groups = [where for index, where in enumerate(wheres) if index == 0 or wheres[index - 1] != where]
        assert len(groups) == len(set(groups)), groups  # each place is one block
        assert groups[0] == "runs pane"
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "runs pane" in text and "everywhere" in text and "runs pa…" not in text


async def test_waitpoints_sort_oldest_first_and_the_header_says_so() -> None:
    async with sim_console() as (app, pilot, engine, _):
        engine.advance(60)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen) and app.screen.table.row_count > 1)
        screen = app.screen
        assert isinstance(screen, WaitpointsScreen)
        created = [screen._tokens[key].created_at for key in screen.table.keys]
        assert created == sorted(created)  # oldest first
        assert "Age ▼" in screen_text(app)


async def test_the_queues_sort_column_is_marked_in_the_header() -> None:
    async with sim_console() as (app, pilot, _, _):
        assert "Health ▼" in screen_text(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: "Queue ▲" in screen_text(app))
        assert "Health ▼" not in screen_text(app)
        await pilot.press("S")
        await wait_for(pilot, lambda: "Queue ▼" in screen_text(app))


async def test_queue_marks_are_counted_once() -> None:
    async with sim_console() as (app, pilot, _, _):
        await pilot.press("space")
        await wait_for(pilot, lambda: "1 marked" in screen_text(app))
        assert screen_text(app).count("marked") == 1
