"""Pilot tests of the shell on the real client over the simulated incident: modes, keys, `:` commands, help,
palette, polling, errors, hostile text."""

from __future__ import annotations

from tests.app.console_sim import HOSTILE_NAMES, blank, incident, reads
from tests.app.harness import console, make_app, settings, wait_for, wait_for_text
from tests.app.screen_text import screen_lines, screen_text
from tests.simclient import QUICK_RETRY, seed_queue, seed_run, seed_token
from tui.api.guard import WriteGuard
from tui.model import EnvironmentType
from tui.screens.help import HelpScreen
from tui.screens.queues import QueuesScreen
from tui.screens.runs import RunsScreen
from tui.screens.triage import TriageScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.screens.welcome import WelcomeScreen
from tui.widgets.table import FastTable


async def test_number_keys_and_colon_commands_switch_panes() -> None:
    async with console() as (app, pilot, _):
        for key, kind in (
            ("2", RunsScreen),
            ("3", WaitpointsScreen),
            ("4", TriageScreen),
            ("1", QueuesScreen),
        ):
            await pilot.press(key)
            await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind))
        for command, kind in (
            (":runs", RunsScreen),
            (":waitpoints", WaitpointsScreen),
            (":triage", TriageScreen),
            (":queues", QueuesScreen),
        ):
            await pilot.press("colon", *command[1:], "enter")
            await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind))
        assert app.current_mode == "queues"


async def test_unknown_command_says_so_and_changes_nothing() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("colon", *"frobnicate now", "enter")
        await wait_for(
            pilot, lambda: any("Unknown command :frobnicate" in str(n.message) for n in app._notifications)
        )
        assert isinstance(app.screen, QueuesScreen)


async def test_queue_command_selects_that_queue() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("2")
        await pilot.press("colon", *"queue send-email", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await wait_for(pilot, lambda: app.screen.query_one(FastTable).cursor_key == "task/send-email")


async def test_run_command_and_enter_push_the_run_detail_and_esc_returns() -> None:
    async with console() as (app, pilot, w):
        await app.run_command(f":run {w.id('run_stuck')}")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen")
        assert getattr(app.screen, "run_id", None) == w.id("run_stuck")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await pilot.press("2")
        await wait_for_text(pilot, w.id("run_stuck"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen")


async def test_q_command_quits() -> None:
    async with console() as (app, pilot, _):
        await app.run_command(":q")
        await pilot.pause(0.05)
        assert app._exit or not app.is_running


async def test_help_is_generated_from_the_bindings() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(FastTable)
        cells = {cell for key in table.keys for cell in table.row(key).cells}  # type: ignore[union-attr]
        for expected in ("Sort", "Pause polling", "Copy id", "Filter", ":run ID", ":profile NAME", "Refresh"):
            assert expected in cells, expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))


async def test_keymap_from_settings_remaps_a_binding() -> None:
    async with console(config=settings(keymap=(("app.help", "h"),))) as (app, pilot, _):
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(FastTable)
        rows = [table.row(key).cells for key in table.keys]  # type: ignore[union-attr]
        assert ("h", "Help") in [(cells[0], cells[1]) for cells in rows]


async def test_palette_reaches_pane_actions() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"pause polling")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session is not None and app.session.paused)


async def test_polling_stops_while_a_pane_is_hidden() -> None:
    async with console(config=settings(refresh=0.1)) as (_app, pilot, w):
        await pilot.press("2")
        await wait_for(pilot, lambda: reads(w, "list_runs") >= 4)
        await pilot.press("3")
        await wait_for(pilot, lambda: reads(w, "list_tokens") >= 2)
        await pilot.pause(0.1)
        before = reads(w, "list_runs")
        queues_before = reads(w, "list_queues")
        await wait_for(pilot, lambda: reads(w, "list_tokens") >= 8)
        # The waitpoints pane lists WAITING/EXECUTING runs at most every 30 s for its blocked-run scan.
        assert reads(w, "list_runs") - before <= 1
        assert reads(w, "list_queues") == queues_before


async def test_a_poll_loop_woken_and_cancelled_in_one_tick_stops() -> None:
    # Python 3.11's asyncio.wait_for returns the result when its awaitable finished in the tick it was cancelled,
    # swallowing the cancellation: a hidden pane's loop then polled on for ever (and hung the suite's teardown).
    async with console() as (app, pilot, _w):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)

        def polling() -> bool:
            return any(w.group == "poll" and w.is_running for w in screen.workers)

        await wait_for(pilot, lambda: polling() and screen._polling_since is None)
        screen.refresh_now()  # sets the wake event the loop waits on …
        screen.workers.cancel_group(screen, "poll")  # … and cancels the loop before it runs again
        await wait_for(pilot, lambda: not polling(), timeout=2)


async def test_shift_p_pauses_all_polling_and_ctrl_r_still_refreshes() -> None:
    async with console(config=settings(refresh=0.1)) as (app, pilot, w):
        await pilot.press("P")
        await wait_for_text(pilot, "POLLING PAUSED")
        await pilot.pause(0.1)
        before = reads(w, "list_queues")
        await pilot.pause(0.4)
        assert reads(w, "list_queues") == before
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: reads(w, "list_queues") == before + 1)
        await pilot.press("P")
        await wait_for(pilot, lambda: reads(w, "list_queues") >= before + 3)
        assert "POLLING PAUSED" not in screen_text(app)


