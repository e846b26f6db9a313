"""The `bad-deploy` scenario in the console: its deployment_unrunnable finding under the triage cursor."""

from __future__ import annotations

from typing import Any

from tests.app.actions_sim import Rig
from tests.app.harness import wait_for
from tui.diagnosis import Action, Cause, Finding
from tui.screens.triage import TriageScreen, finding_key

ACTIVE_DB = ("PENDING", "DEQUEUED", "EXECUTING", "WAITING_TO_RESUME")
"""The engine's statuses the API lists as QUEUED, DEQUEUED, EXECUTING and WAITING."""


def rollback_target(finding: Finding) -> str:
    """The version the finding's rollback step promotes again."""
    [target] = [step.target for step in finding.recovery if step.action is Action.ROLLBACK and step.target]
    return target


def locked_to(engine: Any, version: str) -> int:
    """Active runs locked to `version`, as the engine holds them."""
    return sum(1 for r in engine.runs.values() if r.version == version and r.status in ACTIVE_DB)


async def open_finding(r: Rig, cause: Cause, recovery: str) -> tuple[TriageScreen, Finding]:
    """The triage pane with the finding of `cause` under the cursor, once its `recovery` key can act."""
    await r.pilot.press("4")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, TriageScreen))
    screen = r.app.screen
    assert isinstance(screen, TriageScreen)

    def found() -> Finding | None:
        return next((f for f in screen.findings if f.cause is cause), None)

    await wait_for(r.pilot, lambda: found() is not None, timeout=15)
    finding = found()
    assert finding is not None
    await wait_for(r.pilot, lambda: screen.table.move_to(finding_key(finding)) and screen.selected() is not None)
    await wait_for(r.pilot, lambda: screen.check_action("recover", (recovery,)) is True)
    return screen, finding


async def open_bad_deploy(r: Rig) -> tuple[TriageScreen, Finding]:
    """The triage pane with the bad deploy's finding under the cursor."""
    return await open_finding(r, Cause.DEPLOYMENT_UNRUNNABLE, "rollback")


async def bad_deploy_finding(r: Rig) -> None:
    """Matrix step: the bad deploy's finding selected in the triage pane."""
    await open_bad_deploy(r)
