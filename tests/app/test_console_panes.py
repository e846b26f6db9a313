"""Pilot tests of the four panes on the real client over the simulated incident: what an operator sees and what
each key does."""

from __future__ import annotations

from datetime import timedelta

from tests.app.console_sim import blank, incident, reads, run_lists
from tests.app.harness import console, settings, wait_for, wait_for_text
from tests.app.screen_text import screen_lines, screen_text
from tests.simclient import seed_queue, seed_run, seed_token
from tui.screens.queues import QueuesScreen
from tui.screens.runs import RunsScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.widgets.format import seconds_until_change, short_duration
from tui.widgets.table import FastTable


def table_column(app: object, column: int) -> list[str]:
    table = app.screen.query_one(FastTable)  # type: ignore[attr-defined]
    rows = [table.row(key) for key in table.keys]
    return [c.text if hasattr(c, "text") else c for r in rows if r for c in [r.cells[column]]]


def row_text(app: object, key: str) -> str:
    return str(app.screen.query_one(FastTable).row(key))  # type: ignore[attr-defined]


def table_keys(app: object) -> list[str]:
    return list(app.screen.query_one(FastTable).keys)  # type: ignore[attr-defined]


async def test_queues_show_verdicts_in_words_problems_first() -> None:
    async with console() as (app, pilot, _w):
        await wait_for(pilot, lambda: "STALLED" in screen_text(app) and "AT CAP" in screen_text(app))
        verdicts = table_column(app, 0)
        assert verdicts[:3] == ["PAUSED", "STALLED", "AT CAP"]
        assert set(verdicts[3:]) == {"ACTIVE", "IDLE"}
        text = screen_text(app)
        assert "env 6/50 in use" in text  # run_stuck, send-email's three, shared-crm's two
        assert "3/3" in text  # running / limit of the queue at cap
        # The depth sparkline of the stalled queue: empty, then its two runs arriving 10 m and 3 m ago.
        assert "▁▁▁▁▅▅▅▅▅███" in row_text(app, "task/agent-turn")


async def test_queue_override_is_marked_and_metrics_only_for_rows_on_screen() -> None:
    w = blank()
    e = w.engine
    for i in range(200):
        queue = seed_queue(e, f"q{i:03d}")
        for _ in range(i % 3):
            seed_run(e, queue.name, "QUEUED", created=1)
    first = e.queues["task/q000"]
    for _ in range(3):
        seed_run(e, "q000", minutes=1)
    e.override(first, 4, None)
    async with console(w, size=(100, 20)) as (_app, pilot, _):
        await wait_for(pilot, lambda: reads(w, "queue_metrics") > 0)
        await pilot.pause(0.3)
        # 20 lines minus the bars, header and footer leave about 15 rows: never all 200.
        assert reads(w, "queue_metrics") <= 20
        await pilot.press("s", "g")  # sort by name, then to the top, where q000 is
        await wait_for_text(pilot, "3/4*")


async def test_sort_cycles_columns_and_reverses() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("s")
        await wait_for_text(pilot, "sort: name")
        names = table_column(app, 1)
        assert names == sorted(names)
        await pilot.press("S")
        await wait_for_text(pilot, "sort: name ▲")
        assert table_column(app, 1) == sorted(names, reverse=True)


async def test_enter_on_queue_opens_runs_scoped_to_it_and_esc_returns() -> None:
    async with console() as (app, pilot, w):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)
        assert screen.select_queue("agent-turn")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for_text(pilot, "queue: agent-turn")
        await wait_for(pilot, lambda: w.id("run_stuck") in table_keys(app))
        assert any(c.get("filter[queue]") == "task/agent-turn" for c in run_lists(w))  # the server filters
        assert "send-email" not in screen_text(app)
        assert set(table_column(app, 2)) == {"agent-turn"}
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))
        assert app.session is not None and app.session.run_queue is None


