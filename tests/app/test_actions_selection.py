"""An action reaches exactly what is on screen: `:cancel-matching` under the `/` filter, marks that follow the list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import TextArea

from tests.app.actions_sim import Rig, rig, runs_pane, wait_note
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.actions import read_entries
from tui.screens.bulk import BulkProgressScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.screens.token_editor import TokenEditorScreen
from tui.screens.waitpoints import WaitpointsScreen


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def type_filter(r: Rig, text: str) -> None:
    await r.pilot.press("slash", *text, "enter")
    await r.pilot.pause(0.05)


def bulk_bodies(r: Rig) -> list[dict[str, object]]:
    return [
        json.loads(body)
        for (method, path), body in zip(r.transport.requests, r.transport.bodies, strict=True)
        if method == "POST" and path == "/api/v1/bulk-actions"
    ]


async def test_cancel_matching_under_a_text_filter_counts_and_cancels_exactly_the_rows_shown() -> None:
    async with rig("incident") as r:
        screen = await runs_pane(r)
        await type_filter(r, "process-video")
        shown = sorted(screen.table.keys)
        assert 0 < len(shown) < screen.table.total_count
        header = screen.selection_words()
        assert "filter: process-video" in header and header in screen_text(r.app)
        assert f"{len(shown)} of {screen.table.total_count} runs" in screen_text(r.app)
        await r.app.run_command(":cancel-matching")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        confirmation = r.app.screen.confirmation
        assert confirmation.expected_text == str(len(shown))
        assert f"{len(shown)} runs" in confirmation.effect and header in confirmation.effect
        assert "run ids" in " ".join(confirmation.details)
        await r.pilot.press(*str(len(shown)), "enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, BulkProgressScreen))
        await wait_for(r.pilot, lambda: len(bulk_bodies(r)) == 1)
        [body] = bulk_bodies(r)
        assert body["action"] == "cancel" and "filter" not in body
        assert sorted(body["runIds"]) == shown  # type: ignore[arg-type]


async def test_cancel_matching_without_a_text_filter_sends_the_panes_filter() -> None:
    async with rig("incident") as r:
        screen = await runs_pane(r)
        await r.app.run_command(":status EXECUTING")
        await wait_for(r.pilot, lambda: screen.status_label == "EXECUTING" and screen.table.row_count > 0)
        await r.app.run_command(":cancel-matching")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        confirmation = r.app.screen.confirmation
        assert screen.selection_words() in confirmation.effect
        if not screen.more_below:
            assert confirmation.expected_text == str(screen.table.row_count)
        assert confirmation.expected_text is not None
        await r.pilot.press(*confirmation.expected_text, "enter")
        await wait_for(r.pilot, lambda: len(bulk_bodies(r)) == 1)
        [body] = bulk_bodies(r)
        assert body["filter"] == {"status": ["EXECUTING"]}


async def test_the_read_only_flag_is_a_hard_lock_that_write_cannot_lift(state_dir: Path) -> None:
    async with rig("entity-offline", read_only=True, locked=True) as r:
        await wait_for_text(r.pilot, "READ-ONLY (--read-only)")
        await r.app.run_command(":write 15m")
        await wait_note(r, "started with --read-only")
        assert not isinstance(r.app.screen, PromptScreen)
        assert r.app.session is not None and r.app.session.guard is not None
        assert not r.app.session.guard.allows_writes()
        await runs_pane(r)
        await r.pilot.press("c")
        await wait_note(r, "started with --read-only, so :write cannot lift it")
        assert r.transport.posts() == []
    outcomes = [(e.action, e.outcome) for e in read_entries(state_dir / "audit.jsonl")]
    assert outcomes == [("elevate", "refused"), ("cancel_run", "refused")]


async def test_a_profiles_read_only_can_be_lifted_with_write(state_dir: Path) -> None:
    async with rig("entity-offline", read_only=True) as r:
        await r.app.run_command(":write 15m")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, PromptScreen))
        await r.pilot.press(*"INC-7", "enter")
        await wait_note(r, "write mode for 15 min")
        assert r.app.session is not None and r.app.session.guard is not None
        assert r.app.session.guard.allows_writes()
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert entry.action == "elevate" and entry.outcome == "ok"


async def test_marks_follow_the_runs_and_the_header_says_when_one_left() -> None:
    async with rig("entity-offline") as r:
        screen = await runs_pane(r)
        await r.pilot.press("space", "j", "space")
        await wait_for_text(r.pilot, "2 marked")
        leaving, staying = sorted(screen.table.marked)
        r.engine.cancel(r.engine.runs[leaving.removeprefix("run_")])  # canceled elsewhere: it leaves the active list
        await wait_for(r.pilot, lambda: leaving not in screen.table.keys)
        assert screen.table.marked == {staying}
        await wait_for_text(r.pilot, "1 marked · 1 unmarked (left the list)")
        assert [run.id for run in screen.marked_runs()] == [staying]
        await r.pilot.press("space")  # marking again starts a fresh count
        await wait_for(r.pilot, lambda: "left the list" not in screen_text(r.app))


async def test_the_json_editor_counts_the_bytes_typed() -> None:
    async with rig("orphan-waitpoint") as r:
        await r.pilot.press("3")
        await wait_for(
            r.pilot, lambda: isinstance(r.app.screen, WaitpointsScreen) and r.app.screen.selected_token() is not None
        )
        await r.pilot.press("r")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, TokenEditorScreen))
        area = r.app.screen.query_one(TextArea)
        area.text = '{ "note": "café" }'
        typed = len(area.text.encode())
        await wait_for_text(r.pilot, f"valid JSON, {typed} bytes")
        await r.pilot.press("ctrl+s")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        assert f"({typed} bytes)" in r.app.screen.confirmation.effect
