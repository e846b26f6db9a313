"""Rollback on the `bad-deploy` scenario, end to end: the real triage, `b`, dry run, confirmation, promote, verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.actions_sim import rig, wait_note
from tests.app.diagnosis_sim import sim_console
from tests.app.harness import wait_for
from tests.app.rollback_sim import locked_to, open_bad_deploy, rollback_target
from tests.app.screen_text import screen_text
from tui.actions import read_entries
from tui.diagnosis import Cause
from tui.screens.confirm import ConfirmScreen
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.triage import TriageScreen
from tui.sim import server


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def test_b_on_the_bad_deploy_rolls_production_back_after_naming_both_versions(state_dir: Path) -> None:
    async with rig("bad-deploy", production=True) as r:
        bad = r.engine.version
        _, finding = await open_bad_deploy(r)
        good = rollback_target(finding)
        assert good != bad
        await wait_for(r.pilot, lambda: "b Roll back" in screen_text(r.app))  # the footer offers it once it can act
        locked = locked_to(r.engine, bad)
        await r.pilot.press("b")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        text = screen_text(r.app)
        assert f"Roll back PRODUCTION from version {bad} to version {good}?" in text
        modal = r.app.screen
        assert isinstance(modal, ConfirmScreen)
        dry_run = "\n".join(modal.confirmation.details)
        assert f"current: {bad} (deployed 2026-11-28 07:36 UTC, 24 m ago)" in dry_run
        assert f"after:   {good} (deployed 2026-11-27 08:00 UTC, 24 h ago)" in dry_run
        assert f"Runs already locked to {bad} keep it" in dry_run and f"them): {locked} active now." in dry_run
        assert locked > 0 and r.transport.posts("/promote") == []  # nothing is sent before the confirmation
        await r.pilot.press(*"prod", "enter")
        await wait_note(r, "verified: deployments/current is " + good, timeout=10)
        assert r.engine.version == good
        assert r.transport.posts("/promote") == [f"/api/v1/deployments/{good}/promote"]
        assert ("GET", "/api/v1/deployments/current") in r.transport.requests
        assert locked_to(r.engine, bad) == locked  # runs already locked keep the bad version
    [entry] = [e for e in read_entries(state_dir / "audit.jsonl") if e.action == "rollback"]
    assert entry.outcome == "ok" and entry.targets == (good,) and entry.env_type.upper() == "PRODUCTION"
    assert entry.request is not None and (entry.request["from"], entry.request["to"]) == (bad, good)
    assert entry.verification is not None and entry.verification["verified"] is True
    assert server.DEFAULT_SECRET_KEY not in (state_dir / "audit.jsonl").read_text()


async def test_after_the_rollback_runs_not_locked_yet_run_on_the_previous_version() -> None:
    async with rig("bad-deploy") as r:
        bad = r.engine.version
        _, finding = await open_bad_deploy(r)
        good = rollback_target(finding)
        await r.pilot.press("b")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen), timeout=10)
        await r.pilot.press("y")
        await wait_note(r, "verified", timeout=10)
        bad_before = {run.iid for run in r.engine.runs.values() if run.version == bad}
        good_before = {run.iid for run in r.engine.runs.values() if run.version == good}
        r.engine.advance(240)
        newly = [run for run in r.engine.runs.values() if run.version == good and run.iid not in good_before]
        assert any(run.status == "COMPLETED_SUCCESSFULLY" for run in newly)
        assert all(r.engine.runs[iid].version == bad for iid in bad_before)


async def test_read_only_refuses_the_rollback_and_audits_it(state_dir: Path) -> None:
    async with rig("bad-deploy", read_only=True) as r:
        bad = r.engine.version
        _, finding = await open_bad_deploy(r)
        await r.pilot.press("b")
        await wait_note(r, "read-only")
        assert not isinstance(r.app.screen, ConfirmScreen)
        assert r.transport.posts("/promote") == [] and r.engine.version == bad
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert (entry.action, entry.outcome, entry.targets) == ("rollback", "refused", (rollback_target(finding),))


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


async def test_b_on_the_diagnosis_of_a_run_on_the_bad_version_starts_the_rollback() -> None:
    async with sim_console("bad-deploy") as sim:
        [finding] = [f for f in await sim.findings() if f.cause is Cause.DEPLOYMENT_UNRUNNABLE]
        assert sim.app.session is not None
        screen = DiagnosisScreen(sim.app.session, finding.runs[0])
        await sim.app.push_screen(screen)
        await wait_for(sim.pilot, lambda: screen.finding is not None, timeout=15)
        assert screen.finding is not None and screen.finding.cause is Cause.DEPLOYMENT_UNRUNNABLE
        await wait_for(sim.pilot, lambda: "b Roll back" in screen_text(sim.app))
        await sim.pilot.press("b")
        flows = sim.app.session.flows
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("rollback", rollback_target(finding))]