async def test_runs_mark_stuck_in_words_and_sort_them_first() -> None:
    async with console() as (app, pilot, w):
        await pilot.press("2")
        await wait_for(pilot, lambda: w.id("run_stuck") in table_keys(app))
        await wait_for(pilot, lambda: table_column(app, 0)[:4] == ["STUCK"] * 4)
        flags = table_column(app, 0)
        ids = table_column(app, 1)
        # The QUEUED runs of the stalled queue waited 10 m and 3 m, past their 2 m window: stuck too.
        assert ids[:4] == [w.id(n) for n in ("run_stuck", "run_backlog", "run_deq", "run_queued")]  # longest first
        assert "" in flags[4:] and "STUCK" not in flags[4:]
        assert "4 STUCK" in screen_lines(app)[1]


async def test_runs_ask_for_stuck_candidates_directly_and_page_on_scroll() -> None:
    w = incident()
    # 250 runs newer than the incident's: page one holds only these, so stuck runs need their own query.
    for i in range(250):
        seed_run(w.engine, "bulk-import", "QUEUED", created=0.45 - i / 1000)
    async with console(w, size=(120, 30)) as (app, pilot, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: len(run_lists(w)) >= 6)
        stuck_calls = [c for c in run_lists(w) if "filter[createdAt][to]" in c]
        assert stuck_calls, "no direct query for stuck candidates"
        # The pane's own query by age (a triage it asked for lists QUEUED runs by age too).
        stuck_calls = [c for c in stuck_calls if c.get("filter[status]") == "DEQUEUED,EXECUTING,WAITING"]
        assert stuck_calls, "the pane never asked for DEQUEUED, EXECUTING and WAITING runs by age"
        window = timedelta(seconds=app.session.settings.thresholds.dequeued_seconds)  # type: ignore[union-attr]
        assert stuck_calls[-1]["filter[createdAt][to]"] == str(int((w.sim.now - window).timestamp() * 1000))
        head = [  # the pane's own first page (a triage lists a queue's QUEUED runs whole: filtered by queue)
            c for c in run_lists(w)
            if "QUEUED" in c.get("filter[status]", "").split(",")
            and "filter[createdAt][to]" not in c and "filter[queue]" not in c
        ]
        assert head and all("page[after]" not in c for c in head), "read a second page nobody scrolled to"
        table = app.screen.query_one(FastTable)
        await wait_for(pilot, lambda: table.keys[0] == w.id("run_stuck"))
        assert 100 < table.total_count < 110  # page one plus the stuck candidates older than it
        await pilot.press("G")
        await wait_for(pilot, lambda: any("page[after]" in c for c in run_lists(w)))
        await wait_for(pilot, lambda: table.total_count > 150)


async def test_runs_status_set_and_window_switch() -> None:
    async with console() as (app, pilot, w):
        await pilot.press("2")
        await wait_for_text(pilot, "statuses: active")
        await wait_for(pilot, lambda: w.id("run_wait") in table_keys(app))
        await pilot.press("f")
        await wait_for_text(pilot, "statuses: dequeued+executing")
        await wait_for(pilot, lambda: run_lists(w)[-1].get("filter[status]") == "DEQUEUED,EXECUTING")
        await wait_for(pilot, lambda: w.id("run_wait") not in table_keys(app))
        assert w.id("run_wait") not in screen_text(app)
        await pilot.press("w")
        await wait_for_text(pilot, "window: 1h")
        await wait_for(pilot, lambda: any(c.get("filter[createdAt][period]") == "1h" for c in run_lists(w)))


