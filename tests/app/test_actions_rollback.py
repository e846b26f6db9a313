"""Rollback from a finding, end to end on the simulator: `b`, dry run, confirmation, promote, verified current."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import tui.screens.diagnosis as diagnosis_screen
from tests.app.actions_sim import rig, wait_note
from tests.app.diagnosis_sim import sim_console
from tests.app.harness import wait_for
from tests.app.rollback_sim import (
    WENT_LIVE_MINUTES,
    offer_rollback,
    open_rollback_finding,
    rollback_finding,
    stage_bad_deploy,
)
from tests.app.screen_text import screen_text
from tui.actions import read_entries
from tui.screens.confirm import ConfirmScreen
from tui.screens.triage import TriageScreen
from tui.sim import server


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def test_b_rolls_back_production_after_naming_both_versions_and_verifies(state_dir: Path) -> None:
    async with rig("healthy", production=True) as r:
        good, bad, locked = stage_bad_deploy(r.engine)
        offer_rollback(r.app, good)
        screen = await open_rollback_finding(r)
        assert screen.check_action("recover", ("rollback",)) and "b Roll back" in screen_text(r.app)
        await r.pilot.press("b")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        text = screen_text(r.app)
        assert f"Roll back PRODUCTION from version {bad} to version {good}?" in text
        modal = r.app.screen
        assert isinstance(modal, ConfirmScreen)
        dry_run = "\n".join(modal.confirmation.details)
        assert f"Runs already locked to {bad} keep it" in text and f"them): {locked} active now." in dry_run
        assert f"current: {bad} (deployed" in text and f"UTC, {WENT_LIVE_MINUTES} m ago)" in text
        assert r.transport.posts("/promote") == []  # nothing is sent before the confirmation
        await r.pilot.press(*"prod", "enter")
        await wait_note(r, "verified: deployments/current is " + good, timeout=10)
        assert r.engine.version == good
        assert r.transport.posts("/promote") == [f"/api/v1/deployments/{good}/promote"]
        assert ("GET", "/api/v1/deployments/current") in r.transport.requests
    [entry] = [e for e in read_entries(state_dir / "audit.jsonl") if e.action == "rollback"]
    assert entry.outcome == "ok" and entry.targets == (good,) and entry.env_type.upper() == "PRODUCTION"
    assert entry.request is not None and (entry.request["from"], entry.request["to"]) == (bad, good)
    assert entry.verification is not None and entry.verification["verified"] is True
    assert server.DEFAULT_SECRET_KEY not in (state_dir / "audit.jsonl").read_text()


async def test_read_only_refuses_the_rollback_and_audits_it(state_dir: Path) -> None:
    async with rig("healthy", read_only=True) as r:
        good, bad, _ = stage_bad_deploy(r.engine)
        offer_rollback(r.app, good)
        await open_rollback_finding(r)
        await r.pilot.press("b")
        await wait_note(r, "read-only")
        assert not isinstance(r.app.screen, ConfirmScreen)
        assert r.transport.posts("/promote") == [] and r.engine.version == bad
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert (entry.action, entry.outcome, entry.targets) == ("rollback", "refused", (good,))


async def test_no_in_the_confirmation_sends_nothing() -> None:
    async with rig("healthy") as r:
        good, bad, _ = stage_bad_deploy(r.engine)
        offer_rollback(r.app, good)
        await open_rollback_finding(r)
        await r.pilot.press("b")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        await r.pilot.press("n")
        await wait_for(r.pilot, lambda: not isinstance(r.app.screen, ConfirmScreen))
        assert r.transport.posts("/promote") == [] and r.engine.version == bad


async def test_the_key_is_offered_only_by_a_finding_that_rolls_back() -> None:
    async with rig("queue-paused") as r:
        await r.pilot.press("4")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, TriageScreen))
        screen = r.app.screen
        assert isinstance(screen, TriageScreen)
        await wait_for(r.pilot, lambda: screen.selected() is not None, timeout=15)
        assert not screen.check_action("recover", ("rollback",))
        assert "b Roll back" not in screen_text(r.app)
        await r.pilot.press("b")
        await r.pilot.pause(0.1)
        assert r.transport.posts("/promote") == []


async def test_b_on_the_diagnosis_of_a_run_starts_the_rollback_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    async with sim_console("healthy") as sim:
        good, _, _ = stage_bad_deploy(sim.engine)
        run_id = next(r.friendly for r in sim.engine.runs.values() if not r.final)
        finding = replace(rollback_finding(good), run_id=run_id)
        monkeypatch.setattr(diagnosis_screen, "diagnose", lambda facts, thresholds: finding)
        assert sim.app.session is not None
        screen = diagnosis_screen.DiagnosisScreen(sim.app.session, run_id)
        await sim.app.push_screen(screen)
        await wait_for(sim.pilot, lambda: screen.finding is finding, timeout=10)
        await wait_for(sim.pilot, lambda: "b Roll back" in screen_text(sim.app))
        await sim.pilot.press("b")
        flows = sim.app.session.flows
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("rollback", good)]
