"""Server-side search in the runs pane, on the real client over the simulator: the query the server gets, the
filter bar, one-line refusals, saved searches, and `:cancel-matching` sending exactly the search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.actions_sim import Rig, rig, runs_pane, wait_note
from tests.app.harness import wait_for
from tests.app.screen_text import screen_text
from tui.screens.bulk import BulkProgressScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.runs import RunsScreen
from tui.sim.state import Plan

ACTIVE = ["QUEUED", "DEQUEUED", "EXECUTING", "WAITING"]


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


def run_lists(r: Rig) -> list[dict[str, str]]:
    """The query of every run list the client sent, oldest first."""
    return [dict(url.params) for url in r.transport.urls if url.path == "/api/v1/runs"]


def bulk_bodies(r: Rig) -> list[dict[str, object]]:
    return [
        json.loads(body)
        for (method, path), body in zip(r.transport.requests, r.transport.bodies, strict=True)
        if method == "POST" and path == "/api/v1/bulk-actions"
    ]


def storm(r: Rig, count: int, tag: str = "dup-storm") -> list[str]:
    """`count` long runs of one task with a tag of their own: the duplicates an operator wants gone."""
    runs = [r.engine.create_run("send-email", tags=[tag], plan=Plan(duration=7200)) for _ in range(count)]
    return [run.friendly for run in runs]


async def test_a_tag_search_lists_from_the_server_and_shows_on_the_filter_bar() -> None:
    async with rig("incident") as r:
        ours = set(storm(r, 5))
        screen = await runs_pane(r)
        await r.app.run_command(":tag dup-storm")
        await wait_for(r.pilot, lambda: set(screen.table.keys) == ours)
        assert any(q.get("filter[tag]") == "dup-storm" for q in run_lists(r))
        text = screen_text(r.app)
        assert "search: tag dup-storm" in text and ":clear resets" in text
        await r.app.run_command(":task send-email :window 2h")
        await wait_for(
            r.pilot,
            lambda: any(
                q.get("filter[taskIdentifier]") == "send-email"
                and q.get("filter[tag]") == "dup-storm"
                and q.get("filter[createdAt][period]") == "2h"
                for q in run_lists(r)
            ),
        )
        assert "window: 2h" in screen_text(r.app) and "search: task send-email · tag dup-storm" in screen_text(r.app)
        await r.app.run_command(":clear")
        await wait_for(r.pilot, lambda: len(screen.table.keys) > len(ours))
        assert "search:" not in screen_text(r.app)


async def test_bad_input_says_why_in_one_line_and_lists_nothing_new() -> None:
    async with rig("incident") as r:
        screen = await runs_pane(r)
        before = screen.search
        for line, reason in (
            (":status RUNNING", "unknown status RUNNING"),
            (":window soon", "not a window"),
            (":from 2026-13-45", "not a time"),
            (":from 1h :to 3h", "the range starts"),
            (":key order-9001", "no idempotency-key filter"),
        ):
            await r.app.run_command(line)
            await wait_note(r, reason)
            assert screen.search == before
        assert "search:" not in screen_text(r.app)


async def test_a_search_term_typed_on_another_pane_opens_the_runs_pane() -> None:
    async with rig("incident") as r:
        ours = set(storm(r, 3, tag="from-queues"))
        await r.app.run_command(":tag from-queues")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and set(r.app.screen.table.keys) == ours)


async def test_a_saved_search_runs_by_name_from_the_command_line_and_the_palette() -> None:
    searches = (("stuck-emails", ":task send-email :tag saved :window 2h"),)
    async with rig("incident", searches=searches) as r:
        ours = set(storm(r, 4, tag="saved"))
        screen = await runs_pane(r)
        await r.app.run_command(":tag something-else")
        await r.app.run_command(":search stuck-emails")  # from the default search, not on top of the last one
        await wait_for(r.pilot, lambda: set(screen.table.keys) == ours)
        assert screen.search.tags == ("saved",) and screen.search.period == "2h"
        await r.app.run_command(":search nope")
        await wait_note(r, "saved: stuck-emails")
        await r.app.run_command(":clear")
        await wait_for(r.pilot, lambda: not screen.search.tags)
        await r.pilot.press("ctrl+p")
        await r.pilot.pause(0.2)
        await r.pilot.press(*"stuck-emails")
        await r.pilot.pause(0.5)
        await r.pilot.press("enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and screen.search.tags == ("saved",))


async def test_cancel_matching_sends_the_search_as_the_bulk_filter_after_the_servers_count() -> None:
    async with rig("incident") as r:
        ours = storm(r, 130)  # more than the pane's first page: the count must come from the server
        screen = await runs_pane(r)
        await r.app.run_command(":tag dup-storm")
        await wait_for(r.pilot, lambda: screen.table.row_count == 100 and screen.more_below)
        await r.app.run_command(":cancel-matching")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        confirmation = r.app.screen.confirmation
        assert confirmation.expected_text == "130"
        assert "130 runs" in confirmation.effect and "search: tag dup-storm" in confirmation.effect
        await r.pilot.press(*"130", "enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, BulkProgressScreen))
        await wait_for(r.pilot, lambda: len(bulk_bodies(r)) == 1)
        [body] = bulk_bodies(r)
        assert body["action"] == "cancel" and "runIds" not in body
        assert body["filter"] == {"status": ACTIVE, "tag": ["dup-storm"]}
        assert body["filter"] == screen.run_filter().bulk_filter()
        await wait_for(r.pilot, lambda: all(r.engine.runs[i.removeprefix("run_")].status == "CANCELED" for i in ours))


async def test_the_stuck_scan_stays_within_the_searchs_time_and_never_sends_an_empty_range() -> None:
    async with rig("incident") as r:
        screen = await runs_pane(r)
        await r.app.run_command(":window 2h")
        await wait_for(r.pilot, lambda: any(q.get("filter[createdAt][period]") == "2h" for q in run_lists(r)))
        # The scan for stuck runs asks by age, within the window the search names, never for older runs.
        await wait_for(r.pilot, lambda: any("filter[createdAt][from]" in q for q in run_lists(r)))
        assert all("filter[createdAt][period]" not in q for q in run_lists(r) if "filter[createdAt][to]" in q)
        sent = len(run_lists(r))
        await r.app.run_command(":from 1m")
        await wait_for(r.pilot, lambda: len(run_lists(r)) > sent and screen.search.created_from is not None)
        await r.pilot.pause(0.3)
        for query in run_lists(r)[sent:]:
            start, end = query.get("filter[createdAt][from]"), query.get("filter[createdAt][to]")
            assert not (start and end and int(start) >= int(end)), query