async def test_waitpoints_default_to_waiting_and_name_the_blocked_run() -> None:
    # The pane reads a few traces of WAITING/EXECUTING runs per poll until it finds the blocked run: poll quickly.
    async with console(config=settings(refresh=0.2)) as (app, pilot, w):
        approval, done = w.id("waitpoint_approval"), w.id("waitpoint_done")
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen))
        await wait_for(pilot, lambda: approval in table_keys(app))
        await wait_for(pilot, lambda: w.id("run_wait") in row_text(app, approval))
        assert done not in table_keys(app)  # COMPLETED is not shown by default
        text = screen_text(app)
        assert "refund-42" in text and "in 10 m" in text and "none" in text
        screen = app.screen
        assert isinstance(screen, WaitpointsScreen)
        assert screen.table.move_to(approval)
        await pilot.press("u")
        assert app.clipboard.startswith(f"http://127.0.0.1/api/v1/waitpoints/tokens/{approval}/callback/")
        await pilot.press("y")
        assert app.clipboard == approval
        await pilot.press("f")
        await wait_for_text(pilot, "status: COMPLETED")
        await wait_for(pilot, lambda: done in table_keys(app))


async def test_waitpoints_forget_runs_that_stopped_waiting_but_keep_the_links_they_show() -> None:
    """Over a long watch, the runs the pane read come and go: what it keeps of them stays bounded by what it lists."""
    async with console(config=settings(refresh=0.2)) as (app, pilot, w):
        approval = w.id("waitpoint_approval")
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen) and approval in table_keys(app))
        await wait_for(pilot, lambda: w.id("run_wait") in row_text(app, approval))
        screen = app.screen
        assert isinstance(screen, WaitpointsScreen)
        screen._scanned["run_finished_long_ago"] = 0.0
        screen._blocked["waitpoint_completed_long_ago"] = "run_finished_long_ago"
        screen._candidates_read = None  # the next poll lists the waiting runs again
        await wait_for(pilot, lambda: screen._candidates_read is not None)
        assert "run_finished_long_ago" not in screen._scanned
        assert "waitpoint_completed_long_ago" not in screen._blocked
        assert screen._blocked[approval] == w.id("run_wait")
        assert w.id("run_wait") in row_text(app, approval)


async def test_waitpoint_tag_filter_command() -> None:
    async with console() as (app, pilot, w):
        await pilot.press("3")
        await wait_for(pilot, lambda: w.id("waitpoint_timed") in table_keys(app))
        await app.run_command(":tag ops")
        await wait_for_text(pilot, "tag: ops")
        await wait_for(pilot, lambda: table_keys(app) == [w.id("waitpoint_timed")])


async def test_pane_four_is_triage_and_names_the_incident() -> None:
    # The triage pane itself belongs to the diagnosis work; here only that `4` reaches it with live data.
    async with console() as (app, pilot, _):
        await pilot.press("4")
        await wait_for(pilot, lambda: app.current_mode == "triage")
        await wait_for_text(pilot, "billing")
        assert "findings" in screen_lines(app)[1]


async def test_filter_substring_inverts_and_clears() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("slash", *"email")
        await wait_for(pilot, lambda: table_column(app, 1) == ["send-email"])
        await pilot.press("enter")
        assert "filter: email" in screen_text(app)
        await pilot.press("slash", "ctrl+u", *"!email", "enter")
        await wait_for(pilot, lambda: "send-email" not in table_column(app, 1) and len(table_column(app, 1)) == 5)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table_column(app, 1)) == 6)


async def test_j_k_move_and_y_copies_the_selected_id() -> None:
    async with console() as (app, pilot, w):
        await pilot.press("2")
        await wait_for(pilot, lambda: table_column(app, 0)[:4] == ["STUCK"] * 4)
        await pilot.press("j")
        await pilot.press("y")
        assert app.clipboard == w.id("run_backlog")
        await pilot.press("k", "y")
        assert app.clipboard == w.id("run_stuck")


async def test_rows_reconcile_without_moving_the_cursor() -> None:
    w = incident()
    async with console(w, config=settings(refresh=0.2)) as (app, pilot, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: w.id("run_exec") in table_keys(app))
        table = app.screen.query_one(FastTable)
        assert table.move_to(w.id("run_exec"))
        new = seed_run(w.engine, "agent-turn", "QUEUED", created=0.5)
        w.runs["run_exec"].tags = ["changed"]  # the task tagged itself as it ran
        await wait_for(pilot, lambda: new.friendly in table_keys(app))
        await wait_for_text(pilot, "changed")
        assert table.cursor_key == w.id("run_exec")


