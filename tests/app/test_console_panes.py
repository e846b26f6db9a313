"""Pilot tests of the four panes against the fake client: what an operator sees and what each key does."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.app.fakes import NOW, FakeClient, incident, metrics, queue, run, settings, token
from tests.app.harness import console, wait_for, wait_for_text
from tests.app.screen_text import screen_lines, screen_text
from tui.model import QueueType, RunStatus, TokenStatus
from tui.screens.queues import QueuesScreen
from tui.screens.runs import RunsScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.widgets.format import seconds_until_change, short_duration
from tui.widgets.table import FastTable


def table_column(app: object, column: int) -> list[str]:
    table = app.screen.query_one(FastTable)  # type: ignore[attr-defined]
    rows = [table.row(key) for key in table.keys]
    return [c.text if hasattr(c, "text") else c for r in rows if r for c in [r.cells[column]]]


async def test_queues_show_verdicts_in_words_problems_first() -> None:
    async with console() as (app, pilot, _client):
        await wait_for(pilot, lambda: "STALLED" in screen_text(app))
        verdicts = table_column(app, 0)
        assert verdicts[:3] == ["PAUSED", "STALLED", "AT CAP"]
        assert set(verdicts[3:]) == {"ACTIVE", "IDLE"}
        text = screen_text(app)
        assert "env 12/50 in use" in text
        assert "10/10" in text  # running / limit of the queue at cap
        assert "▁▂▃▄" in text  # the depth sparkline of the stalled queue


async def test_queue_override_is_marked_and_metrics_only_for_rows_on_screen() -> None:
    client = FakeClient()
    client.queues = [queue(f"q{i:03d}", queued=i % 3) for i in range(200)]
    client.queues[0] = queue("q000", running=3, limit=10, override=4)
    async with console(client, size=(100, 20)) as (_app, pilot, _):
        await wait_for(pilot, lambda: client.calls["queue_metrics"] > 0)
        await pilot.pause(0.3)
        # 20 lines minus the bars, header and footer leave about 15 rows: never all 200.
        assert client.calls["queue_metrics"] <= 20
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
    async with console() as (app, pilot, client):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)
        assert screen.select_queue("agent-turn")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for_text(pilot, "queue: agent-turn")
        assert client.run_calls[-1]["queue"] == ("agent-turn", QueueType.TASK)
        assert "send-email" not in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, QueuesScreen))
        assert app.session is not None and app.session.run_queue is None


async def test_runs_mark_stuck_in_words_and_sort_them_first() -> None:
    async with console() as (app, pilot, _client):
        await pilot.press("2")
        await wait_for_text(pilot, "run_stuck")
        flags = table_column(app, 0)
        ids = table_column(app, 1)
        # The QUEUED run has waited 3 m, past its 2 m window: by age alone it is stuck too.
        assert flags[:3] == ["STUCK", "STUCK", "STUCK"]
        assert ids[:3] == [  # longest in status first
            "run_stuck0000000000000001", "run_deq00000000000000002", "run_queued00000000000005"
        ]
        assert "" in flags[3:] and "STUCK" not in flags[3:]
        assert "3 STUCK" in screen_lines(app)[1]


async def test_runs_ask_for_stuck_candidates_directly_and_page_on_scroll() -> None:
    client = incident()
    # 250 runs newer than the incident's: page one holds only these, so stuck runs need their own query.
    client.runs += [run(f"run_bulk{i:05d}", RunStatus.QUEUED, minutes=0.1, created=0.5 + i / 1000) for i in range(250)]
    async with console(client, size=(120, 30)) as (app, pilot, _):
        await pilot.press("2")
        await wait_for(pilot, lambda: len(client.run_calls) >= 6)
        stuck_calls = [c for c in client.run_calls if c["created_to"] is not None]
        assert stuck_calls, "no direct query for stuck candidates"
        # The pane's own query by age (a triage it asked for lists QUEUED runs by age too).
        wanted = {RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING}
        stuck_calls = [c for c in stuck_calls if set(c["statuses"]) == wanted]
        assert stuck_calls, "the pane never asked for DEQUEUED, EXECUTING and WAITING runs by age"
        window = timedelta(seconds=app.session.settings.thresholds.dequeued_seconds)  # type: ignore[union-attr]
        assert stuck_calls[-1]["created_to"] == NOW - window
        head = [  # the pane's own first page (a triage lists a queue's QUEUED runs whole: filtered by queue)
            c for c in client.run_calls
            if RunStatus.QUEUED in c["statuses"] and c["created_to"] is None and c["queue"] is None
        ]
        assert all(c["after"] is None for c in head), "read a second page nobody scrolled to"
        table = app.screen.query_one(FastTable)
        assert table.keys[0] == "run_stuck0000000000000001"
        assert 100 < table.total_count < 110  # page one plus the stuck candidates older than it
        await pilot.press("G")
        await wait_for(pilot, lambda: any(c["after"] == "100" for c in client.run_calls))
        await wait_for(pilot, lambda: table.total_count > 150)


async def test_runs_status_set_and_window_switch() -> None:
    async with console() as (app, pilot, client):
        await pilot.press("2")
        await wait_for_text(pilot, "statuses: active")
        await pilot.press("f")
        await wait_for_text(pilot, "statuses: dequeued+executing")
        await wait_for(pilot, lambda: client.run_calls[-1]["statuses"] in ((RunStatus.DEQUEUED, RunStatus.EXECUTING),))
        assert "run_wait" not in screen_text(app)
        await pilot.press("w")
        await wait_for_text(pilot, "window: 1h")
        await wait_for(pilot, lambda: any(c.get("period") == "1h" for c in client.run_calls))


async def test_waitpoints_default_to_waiting_and_name_the_blocked_run() -> None:
    async with console() as (app, pilot, _client):
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, WaitpointsScreen))
        await wait_for_text(pilot, "run_wait00")
        text = screen_text(app)
        assert "waitpoint_done" not in text  # COMPLETED is not shown by default
        assert "refund-42" in text and "in 10 m" in text and "none" in text
        screen = app.screen
        assert isinstance(screen, WaitpointsScreen)
        assert screen.table.move_to("waitpoint_approval000001")
        await pilot.press("u")
        assert app.clipboard.endswith("/callback/abc")
        await pilot.press("y")
        assert app.clipboard == "waitpoint_approval000001"
        await pilot.press("f")
        await wait_for_text(pilot, "status: COMPLETED")
        await wait_for_text(pilot, "waitpoint_do")


async def test_waitpoint_tag_filter_command() -> None:
    async with console() as (app, pilot, _client):
        await pilot.press("3")
        await wait_for_text(pilot, "waitpoint_ti")
        await app.run_command(":tag ops")
        await wait_for_text(pilot, "tag: ops")
        await wait_for(pilot, lambda: "waitpoint_ap" not in screen_text(app))


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
        await wait_for(pilot, lambda: "send-email" not in table_column(app, 1) and len(table_column(app, 1)) == 4)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table_column(app, 1)) == 5)


async def test_j_k_move_and_y_copies_the_selected_id() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("2")
        await wait_for_text(pilot, "run_stuck")
        await pilot.press("j")
        await pilot.press("y")
        assert app.clipboard == "run_deq00000000000000002"
        await pilot.press("k", "y")
        assert app.clipboard == "run_stuck0000000000000001"


async def test_rows_reconcile_without_moving_the_cursor() -> None:
    client = incident()
    async with console(client) as (app, pilot, _):
        await pilot.press("2")
        await wait_for_text(pilot, "run_exec")
        table = app.screen.query_one(FastTable)
        assert table.move_to("run_exec0000000000000003")
        client.runs.append(run("run_new00000000000000009", RunStatus.QUEUED, created=0.5))
        client.runs[2] = replace(client.runs[2], tags=("changed",))
        await wait_for_text(pilot, "run_new")
        await wait_for_text(pilot, "changed")
        assert table.cursor_key == "run_exec0000000000000003"


async def test_queue_metrics_come_from_cache_within_their_bucket() -> None:
    client = incident()
    client.metrics["task/nightly-report"] = metrics("task/nightly-report", started=1)
    async with console(client) as (_app, pilot, _):
        await wait_for(pilot, lambda: client.calls["queue_metrics"] >= 5)
        before = client.calls["queue_metrics"]
        lists = client.calls["list_queues"]
        await wait_for(pilot, lambda: client.calls["list_queues"] >= lists + 5)
        assert client.calls["queue_metrics"] == before  # 75 s buckets, frozen clock: nothing expires


async def test_tokens_with_status_other_than_waiting_have_no_blocked_run() -> None:
    client = incident()
    client.tokens = [token("waitpoint_x", status=TokenStatus.TIMED_OUT)]
    async with console(client) as (_app, pilot, _):
        await pilot.press("3", "f", "f")
        await wait_for_text(pilot, "status: TIMED_OUT")
        await wait_for_text(pilot, "waitpoint_x")
        assert client.calls["run_trace"] == 0


async def test_a_run_turns_stuck_as_time_passes_without_new_data() -> None:
    now = [NOW]
    client = FakeClient()
    client.runs = [run("run_slow", RunStatus.DEQUEUED, minutes=1.5, created=2)]
    async with console(client, clock=lambda: now[0]) as (app, pilot, _):
        await pilot.press("2")
        await wait_for_text(pilot, "run_slow")
        assert "STUCK" not in screen_text(app)
        now[0] = NOW + timedelta(seconds=31)  # past the 2 minute DEQUEUED threshold
        await wait_for_text(pilot, "STUCK")
        assert table_column(app, 4) == ["2 m"]


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
    """Pacing: a poll that spent 0.3 s (a budget-throttled 1,000-queue read) is followed by as long a rest."""
    import asyncio

    slow = incident()
    original = slow.list_queues

    async def list_queues() -> list[Any]:
        await asyncio.sleep(delay)
        return await original()

    delay = 0.3
    slow.list_queues = list_queues  # type: ignore[method-assign]
    async with console(slow, config=settings(refresh=0.05)) as (app, pilot, _):
        screen = app.screen
        assert isinstance(screen, QueuesScreen)
        await wait_for(pilot, lambda: screen._interval >= 0.5)
        delay = 0.0
        await wait_for(pilot, lambda: screen._interval < 0.1, timeout=10)


async def test_switching_to_a_pane_polls_it_once_not_twice() -> None:
    """Mounting and switching both resume a pane: that must start one full poll, not queue a second one."""
    async with console(config=settings(refresh=1.0)) as (app, pilot, fake):
        before = fake.calls["list_queues"]
        await pilot.press("4")  # one triage reads the queue list once, then rests 5 refresh intervals
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("triage").updated_at is not None)
        await pilot.pause(0.5)
        assert fake.calls["list_queues"] - before == 1
