"""The span inspector, the run's log and the follow-through keys, on the simulator through the real client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Static

from tests.app.actions_sim import Rig, rig
from tests.app.harness import polled, wait_for
from tui.model import RunStatus
from tui.model.span_log import LEVEL_FILTERS
from tui.screens.run_detail import RunDetailScreen
from tui.screens.run_log import RunLogScreen
from tui.screens.span_inspector import SpanInspectorScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.widgets.trace_tree import deepest_open_span

HOSTILE = "[b]bold[/b] \x1b[31mred\x1b[0m [link=http://x]click[/link]"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


def content(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_hung_crm_run(r: Rig) -> RunDetailScreen:
    """Open the oldest run hung in a `crm` call, as `:run ID` would; the cursor lands on the hung call."""
    session = r.app.session
    assert session is not None
    page = await session.client.list_runs(statuses=[RunStatus.EXECUTING], page_size=100)
    for run in sorted(page.items, key=lambda run: run.created_at):
        span = deepest_open_span(await session.client.run_trace(run.id))
        if span is not None and span.message.startswith("tool crm."):
            r.app.open_run(run.id)
            await wait_for(
                r.pilot, lambda: isinstance(r.app.screen, RunDetailScreen) and r.app.screen.detail is not None
            )
            screen = r.app.screen
            assert isinstance(screen, RunDetailScreen)
            return screen
    raise AssertionError("no run hung in a crm call")


async def inspect_cursor(r: Rig) -> SpanInspectorScreen:
    await r.pilot.press("enter")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, SpanInspectorScreen))
    inspector = r.app.screen
    assert isinstance(inspector, SpanInspectorScreen)
    return inspector


def span_requests(r: Rig) -> int:
    return sum(1 for method, path in r.transport.requests if method == "GET" and "/spans/" in path)


async def test_the_hung_crm_call_shows_its_entity_input_and_logged_retries() -> None:
    async with rig("entity-offline") as r:
        await open_hung_crm_run(r)
        inspector = await inspect_cursor(r)
        await wait_for(r.pilot, lambda: "customerId" in content(inspector, "#inspector-content"))
        text = content(inspector, "#inspector-content")
        assert inspector.span is not None and inspector.span.message.startswith("tool crm.")
        assert "● open for" in text and "still open" in text
        assert "Entity     crm  type tool" in text
        assert "Input" in text and '"fields"' in text and "none yet: the call is still open" in text
        for k in range(1, 6):
            assert f"WARN   retry {k}/5 crm." in text and "(timeout)" in text
        assert "Log (5)" in text and inspector.error_line == ""


async def test_brackets_walk_the_spans_in_trace_order_and_reuse_fetched_details() -> None:
    async with rig("entity-offline") as r:
        await open_hung_crm_run(r)
        inspector = await inspect_cursor(r)
        await wait_for(r.pilot, lambda: "customerId" in content(inspector, "#inspector-content"))
        tool = inspector.span
        assert tool is not None
        await r.pilot.press("left_square_bracket")
        await wait_for(r.pilot, lambda: inspector.span is not None and inspector.span.message.startswith("Attempt"))
        await wait_for(r.pilot, lambda: "loading…" not in content(inspector, "#inspector-content"))
        fetched = span_requests(r)
        await r.pilot.press("right_square_bracket")
        await wait_for(r.pilot, lambda: inspector.span == tool)
        await r.pilot.pause(0.1)
        assert span_requests(r) == fetched  # cached: coming back costs nothing
        assert "retry 2/5" in content(inspector, "#inspector-content")
        for _ in range(3):  # past the last span: it says so and stays
            await r.pilot.press("right_square_bracket")
        await wait_for(r.pilot, lambda: "last span of the trace" in r.notifications())
        assert "Span " in content(inspector, "#inspector-title")


async def test_a_failing_span_fetch_is_one_line_in_the_inspector_and_ctrl_r_retries() -> None:
    async with rig("entity-offline") as r:
        await open_hung_crm_run(r)
        broken = {"on": True}
        inner = r.transport.handle_async_request

        async def malformed(request: httpx.Request) -> httpx.Response:
            if broken["on"] and "/spans/" in request.url.path:
                return httpx.Response(200, json={"spanId": 5, "runId": None})
            return await inner(request)

        r.transport.handle_async_request = malformed  # type: ignore[method-assign]
        inspector = await inspect_cursor(r)
        await r.pilot.press("left_square_bracket")  # the run has fetched the hung call: its attempt is not yet
        await wait_for(r.pilot, lambda: inspector.error_line != "")
        line = content(inspector, "#inspector-error")
        assert line.startswith("span detail failed: ") and "ctrl+r retries" in line and "\n" not in line
        assert "Traceback" not in content(inspector, "#inspector-content")
        broken["on"] = False
        await r.pilot.press("ctrl+r")
        await wait_for(r.pilot, lambda: inspector.error_line == "")
        assert not inspector.query_one("#inspector-error", Static).display


async def test_hostile_text_in_attributes_and_logs_is_shown_literally() -> None:
    async with rig("entity-offline", refresh=0.05) as r:
        screen = await open_hung_crm_run(r)
        run = next(run for run in r.engine.runs.values() if run.friendly == screen.run_id)
        call = next(span for span in run.span_index.values() if span.end is None and span.message.startswith("tool"))
        call.properties["note"] = HOSTILE
        call.children[0].message = HOSTILE
        screen._data.forget(call.id)  # as if this was the first look
        # The log records come with the trace: read it again before the inspector covers the run (and its polls).
        polls = screen.polls
        screen.refresh_now()
        await wait_for(r.pilot, lambda: screen.polls > polls)
        inspector = await inspect_cursor(r)
        await wait_for(r.pilot, lambda: "note" in content(inspector, "#inspector-content"))
        text = content(inspector, "#inspector-content")
        assert "[b]bold[/b]" in text and "[link=http://x]click[/link]" in text
        assert "\x1b" not in text and "␛[31mred" in text


async def test_the_log_lists_events_in_time_order_filters_by_level_and_search_and_opens_the_span() -> None:
    async with rig("entity-offline") as r:
        await open_hung_crm_run(r)
        await r.pilot.press("L")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunLogScreen))
        log = r.app.screen
        assert isinstance(log, RunLogScreen)
        await wait_for(r.pilot, lambda: "reading" not in content(log, "#log-note"))
        times = [line.time for line in log.lines]
        assert times == sorted(times) and len(times) >= 5
        assert any(line.level == "WARN" and "retry 3/5" in line.message for line in log.lines)
        assert "everything" in content(log, "#log-title")
        while LEVEL_FILTERS[1] not in content(log, "#log-title"):
            await r.pilot.press("l")
        assert log.lines and all(line.level in ("WARN", "ERROR") for line in log.lines)
        await r.pilot.press("slash", *"retry 3/5")
        await wait_for(r.pilot, lambda: log.table.row_count == 1)
        await r.pilot.press("enter")  # keeps the search, back to the table
        await r.pilot.press("enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, SpanInspectorScreen))
        inspector = r.app.screen
        assert isinstance(inspector, SpanInspectorScreen)
        assert inspector.span is not None and inspector.span.message.startswith("tool crm.")


async def test_enter_on_a_token_opens_the_run_it_blocks() -> None:
    async with rig("orphan-waitpoint") as r:
        await r.pilot.press("3")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, WaitpointsScreen))
        pane = r.app.screen
        assert isinstance(pane, WaitpointsScreen)
        linked: dict[str, str] = {}

        def found() -> bool:
            for key in pane.table.keys:
                run_id = pane.blocked_run(key)
                if run_id is not None:
                    linked[key] = run_id
            return bool(linked)

        await wait_for(r.pilot, polled(pane, found), timeout=10)
        token, run_id = next(iter(linked.items()))
        assert pane.table.move_to(token)
        await r.pilot.press("enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunDetailScreen) and r.app.screen.run_id == run_id)
