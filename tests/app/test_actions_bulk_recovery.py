"""A finding's bulk recovery (`C`): the schedule pile-up's copies but the newest, counted, confirmed and sent as one
server-side filter, end to end on the `schedule-pileup` scenario through the real triage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.actions_sim import rig, wait_note
from tests.app.harness import wait_for
from tests.app.rollback_sim import open_finding
from tests.app.screen_text import screen_text
from tui.diagnosis import Action, Cause
from tui.screens.confirm import ConfirmScreen


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def test_capital_c_on_a_pileup_cancels_the_copies_but_the_newest() -> None:
    async with rig("schedule-pileup") as r:
        _, finding = await open_finding(r, Cause.SCHEDULE_PILEUP, "cancel_matching")
        await wait_for(r.pilot, lambda: "C Bulk cancel" in screen_text(r.app))  # the footer draws once it can act
        [step] = [s for s in finding.recovery if s.action is Action.CANCEL_MATCHING]
        head = next(x for x in r.engine.runs.values() if x.task == "reconcile-ledger" and x.status == "EXECUTING")
        copies = sorted(
            (x for x in r.engine.runs.values() if x.schedule == head.schedule and x is not head),
            key=lambda x: x.created_at,
        )
        await r.pilot.press("C")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        text = screen_text(r.app)
        assert f"schedule {head.schedule}" in text and f"Cancel all {len(copies) - 1} runs matching" in text
        assert r.transport.posts("/api/v1/bulk-actions") == []  # nothing before the confirmation
        await r.pilot.press(*str(len(copies) - 1), "enter")
        await wait_for(r.pilot, lambda: r.transport.posts("/api/v1/bulk-actions") != [], timeout=10)
        r.engine.advance(60)
        await wait_for(r.pilot, lambda: copies[-2].status == "CANCELED", timeout=10)
        assert [x.status for x in copies[:-1]] == ["CANCELED"] * (len(copies) - 1)
        assert copies[-1].status != "CANCELED" and head.status == "EXECUTING"
        assert step.target is not None and head.schedule in step.target
        await wait_note(r, "ancel", timeout=10)


async def test_x_on_a_finding_with_no_plugin_says_why() -> None:
    async with rig("worker-pool-zero") as r:
        await open_finding(r, Cause.WORKER_POOL_EMPTY, "plugin")
        await r.pilot.press("x")
        await wait_note(r, "No plugin for this finding: its external step is scale-workers")
        assert r.transport.posts("") == []


async def test_after_a_replay_n_opens_the_new_run() -> None:
    from tests.app.test_actions_matrix import run_detail
    from tui.screens.run_detail import RunDetailScreen

    async with rig("entity-offline") as r:
        await run_detail(r)
        first = r.app.screen
        assert isinstance(first, RunDetailScreen)
        assert r.app.check_action("open_created", ()) is False  # nothing created yet: the key is hidden
        await r.pilot.press("R")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        await r.pilot.press("y")
        await wait_note(r, "N opens run_", timeout=10)
        created = r.app.session.created_run if r.app.session is not None else None
        assert created is not None and created != first.run_id
        await r.pilot.press("N")
        await wait_for(
            r.pilot, lambda: isinstance(r.app.screen, RunDetailScreen) and r.app.screen.run_id == created, timeout=10
        )
