"""The rollback's dry run: which version goes live again, and what happens to the runs already in flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tui.actions.ports import ActionClient
from tui.model import ACTIVE_STATUSES, Deployment, DeploymentStatus
from tui.model.duration import duration
from tui.model.text import clean

DEPLOYMENT_PAGES = 5
"""Pages of 100 deployments searched for the target version, newest first."""
RUN_PAGES = 20
"""Pages of 100 active runs counted before the dry run says "at least"."""


class RollbackRefused(ValueError):
    """The dry run shows the rollback cannot be sent as asked (no such version, already current, ...)."""


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    """What a rollback would change, read just before the confirmation."""

    current: Deployment
    target: Deployment
    locked: int
    """Active runs locked to the current version: a rollback leaves them on it."""
    unlocked: int
    """Active runs not locked to any version yet: they lock to the target when a worker takes them."""
    capped: bool = False
    """The count stopped at RUN_PAGES pages: the numbers are lower bounds."""

    @property
    def path(self) -> str:
        return f"/api/v1/deployments/{self.target.version}/promote?allowRollbacks=true"


def deployed_phrase(deployment: Deployment, now: datetime) -> str:
    """`20261203.2 (deployed 2026-12-03 09:00 UTC, 1 d 5 h ago)`."""
    at = deployment.deployed_at
    when = "never deployed" if at is None else f"deployed {at:%Y-%m-%d %H:%M} UTC, {duration(now - at, fine=False)} ago"
    return f"{clean(deployment.version, 40)} ({when})"


def dry_run_lines(plan: RollbackPlan, now: datetime) -> tuple[str, ...]:
    """The dry run in words: nothing here has been sent."""
    old, new = clean(plan.current.version, 40), clean(plan.target.version, 40)
    many = "at least " if plan.capped else ""
    return (
        f"current: {deployed_phrase(plan.current, now)}",
        f"after:   {deployed_phrase(plan.target, now)}",
        f"New runs will run on {new}, and so will active runs not locked to a version yet: {many}{plan.unlocked} now.",
        f"Runs already locked to {old} keep it (a rollback does not move them; cancel and replay them to move "
        f"them): {many}{plan.locked} active now.",
        f"Sends POST {clean(plan.path, 120)}, then checks GET /api/v1/deployments/current.",
    )


async def plan_rollback(client: ActionClient, version: str, now: datetime) -> RollbackPlan:
    """Read deployments/current, the target and the active runs; raises RollbackRefused or ApiError."""
    current = await client.current_deployment()
    if current is None:
        raise RollbackRefused("no deployment is current (deployments/current is 404): nothing to roll back from")
    if current.version == version:
        raise RollbackRefused(f"{clean(version, 40)} is already the current deployment")
    target = await _find(client, version)
    if target is None:
        raise RollbackRefused(f"no deployment has version {clean(version, 40)}")
    if target.status != DeploymentStatus.DEPLOYED:
        raise RollbackRefused(
            f"{clean(version, 40)} is {clean(target.status, 20)}: only a DEPLOYED version can go live"
        )
    locked, unlocked, capped = await _count(client, current.version)
    return RollbackPlan(current, target, locked, unlocked, capped)


async def _find(client: ActionClient, version: str) -> Deployment | None:
    after: str | None = None
    for _ in range(DEPLOYMENT_PAGES):
        page = await client.list_deployments(page_size=100, after=after)
        found = next((d for d in page.items if d.version == version), None)
        if found is not None or page.next is None:
            return found
        after = page.next
    return None


async def _count(client: ActionClient, version: str) -> tuple[int, int, bool]:
    """(locked to `version`, not locked yet, capped) over the active runs."""
    locked = unlocked = 0
    after: str | None = None
    for _ in range(RUN_PAGES):
        page = await client.list_runs(statuses=ACTIVE_STATUSES, page_size=100, after=after)
        locked += sum(1 for r in page.items if r.version == version)
        unlocked += sum(1 for r in page.items if not r.version)
        after = page.next
        if after is None:
            return locked, unlocked, False
    return locked, unlocked, True