async def test_server_dies_stale_data_stays_then_recovers() -> None:
    w = incident()
    async with console(w, config=settings(refresh=0.2), retry=QUICK_RETRY) as (app, pilot, _):
        await wait_for_text(pilot, "agent-turn")
        w.sim.transport.down = True  # every request fails to connect: "connection refused"
        await wait_for_text(pilot, "DISCONNECTED")
        await wait_for_text(pilot, "STALE")
        text = screen_text(app)
        assert "agent-turn" in text and "STALLED" in text  # last good data kept
        await pilot.pause(0.3)
        warnings = [n for n in app._notifications if "connection refused" in str(n.message)]
        assert len(warnings) == 1  # said once, not every tick
        assert "Showing the last good data" in str(warnings[0].message)
        w.sim.transport.down = False
        await wait_for_text(pilot, "CONNECTED", timeout=10)
        await wait_for(pilot, lambda: "STALE" not in screen_text(app), timeout=10)
        assert any("fresh again" in str(n.message) for n in app._notifications)


async def test_error_before_first_data_is_explained_in_the_table() -> None:
    config = settings(secret_key="tr_dev_rotatedaway0000000000")  # a key the server no longer knows
    async with console(config=config, loaded=False) as (app, pilot, _):
        await wait_for_text(pilot, "No data yet: 401")
        assert "Invalid API key" in screen_text(app)
        assert "UNAUTHORIZED" in screen_lines(app)[0]
        said = " ".join(str(n.message) for n in app._notifications)
        assert "No data to show yet" in said and "last good data" not in said  # there is none


async def test_a_server_error_in_one_pane_keeps_the_others_working() -> None:
    w = incident()
    faults = w.sim.app.state.sim.faults
    async with console(w, config=settings(refresh=0.1), retry=QUICK_RETRY) as (app, pilot, _):
        await pilot.press("2")
        await wait_for_text(pilot, w.id("run_stuck"))
        faults.configure({"error_rate": 1.0, "error_status": 503})  # the server answers 503 to everything
        await wait_for(pilot, lambda: app.session.pane("runs").failures >= 3)  # type: ignore[union-attr]
        assert w.id("run_stuck") in screen_text(app)
        faults.configure({"error_rate": 0.0})
        await wait_for(pilot, lambda: app.session.pane("runs").failures == 0, timeout=10)  # type: ignore[union-attr]


async def test_hostile_server_strings_render_literally() -> None:
    w = blank()
    for name in HOSTILE_NAMES:
        seed_queue(w.engine, name)
        seed_run(w.engine, name, "QUEUED", created=1)
        seed_run(w.engine, name, minutes=1, tags=(name,))
    seed_token(w.engine, tags=("[bold]t[/]",), key="\x1b]52;c;ZXZpbA==\x07")
    async with console(w, size=(160, 40)) as (app, pilot, _):
        await wait_for_text(pilot, "[red]x[/]")
        text = screen_text(app)
        assert "[link=http://evil]click[/link]" in text
        assert "naïve-ünïcödé-日本語-🚀" in text
        assert "␛[31mred␛[0m" in text  # ESC shown as a visible symbol
        assert "\x1b" not in text
        assert "a" * 300 not in text and "aaaa…" in text  # cut, with the cut marked
        await pilot.press("2")
        await wait_for_text(pilot, "[red]x[/]")
        await pilot.press("3")
        await wait_for_text(pilot, "[bold]t[/]")
        assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)


async def test_production_and_demo_are_always_visible_in_the_top_bar() -> None:
    config = settings(profile="prod", env_type=EnvironmentType.PRODUCTION, env_label="production", demo=True)
    async with console(config=config, size=(80, 24)) as (app, pilot, _):
        top = screen_lines(app)[0]
        assert "PRODUCTION" in top and "DEMO" in top and "CONNECTED" in top and "READ-ONLY" in top
        await pilot.press("2")
        await wait_for(pilot, lambda: "PRODUCTION" in screen_lines(app)[0])


async def test_write_elevation_shows_time_left() -> None:
    guard = WriteGuard(read_only=True)
    guard.elevate(600, "incident 42")
    async with console(guard=guard) as (app, pilot, _):
        await wait_for(
            pilot, lambda: "WRITE 10 m left" in screen_lines(app)[0] or "WRITE 9 m" in screen_lines(app)[0]
        )


async def test_welcome_screen_starts_the_demo_with_one_key() -> None:
    started = []

    def start_demo():
        started.append(True)
        return settings(profile="demo", demo=True)

    app = make_app(incident(), config=None, start_demo=start_demo)
    app._settings = None
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        assert "TRIGGER_SECRET_KEY" in screen_text(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await wait_for_text(pilot, "DEMO")
        assert started == [True]


async def test_profile_switch_points_every_pane_at_the_new_client() -> None:
    first, second = incident(), blank()
    seed_queue(second.engine, "other-queue")
    seed_run(second.engine, "other-queue", "QUEUED", created=1)
    worlds = {"dev": first, "other": second}
    app = make_app(first, load_profile=lambda name: settings(profile=name))
    app._make_client = lambda s: worlds[s.profile].sim.client(read_only=True)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_text(pilot, "agent-turn")
        await app.run_command(":profile other")
        await wait_for_text(pilot, "other-queue")
        assert "agent-turn" not in screen_text(app)
        assert "other ·" in screen_lines(app)[0]
        assert first.sim.transport.closed
        await app.run_command(":profile")
        await wait_for(pilot, lambda: any("needs NAME" in str(n.message) for n in app._notifications))


async def test_palette_runs_colon_commands_too() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*":waitpoints")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen))
