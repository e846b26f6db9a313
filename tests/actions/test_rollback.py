"""The rollback action: its dry run, its confirmation, the audit line, verification, and read-only refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tui.actions import RollbackRefused, confirm_rollback
from tui.actions.audit import default_audit_path, read_entries
from tui.actions.results import Outcome
from tui.actions.runner import READ_ONLY_MESSAGE
from tui.api.errors import BadRequest, OutcomeUnknown
from tui.api.guard import WriteGuard
from tui.model import Promotion, RunStatus

from .conftest import RunnerFactory
from .fakes import NOW, SECRET, FakeEngine, make_deployment, make_run, settings

OLD, GOOD, BAD = "20261120.1", "20261127.1", "20261128.1"


def world(engine: FakeEngine) -> FakeEngine:
    """BAD went live 2 h ago over GOOD; two active runs are locked to BAD, one is not locked yet."""
    engine.deployments = [make_deployment(OLD, 8), make_deployment(GOOD, 1), make_deployment(BAD, 2 / 24)]
    engine.current_version = BAD
    runs = [
        replace(make_run("run_a"), version=BAD),
        replace(make_run("run_b", RunStatus.DEQUEUED), version=BAD),
        make_run("run_c", RunStatus.QUEUED),
        replace(make_run("run_d"), version=GOOD),
        replace(make_run("run_e", RunStatus.FAILED), version=BAD),
    ]
    engine.runs = {r.id: r for r in runs}
    return engine


async def test_the_dry_run_says_what_changes_and_that_locked_runs_keep_their_version(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    world(engine)
    plan = await make_runner().plan_rollback(GOOD)
    assert (plan.current.version, plan.target.version, plan.locked, plan.unlocked) == (BAD, GOOD, 2, 1)
    assert engine.requests == []  # a dry run only reads
    text = "\n".join(confirm_rollback(plan, settings(), NOW).details)
    assert f"current: {BAD} (deployed 2026-11-28 05:00 UTC, 2 h ago)" in text
    assert f"after:   {GOOD} (deployed 2026-11-27 07:00 UTC, 24 h ago)" in text
    assert f"Runs already locked to {BAD} keep it" in text and "them): 2 active now." in text
    assert f"New runs will run on {GOOD}, and so will active runs not locked to a version yet: 1 now." in text
    assert f"POST /api/v1/deployments/{GOOD}/promote?allowRollbacks=true" in text


@pytest.fixture
def ready(engine: FakeEngine) -> FakeEngine:
    return world(engine)


async def test_the_confirmation_names_production_in_words_and_both_versions(
    ready: FakeEngine, make_runner: RunnerFactory
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
    ready: FakeEngine, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    plan = await runner.plan_rollback(GOOD)
    sent = []
    result = await runner.rollback(plan, on_sent=sent.append)
    assert ready.requests == [("promote_deployment", f"{GOOD} allowRollbacks=True")]
    assert result.ok and result.message == f"rolled back from {BAD} to {GOOD}" and len(sent) == 1
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == f"deployments/current is {GOOD}"
    (entry,) = read_entries()
    assert entry.action == "rollback" and entry.targets == (GOOD,) and entry.outcome == "ok"
    path = f"/api/v1/deployments/{GOOD}/promote?allowRollbacks=true"
    assert entry.request == {"method": "POST", "path": path, "body": None, "from": BAD, "to": GOOD}
    assert entry.verification is not None and entry.verification["verified"] is True
    assert SECRET not in default_audit_path().read_text()


class Stubborn(FakeEngine):
    """Answers 200 to the promote but deployments/current never changes."""

    async def promote_deployment(self, version: str, *, allow_rollbacks: bool) -> Promotion:
        await self._mutate("promote_deployment", version)
        found = next(d for d in self.deployments if d.version == version)
        return Promotion(found.id, found.version, found.short_code)


async def test_verification_fails_when_current_does_not_follow(make_runner: RunnerFactory) -> None:
    engine = world(Stubborn())
    runner = make_runner(client=engine)
    result = await runner.rollback(await runner.plan_rollback(GOOD))
    assert result.ok and result.verification is not None and not result.verification.verified
    assert f"deployments/current is {BAD}" in result.summary and "NOT verified" in result.summary
    (entry,) = read_entries()
    assert entry.verification is not None and entry.verification["verified"] is False


async def test_a_lost_answer_is_unknown_then_settled_by_deployments_current(
    ready: FakeEngine, make_runner: RunnerFactory
) -> None:
    ready.fail["promote_deployment"] = OutcomeUnknown("timed out after 10 s")
    ready.apply_anyway = True
    runner = make_runner()
    result = await runner.rollback(await runner.plan_rollback(GOOD))
    assert result.outcome is Outcome.UNKNOWN and len(ready.requests) == 1
    assert result.verification is not None and result.verification.verified


async def test_a_refusal_by_the_server_is_failed_and_not_verified(
    ready: FakeEngine, make_runner: RunnerFactory
) -> None:
    ready.fail["promote_deployment"] = BadRequest("400: Deployment is already the current deployment.", status=400)
    runner = make_runner()
    result = await runner.rollback(await runner.plan_rollback(GOOD))
    assert result.outcome is Outcome.FAILED and result.status == 400 and result.verification is None
    assert "already the current deployment" in result.message


async def test_read_only_refuses_sends_nothing_and_audits_refused(make_runner: RunnerFactory) -> None:
    engine = world(FakeEngine(guard=WriteGuard(read_only=True)))
    runner = make_runner(client=engine)
    plan = await runner.plan_rollback(GOOD)  # the dry run is a read: read-only shows it
    result = await runner.rollback(plan)
    assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert engine.requests == [] and engine.current_version == BAD and result.verification is None
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
    ready: FakeEngine, make_runner: RunnerFactory, version: str, reason: str
) -> None:
    ready.deployments.append(replace(make_deployment("failed", 0.5), status="FAILED"))
    with pytest.raises(RollbackRefused, match=reason):
        await make_runner().plan_rollback(version)
    assert ready.requests == []


async def test_nothing_current_is_refused(ready: FakeEngine, make_runner: RunnerFactory) -> None:
    ready.current_version = None
    with pytest.raises(RollbackRefused, match="nothing to roll back from"):
        await make_runner().plan_rollback(GOOD)


def test_a_never_deployed_target_says_so() -> None:
    from tui.actions.rollback import deployed_phrase

    never = replace(make_deployment(GOOD, 1), deployed_at=None)
    assert deployed_phrase(never, NOW) == f"{GOOD} (never deployed)"
    assert deployed_phrase(make_deployment(GOOD, 1), NOW + timedelta(hours=5)).endswith("29 h ago)")
