"""Pilot tests of the run detail screen on the real client over the simulator."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from rich.style import Style
from textual.color import Color
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import OptionList, Static

from tests.app.detail_sim import NOW, DetailWorld, big_payload, detail_world, hosted
from tests.app.harness import wait_for
from tests.app.screen_text import screen_text as app_screen_text
from tui.screens.run_detail import RunDetailScreen
from tui.screens.span_inspector import SpanInspectorScreen
from tui.sim.seeding import at
from tui.widgets.format import duration
from tui.widgets.json_view import JsonView, prepare_json
from tui.widgets.trace_tree import TraceTree


def screen_text(pilot: Pilot[None]) -> str:
    return app_screen_text(pilot.app)


def static_text(screen: Screen[None], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def detail_screen(pilot: Pilot[None]) -> RunDetailScreen:
    screen = pilot.app.screen
    assert isinstance(screen, RunDetailScreen)
    return screen


async def loaded(pilot: Pilot[None]) -> RunDetailScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunDetailScreen) and pilot.app.screen.polls > 0)
    await pilot.pause(0.05)
    return detail_screen(pilot)


def calls(w: DetailWorld, part: str) -> int:
    """How many GETs the screen made whose path contains `part`."""
    return len(w.sim.transport.gets(part))


def run_reads(w: DetailWorld, run: str) -> int:
    return calls(w, f"/api/v3/runs/{w.id(run)}")


async def test_open_run_shows_status_timeline_queue_and_trace() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        assert "EXECUTING" in static_text(screen, "#title")
        summary = static_text(screen, "#summary")
        for words in (
            "created 08-21 17:55:00Z",
            "queued +0 s",
            "dequeued/started 18:00:00Z +5 m",
            "20 m so far",
        ):
            assert words in summary
        assert "task/sync-crm (likely)" in summary and "running 4/4  queued 37" in summary
        assert "20260821.3  LIVE" in summary and "Attempts 1" in summary
        assert "order-9921" in summary
        tree = screen.query_one(TraceTree)
        fetch = tree.row_for(w.id("s-fetch"))
        assert fetch is not None and "1.2 s" in fetch.plain and "@+5 m" in fetch.plain
        assert "LIVE" in static_text(screen, "#state-line")


async def test_open_spans_show_running_age_in_words_and_warning_colour() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        tree = screen.query_one(TraceTree)
        root, tool = tree.row_for(w.id("s-root")), tree.row_for(w.id("s-tool"))
        assert root is not None and root.state == "open" and "● running 25 m" in root.plain
        assert tool is not None and tool.state == "hung"
        assert "● running 14 m" in tool.plain and "HUNG HERE?" in tool.plain and "entity crm-backend" in tool.plain
        # the cursor starts on the span the run hangs in
        await wait_for(pilot, lambda: tree.cursor_node is tree.node_for(w.id("s-tool")))
        warning = Color.parse(app.theme_variables["warning"]).rich_color
        node = tree.node_for(w.id("s-root"))
        assert node is not None
        label = tree.render_label(node, Style(), Style())
        assert any(s.style.color == warning for s in label.spans if isinstance(s.style, Style))
        summary = static_text(screen, "#summary")
        assert "Hung in  tool.call crm.lookup  entity crm-backend  ● running 14 m  HUNG HERE?" in summary


async def test_young_open_span_is_not_called_hung() -> None:
    w = detail_world()
    root = w.spans["s-root"]
    root.children.clear()  # the trace now holds one call, started 30 s ago
    w.span("run_stuck", "tool.call quick", NOW - timedelta(seconds=30), parent=root, name="s-new")
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        row = screen.query_one(TraceTree).row_for(w.id("s-new"))
        assert row is not None and row.state == "open" and "deepest open" in row.plain
        assert "HUNG" not in row.plain


async def test_span_attributes_are_fetched_when_the_cursor_rests_on_a_span() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        polled = calls(w, "/spans/")  # only the open tool call, by the poll
        assert polled == 1
        await pilot.press("up")
        # Until the cursor has rested the panel says so; on a loaded machine the fetch may already be done.
        first = static_text(screen, "#span-info")
        assert "attributes not fetched" in first or '"order": 9921' in first
        await wait_for(pilot, lambda: '"order": 9921' in static_text(screen, "#span-info"))
        assert '"note": "[b]x[/b]"' in static_text(screen, "#span-info")
        assert calls(w, "/spans/") == polled + 1


async def test_wait_for_token_span_lists_its_token_and_enter_inspects_it() -> None:
    w = detail_world()
    token = w.id("waitpoint_abc123")
    async with hosted(w, "run_wait") as (app, _), app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        row = screen.query_one(TraceTree).row_for(w.id("s-wait"))
        assert row is not None and row.token_id == token and f"token {token}" in row.plain
        # a 9-minute wait is below the waitpoint threshold: open, not hung
        assert row.state == "open"
        assert screen.selected_token_id == token
        # the run lists the token it waits on without a key press
        await wait_for(pilot, lambda: "WAITING" in static_text(screen, "#token-panel"))
        panel = static_text(screen, "#token-panel")
        assert "Timeout none" in panel and "order:1" in panel and calls(w, "/waitpoints/tokens/") == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SpanInspectorScreen), timeout=10)
        inspector = app.screen
        assert isinstance(inspector, SpanInspectorScreen)
        await wait_for(pilot, lambda: "WAITING" in static_text(inspector, "#inspector-content"), timeout=10)
        assert token in static_text(inspector, "#inspector-content")
        assert calls(w, "/waitpoints/tokens/") == 1  # the inspector shows the token the run already looked up
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, timeout=10)
        await pilot.press("up")
        assert screen.selected_token_id is None


async def test_token_lookup_failure_is_reported_not_raised() -> None:
    w = detail_world()
    w.sim.transport.fail_reads["/waitpoints/tokens/"] = 500
    async with hosted(w, "run_wait") as (app, _), app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        await wait_for(pilot, lambda: "lookup failed" in static_text(screen, "#token-panel"))
        assert any("server 500" in n.message for n in app._notifications)


async def test_huge_payload_is_truncated_with_marker_and_stays_responsive() -> None:
    w = detail_world(big=True)
    # Each poll reads the 5 MB again: poll no faster than the test needs (one read), so none lands on the key.
    async with hosted(w, "run_big", refresh=30) as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("right_square_bracket")
        view = screen.query_one("#payload", JsonView)
        assert view.marker_text is not None
        assert re.fullmatch(r"… 5\.\d MB total, first 20 KB shown", view.marker_text)
        assert view.preview is not None and len(view.preview.text) <= 20_000
        started = time.perf_counter()
        await pilot.press("down")
        await pilot.pause()
        assert time.perf_counter() - started < 0.5
        assert view.marker_text in screen_text(pilot)


def test_prepare_json_does_not_format_the_whole_value() -> None:
    payload = big_payload(5.0)
    started = time.perf_counter()
    preview = prepare_json(payload)
    assert time.perf_counter() - started < 1.0
    assert preview.truncated and preview.total_bytes > 4_500_000 and preview.shown_bytes <= 20_000
    small = prepare_json({"a": [1, 2]})
    assert not small.truncated and small.marker is None and small.text == '{\n  "a": [\n    1,\n    2\n  ]\n}'


async def test_hostile_strings_render_literally() -> None:
    w = detail_world()
    async with hosted(w, "run_hostile") as (app, _), app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        text = screen_text(pilot)
        assert "[red]x[/] ␛[31mred␛[0m [link=http://evil]y[/link]" in text
        assert "\x1b" not in text
        await pilot.press("right_square_bracket")
        await pilot.pause(0.05)
        text = screen_text(pilot)
        assert '"text": "[red]x[/] \\u001b[31mred\\u001b[0m [link=http://evil]y[/link]"' in text
        assert "\u202e" not in text and "abc\ufffddef" in text


async def test_failed_run_shows_error_literally_in_output_tab() -> None:
    w = detail_world()
    async with hosted(w, "run_failed") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        assert "TypeError: boom ␛[2J[red]x[/]" in static_text(screen, "#summary")
        assert "no trace yet" in screen_text(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause(0.05)
        error = static_text(screen, "#run-error")
        assert error.startswith("TypeError: boom ␛[2J[red]x[/]") and "at x\nat y" in error


async def test_not_found_shows_message_and_stops_polling() -> None:
    w = detail_world()
    async with hosted(w, "run_nope") as (app, _), app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert "Run not found" in static_text(screen, "#summary")
        assert "NO DATA: run not found" in static_text(screen, "#state-line")
        await pilot.pause(0.2)
        assert run_reads(w, "run_nope") == 1 and not screen.polling


async def test_errors_keep_last_data_mark_stale_notify_once_and_recover() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        w.sim.transport.fail_reads[f"/api/v3/runs/{w.id('run_stuck')}"] = 503
        before = run_reads(w, "run_stuck")
        await wait_for(pilot, lambda: run_reads(w, "run_stuck") >= before + 4)
        # STALE once three refreshes' worth of time has gone by (reads retried within a poll come sooner).
        await wait_for(pilot, lambda: "STALE: server 503" in static_text(screen, "#state-line"))
        assert "EXECUTING" in static_text(screen, "#summary")
        assert screen.query_one(TraceTree).row_for(w.id("s-tool")) is not None
        assert sum("server 503" in n.message for n in app._notifications) == 1
        w.sim.transport.fail_reads.clear()
        await wait_for(pilot, lambda: "LIVE" in static_text(screen, "#state-line"))
        w.sim.transport.fail_reads["/trace"] = 502
        await wait_for(pilot, lambda: "trace: server 502" in static_text(screen, "#state-line"))
        assert screen.query_one(TraceTree).row_for(w.id("s-tool")) is not None


async def test_related_run_enter_opens_its_detail_and_esc_returns() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        first = await loaded(pilot)
        for _ in range(4):
            await pilot.press("right_square_bracket")
        options = first.query_one("#related", OptionList)
        assert options.option_count == 2  # parent (also root) and one child
        assert options.has_focus
        assert "parent/root" in str(options.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen is not first and detail_screen(pilot).polls > 0)
        assert detail_screen(pilot).run_id == w.id("run_parent")
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is first)


async def test_terminal_run_stops_polling_and_ctrl_r_reloads_once() -> None:
    w = detail_world()
    async with hosted(w, "run_done") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        await pilot.pause(0.3)
        assert run_reads(w, "run_done") == 1 and not screen.polling
        assert "FINAL" in static_text(screen, "#state-line")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: run_reads(w, "run_done") == 2)
        await pilot.pause(0.2)
        assert run_reads(w, "run_done") == 2


async def test_run_becoming_terminal_stops_polling() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        assert screen.polling
        w.sim.engine.cancel(w.runs["run_stuck"])  # someone else cancels it
        await wait_for(pilot, lambda: not screen.polling)
        count = run_reads(w, "run_stuck")
        await pilot.pause(0.2)
        assert run_reads(w, "run_stuck") == count
        assert "CANCELED" in static_text(screen, "#title")


async def test_global_pause_stops_polling_but_ctrl_r_still_refreshes() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _):
        app.polling_paused = True
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await loaded(pilot)
            await pilot.pause(0.3)
            assert run_reads(w, "run_stuck") == 1
            assert "PAUSED" in static_text(screen, "#state-line")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: run_reads(w, "run_stuck") == 2)
            app.polling_paused = False
            await wait_for(pilot, lambda: run_reads(w, "run_stuck") >= 4)
            assert "LIVE" in static_text(screen, "#state-line")


async def test_polling_pauses_while_hidden_and_resumes() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        await app.push_screen(Screen())
        await pilot.pause(0.1)
        hidden_count = run_reads(w, "run_stuck")
        await pilot.pause(0.3)
        assert run_reads(w, "run_stuck") == hidden_count and not screen.polling
        app.pop_screen()
        await wait_for(pilot, lambda: run_reads(w, "run_stuck") > hidden_count + 1)


async def test_trace_reconciles_by_span_id_and_keeps_the_cursor() -> None:
    w = detail_world()
    async with hosted(w, "run_stuck") as (app, _), app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        tree = screen.query_one(TraceTree)
        await pilot.press("up")
        assert tree.cursor_node is tree.node_for(w.id("s-fetch"))
        node_before = tree.node_for(w.id("s-fetch"))
        with at(w.sim.engine, NOW):  # the worker writes one more span
            w.span("run_stuck", "db.query", NOW, ms=5, name="s-extra")
        await wait_for(pilot, lambda: tree.node_for(w.id("s-extra")) is not None)
        assert tree.node_for(w.id("s-fetch")) is node_before and tree.cursor_node is node_before


def test_bindings_have_ids_and_the_screen_binds_its_own_action_keys() -> None:
    keys = {}
    for binding in RunDetailScreen.BINDINGS:
        assert not isinstance(binding, tuple) and binding.id
        keys.update(dict.fromkeys(binding.key.split(","), binding.action))
    assert {key: keys.get(key) for key in ("c", "r", "R", "d")} == {
        "c": "cancel",
        "r": "complete",
        "R": "replay",
        "d": "diagnose",
    }


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (0.25, "250 ms"),
        (4.2, "4.2 s"),
        (59, "59 s"),
        (125, "2 m"),
        (14 * 60 + 5, "14 m"),
        (3 * 3600 + 120, "3 h 2 m"),
        (50 * 3600, "2 d 2 h"),
    ],
)
def test_one_way_to_write_a_duration(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_whole_seconds_remembered_read_as_written_afresh() -> None:
    """The remembered texts of whole seconds (table ages, verdicts) agree with `duration` at every unit's edges,
    read twice (the second read comes from what was remembered) and past the bound that clears them."""
    from tui.diagnosis.fmt import dur
    from tui.model.duration import whole_duration
    from tui.widgets.format import short_duration

    edges = [-3, 0, 0.4, 9.99, 59.9, 60, 61, 3_599, 3_600, 3_661, 48 * 3_600 - 1, 48 * 3_600, 48 * 3_600 + 3_599, 1e8]
    spread = [i * 37 + (i % 4) / 4 for i in range(12_000)]  # quarters: exact in a float and in a timedelta
    for seconds in [*edges, *spread, *edges]:
        expected = duration(max(0, int(seconds)))
        assert whole_duration(seconds) == short_duration(seconds) == expected
        assert dur(timedelta(seconds=seconds)) == dur(seconds) == duration(seconds, fine=False) == expected


def test_timeline_of_a_queued_run_counts_the_wait_so_far() -> None:
    from tui.model import Run, RunDetail, RunStatus
    from tui.widgets.run_summary import QueueInfo, summary_content

    created = NOW - timedelta(minutes=7)
    tags = tuple(f"t{i}" for i in range(12))
    run = Run("run_q", RunStatus.QUEUED, "sync-crm", created, created, version="20260821.3", tags=tags)
    content = summary_content(
        RunDetail(run=run),
        NOW,
        queue=QueueInfo("task/sync-crm", likely=True),
        live_version="20260901.1",
        deployment_known=True,
        hung=None,
    )
    text = str(content)
    assert "created 08-21 18:13:00Z → queued +0 s → dequeued/started — 7 m so far → finished —" in text
    assert "NOT LIVE (live is 20260901.1)" in text
    assert "t7 (+4 more)" in text and "t8" not in text