async def test_queue_metrics_come_from_cache_within_their_bucket() -> None:
    w = incident()
    async with console(w, config=settings(refresh=0.1)) as (_app, pilot, _):
        await wait_for(pilot, lambda: reads(w, "queue_metrics") >= 6)
        before = reads(w, "queue_metrics")
        lists = reads(w, "list_queues")
        await wait_for(pilot, lambda: reads(w, "list_queues") >= lists + 5)
        assert reads(w, "queue_metrics") == before  # 75 s buckets, frozen clock: nothing expires


async def test_tokens_with_status_other_than_waiting_have_no_blocked_run() -> None:
    w = blank()
    w.tokens["waitpoint_x"] = seed_token(w.engine, minutes=30, timeout="10m")
    w.engine.advance(1)  # the engine's timer fires: the token times out
    async with console(w) as (app, pilot, _):
        await pilot.press("3", "f", "f")
        await wait_for_text(pilot, "status: TIMED_OUT")
        await wait_for(pilot, lambda: table_keys(app) == [w.id("waitpoint_x")])
        assert reads(w, "run_trace") == 0


async def test_a_run_turns_stuck_as_time_passes_without_new_data() -> None:
    w = blank()
    w.runs["run_slow"] = seed_run(w.engine, "agent-turn", "DEQUEUED", minutes=1.5, created=2)
    async with console(w) as (app, pilot, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: w.id("run_slow") in table_keys(app))
        assert "STUCK" not in screen_text(app)
        updated = w.runs["run_slow"].updated_at
        await w.sim.advance(31)  # past the 2 minute DEQUEUED threshold; its worker pulled it and never starts it
        await wait_for_text(pilot, "STUCK")
        assert table_column(app, 4) == ["2 m"]
        assert w.runs["run_slow"].updated_at == updated  # the server's data did not change: only the clock moved


def test_age_text_and_when_it_changes() -> None:
    assert [short_duration(s) for s in (0, 59.9, 60, 3599, 3600, 86_400 + 7200, 50 * 3600)] == [
        "0 s",
        "59 s",
        "1 m",
        "59 m",
        "1 h",
        "26 h",
        "2 d 2 h",
    ]
    assert seconds_until_change(10.5) == 0.5
    assert seconds_until_change(61) == 59
    assert seconds_until_change(90_000) == 60 - (90_000 % 60)  # "25 h 0 m" changes every minute
    assert seconds_until_change(200_000) == 3_600 - (200_000 % 3_600)


async def test_a_slow_refresh_rests_as_long_as_it_took_then_speeds_up_again() -> None:
    """Pacing: a poll that spent 0.3 s (a slow server answering a 1,000-queue read) is followed by as long a rest."""
    w = incident()
    faults = w.sim.app.state.sim.faults
    async with console(w, config=settings(refresh=0.05)) as (app, pilot, _):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)
        faults.configure({"latency_ms": 300.0})  # from now on the simulator answers every request 0.3 s late
        await wait_for(pilot, lambda: screen._interval >= 0.5)
        faults.configure({"latency_ms": 0.0})
        await wait_for(pilot, lambda: screen._interval < 0.1, timeout=10)


async def test_switching_to_a_pane_polls_it_once_not_twice() -> None:
    """Mounting and switching both resume a pane: that must start one full poll, not queue a second one."""
    async with console() as (app, pilot, w):
        before = reads(w, "list_queues")
        await pilot.press("4")  # one triage reads the queue list once, then rests 5 refresh intervals
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("triage").updated_at is not None)
        await pilot.pause(0.5)
        assert reads(w, "list_queues") - before == 1
