"""Cancel from the keyboard: what the confirmation says, marks, production typing and write elevation.

The five paths every action shares (happy, declined, read-only, server error, double press) are in
test_actions_matrix.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.actions_sim import Rig, rig, runs_pane, wait_note
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.actions import read_entries
from tui.screens.confirm import ConfirmScreen
from tui.screens.runs import RunsScreen


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


def engine_status(r: Rig, run_id: str) -> str:
    run = r.engine.runs[run_id.removeprefix("run_")]
    return str(getattr(run.status, "value", run.status))


async def test_cancel_a_stuck_run_is_confirmed_sent_once_verified_and_audited(state_dir: Path) -> None:
    async with rig("entity-offline") as r:
        screen = await runs_pane(r)
        run = screen.selected_run()
        assert run is not None
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        text = screen_text(r.app)
        assert run.id in text and "development" in text
        await r.pilot.press("y")
        await wait_note(r, "verified")
        assert r.transport.posts("/cancel") == [f"/api/v2/runs/{run.id}/cancel"]
        assert engine_status(r, run.id) == "CANCELED"
    entries = read_entries(state_dir / "audit.jsonl")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == "cancel_run" and entry.outcome == "ok"
    assert entry.verification is not None and entry.verification.get("verified") is True


async def test_n_declines_like_escape() -> None:
    async with rig("long-blocker") as r:
        await runs_pane(r)
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.press("n")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen))
        await r.pilot.pause(0.1)
        assert r.transport.posts() == []


async def test_write_elevation_asks_a_reason_then_allows_the_cancel(state_dir: Path) -> None:
    async with rig("entity-offline", read_only=True) as r:
        screen = await runs_pane(r)
        await r.app.run_command(":write 15m")
        await r.pilot.pause(0.1)
        await r.pilot.press(*"INC-42 stuck crm")
        await r.pilot.press("enter")
        await wait_for_text(r.pilot, "WRITE")
        run = screen.selected_run()
        assert run is not None
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.press("y")
        await wait_note(r, "verified")
        assert len(r.transport.posts("/cancel")) == 1
    entries = read_entries(state_dir / "audit.jsonl")
    cancel = [e for e in entries if e.action == "cancel_run"]
    assert cancel and cancel[0].reason == "INC-42 stuck crm"


async def test_marked_runs_are_counted_and_need_the_count_typed() -> None:
    async with rig("entity-offline") as r:
        screen = await runs_pane(r)
        await r.pilot.press("space", "j", "space")
        await wait_for_text(r.pilot, "2 marked")
        ids = sorted(screen.table.marked)
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.press("y")  # not enough for a bulk action
        await r.pilot.pause(0.05)
        assert isinstance(r.app.screen, ConfirmScreen) and r.transport.posts() == []
        await r.pilot.press("backspace", "2", "enter")
        await wait_note(r, "verified")
        assert sorted(r.transport.posts("/cancel")) == sorted(f"/api/v2/runs/{i}/cancel" for i in ids)


async def test_production_needs_the_environment_name_typed() -> None:
    async with rig("entity-offline", production=True) as r:
        await runs_pane(r)
        await r.pilot.press("c")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        assert "PRODUCTION" in screen_text(r.app)
        await r.pilot.press("y", "enter")
        await r.pilot.pause(0.05)
        assert r.transport.posts() == []
        await r.pilot.press("backspace", *"prod", "enter")
        await wait_note(r, "verified")
        assert len(r.transport.posts("/cancel")) == 1
