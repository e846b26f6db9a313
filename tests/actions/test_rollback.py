"""The rollback action: its dry run, its confirmation, the audit line, verification, and read-only refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.simclient import SECRET, Sim, seed_run, settings, sim
from tui.actions import RollbackRefused, confirm_rollback
from tui.actions.audit import default_audit_path, read_entries
from tui.actions.results import Outcome
from tui.actions.runner import READ_ONLY_MESSAGE
from tui.api.guard import WriteGuard
from tui.model import Deployment
from tui.sim import state
from tui.sim.engine import Engine

from .conftest import RunnerFactory

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
OLD, GOOD, BAD = "20261120.1", "20261127.1", "20261128.1"


def deployment(engine: Engine, version: str, days: float, status: str = "DEPLOYED") -> state.Deployment:
    """A deployment that went live `days` before NOW (ids sort by creation, as the server's do)."""
    at = NOW - timedelta(days=days)
    made = state.Deployment(f"deployment_{engine.new_id()}", f"sc{version[-1]}", version, status, at, at)
    engine.deployments.append(made)
    return made


@pytest.fixture
def world() -> Sim:
    """BAD went live 2 h ago over GOOD; two active runs are locked to BAD, one is not locked yet."""
    made = sim(start=NOW)
    engine = made.engine
    engine.deployments.clear()
    for version, days in ((OLD, 8), (GOOD, 1), (BAD, 2 / 24)):
        deployment(engine, version, days)
    engine.version = BAD
    seed_run(engine, "agent-turn", version=BAD)
    seed_run(engine, "agent-turn", "DEQUEUED", version=BAD)
    seed_run(engine, "agent-turn", "QUEUED")
    seed_run(engine, "agent-turn", version=GOOD)
    seed_run(engine, "agent-turn", "FAILED", version=BAD)
    return made


async def test_the_dry_run_says_what_changes_and_that_locked_runs_keep_their_version(
    world: Sim, make_runner: RunnerFactory
) -> None:
    plan = await make_runner().plan_rollback(GOOD)
    assert (plan.current.version, plan.target.version, plan.locked, plan.unlocked) == (BAD, GOOD, 2, 1)
    assert world.transport.posts() == []  # a dry run only reads
    text = "\n".join(confirm_rollback(plan, settings(), NOW).details)
    assert f"current: {BAD} (deployed 2026-11-28 05:00 UTC, 2 h ago)" in text
    assert f"after:   {GOOD} (deployed 2026-11-27 07:00 UTC, 24 h ago)" in text
    assert f"Runs already locked to {BAD} keep it" in text and "them): 2 active now." in text
    assert f"New runs will run on {GOOD}, and so will active runs not locked to a version yet: 1 now." in text
    assert f"POST /api/v1/deployments/{GOOD}/promote?allowRollbacks=true" in text


async def test_the_confirmation_names_production_in_words_and_both_versions(
    world: Sim, make_runner: RunnerFactory
) -> None:
    conf = settings(production=True)
    plan = await make_runner(conf).plan_rollback(GOOD)
    confirmation = confirm_rollback(plan, conf, NOW)
    assert confirmation.effect == f"Roll back PRODUCTION (prod-eu) from version {BAD} to version {GOOD}?"
    assert confirmation.environment.production and confirmation.typing_required
    assert confirmation.expected_text == "prod-eu" and confirmation.targets == (GOOD,)
    quiet = confirm_rollback(plan, settings(), NOW)
    assert quiet.effect == f"Roll back development from version {BAD} to version {GOOD}?"
    assert not quiet.typing_required


async def test_a_rollback_is_sent_once_audited_with_both_versions_and_verified(
    world: Sim, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    plan = await runner.plan_rollback(GOOD)
    sent = []
    result = await runner.rollback(plan, on_sent=sent.append)
    assert world.transport.posts() == [f"/api/v1/deployments/{GOOD}/promote"]
    assert world.transport.urls[-2].params["allowRollbacks"] == "true"  # the promote, then one verification read
    assert result.ok and result.message == f"rolled back from {BAD} to {GOOD}" and len(sent) == 1
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == f"deployments/current is {GOOD}"
    (entry,) = read_entries()
    assert entry.action == "rollback" and entry.targets == (GOOD,) and entry.outcome == "ok"
    path = f"/api/v1/deployments/{GOOD}/promote?allowRollbacks=true"
    assert entry.request == {"method": "POST", "path": path, "body": None, "from": BAD, "to": GOOD}
    assert entry.verification is not None and entry.verification["verified"] is True
    assert SECRET not in default_audit_path().read_text()


async def test_verification_fails_when_current_does_not_follow(world: Sim, make_runner: RunnerFactory) -> None:
    # A server that answers 200 to the promote and never changes deployments/current.
    good = next(d for d in world.engine.deployments if d.version == GOOD)
    answer = {"id": good.id, "version": good.version, "shortCode": good.short_code}
    world.transport.fail["/promote"] = httpx.Response(200, json=answer)
    runner = make_runner()
    result = await runner.rollback(await runner.plan_rollback(GOOD))
    assert result.ok and result.verification is not None and not result.verification.verified
    assert f"deployments/current is {BAD}" in result.summary and "NOT verified" in result.summary
    (entry,) = read_entries()
    assert entry.verification is not None and entry.verification["verified"] is False


async def test_a_lost_answer_is_unknown_then_settled_by_deployments_current(
    world: Sim, make_runner: RunnerFactory
) -> None:
    world.transport.timeout["/promote"] = True  # the server promotes; its answer is lost
    runner = make_runner()
    result = await runner.rollback(await runner.plan_rollback(GOOD))
    assert result.outcome is Outcome.UNKNOWN and len(world.transport.posts()) == 1
    assert result.verification is not None and result.verification.verified


async def test_a_refusal_by_the_server_is_failed_and_not_verified(world: Sim, make_runner: RunnerFactory) -> None:
    runner = make_runner()
    plan = await runner.plan_rollback(GOOD)
    world.engine.promote(GOOD, allow_rollbacks=True)  # another operator got there between the plan and the send
    result = await runner.rollback(plan)
    assert result.outcome is Outcome.FAILED and result.status == 400 and result.verification is None
    assert "already the current deployment" in result.message


async def test_read_only_refuses_sends_nothing_and_audits_refused(world: Sim, make_runner: RunnerFactory) -> None:
    runner = make_runner(client=world.client(guard=WriteGuard(read_only=True)))
    plan = await runner.plan_rollback(GOOD)  # the dry run is a read: read-only shows it
    result = await runner.rollback(plan)
    assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert world.transport.posts() == [] and world.engine.version == BAD and result.verification is None
    (entry,) = read_entries()
    assert entry.action == "rollback" and entry.outcome == "refused"


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (BAD, "already the current deployment"),
        ("20990101.1", "no deployment has version 20990101.1"),
        ("failed", "is FAILED: only a DEPLOYED version can go live"),
    ],
)
async def test_the_dry_run_refuses_what_cannot_be_sent(
    world: Sim, make_runner: RunnerFactory, version: str, reason: str
) -> None:
    deployment(world.engine, "failed", 0.5, status="FAILED")
    with pytest.raises(RollbackRefused, match=reason):
        await make_runner().plan_rollback(version)
    assert world.transport.posts() == []


async def test_nothing_current_is_refused(world: Sim, make_runner: RunnerFactory) -> None:
    world.engine.version = "20261101.1"  # no deployment record is current: deployments/current is 404
    with pytest.raises(RollbackRefused, match="nothing to roll back from"):
        await make_runner().plan_rollback(GOOD)


def test_a_never_deployed_target_says_so() -> None:
    from tui.actions.rollback import deployed_phrase

    good = Deployment("deployment_1", "sc1", GOOD, "DEPLOYED", NOW - timedelta(days=1), NOW - timedelta(days=1))
    never = replace(good, deployed_at=None)
    assert deployed_phrase(never, NOW) == f"{GOOD} (never deployed)"
    assert deployed_phrase(good, NOW + timedelta(hours=5)).endswith("29 h ago)")
