"""A bad deploy on the simulator, and a triage that offers its rollback, until the `bad-deploy` scenario lands."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.app.actions_sim import Rig
from tests.app.harness import wait_for
from tui.app import PlatosApp
from tui.diagnosis import Action, Cause, Finding, Recovery
from tui.screens.session import TriageResult
from tui.screens.triage import TriageScreen
from tui.sim.state import Deployment

WENT_LIVE_MINUTES = 20


def stage_bad_deploy(engine: Any) -> tuple[str, str, int]:
    """Version B promoted 20 min ago over A, the previous DEPLOYED version; some active runs locked to B.

    Returns (A, B, how many active runs are locked to B).
    """
    good = engine.deployments[-1].version
    bad = f"{engine.now:%Y%m%d}.9"
    went_live = engine.now - timedelta(minutes=WENT_LIVE_MINUTES)
    engine.deployments.append(Deployment("deployment_bad", "bad9", bad, "DEPLOYED", went_live, went_live))
    engine.version = bad
    active = [r for r in engine.runs.values() if not r.final and r.version is not None][:3]
    for run in active:
        run.version = bad
    return good, bad, len(active)


def rollback_finding(target: str) -> Finding:
    recovery = (Recovery(f"Roll back to {target}", Action.ROLLBACK, target=target),)
    return Finding(Cause.UNKNOWN, "runs on the new version fail", ("bad deploy",), recovery)


def offer_rollback(app: PlatosApp, target: str) -> None:
    """Every triage of this app also finds the bad deploy (on this session only: nothing global is patched)."""
    session = app.session
    assert session is not None
    real = session._run_triage

    async def with_bad_deploy(generation: int) -> TriageResult:
        result = await real(generation)
        return replace(result, findings=[*result.findings, rollback_finding(target)])

    session._run_triage = with_bad_deploy  # type: ignore[method-assign]


async def open_rollback_finding(r: Rig) -> TriageScreen:
    """The triage pane with the rollback finding under the cursor."""
    await r.pilot.press("4")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, TriageScreen))
    screen = r.app.screen
    assert isinstance(screen, TriageScreen)

    def selected() -> bool:
        finding = screen.selected()
        return finding is not None and any(step.action is Action.ROLLBACK for step in finding.recovery)

    await wait_for(r.pilot, selected, timeout=15)
    return screen


async def bad_deploy_finding(r: Rig) -> None:
    """Matrix step: stage the bad deploy, offer its rollback, select the finding."""
    good, _, _ = stage_bad_deploy(r.engine)
    offer_rollback(r.app, good)
    await open_rollback_finding(r)
