"""End to end against the simulator: triage names each scenario's cause, diagnose agrees with real numbers,
and following the offered recovery makes the verify checklist tick."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.diagnosis.situations import World, make_world
from tui.actions.inputs import from_query
from tui.diagnosis.findings import Action, Cause, Finding, VerifyKind
from tui.diagnosis.gather import gather_environment_facts
from tui.diagnosis.observe import observe
from tui.diagnosis.triage import triage
from tui.diagnosis.verify import VerifyState, evaluate_all

server = pytest.importorskip("tui.sim.server")

SCENARIO_CAUSE = {
    "worker-pool-zero": "worker_pool_empty",
    "queue-paused": "queue_paused",
    "concurrency-cap": "concurrency_at_cap",
    "long-blocker": "long_running_blocker",
    "entity-offline": "entity_backend_unreachable",
    "orphan-waitpoint": "waitpoint_without_resumer",
    "queue-drift": "queue_state_drift",
    "bad-deploy": "deployment_unrunnable",
    "pending-version": "pending_version",
    "resume-lost": "resume_lost",
    "orphaned-run": "run_orphaned",
    "env-deadlock": "deadlock_at_env_limit",
    "worker-crashed": "worker_crashed",
    "schedule-pileup": "schedule_pileup",
}
QUEUE_LINE = re.compile(r"queue (\S+): queued (\d+), running (\d+), limit (\d+|none)")


Sim = World


@pytest.fixture
async def open_sim() -> AsyncIterator[Any]:
    opened: list[World] = []

    def make(scenario: str, *, admin: bool = False) -> World:
        opened.append(make_world(scenario, admin=admin))
        return opened[-1]

    yield make
    for made in opened:
        await made.client.aclose()


async def _assert_queue_lines_are_live(sim: Sim, evidence: list[str]) -> int:
    """Every `queue X: queued N, running M, limit L` line cites the simulator's current numbers."""
    live = {q.stored_name: q for q in await sim.client.list_queues()}
    cited = 0
    for line in evidence:
        for name, queued, running, _limit in QUEUE_LINE.findall(line):
            assert (live[name].queued, live[name].running) == (int(queued), int(running)), line
            cited += 1
    return cited


async def test_healthy_has_no_findings(open_sim: Any) -> None:
    code, data = await open_sim("healthy").triage()
    assert data["findings"] == [], [f["summary"] for f in data["findings"]]
    assert code == 0 and data["runs"] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIO_CAUSE))
async def test_triage_and_diagnose_name_the_scenario_cause(scenario: str, open_sim: Any) -> None:
    cause = SCENARIO_CAUSE[scenario]
    sim = open_sim(scenario)
    code, data = await sim.triage()
    assert code == 1
    assert [f["cause"] for f in data["findings"]] == [cause], [f["summary"] for f in data["findings"]]
    finding = data["findings"][0]
    assert finding["runs"] and set(finding["runs"]) <= set(data["runs"])
    assert re.search(r"\d", finding["summary"])
    diagnosis = await sim.diagnose(finding["runs"][0])
    assert diagnosis["cause"] == cause, diagnosis["summary"]
    assert diagnosis["run"] == finding["runs"][0]
    assert diagnosis["recovery"] and diagnosis["verify"] and len(diagnosis["path"]) == 11
    queue_cause = cause in ("worker_pool_empty", "queue_paused", "concurrency_at_cap", "long_running_blocker",
                            "queue_state_drift", "schedule_pileup")
    cited = await _assert_queue_lines_are_live(sim, diagnosis["evidence"])
    assert cited >= (1 if queue_cause else 0)


async def test_entity_evidence_names_the_entity_and_the_open_call(open_sim: Any) -> None:
    sim = open_sim("entity-offline")
    _, data = await sim.triage()
    [finding] = data["findings"]
    assert finding["entity"] == "crm"
    summary = finding["summary"]
    hung = re.match(r"HUNG: (\d+) runs hung calling entity `crm` \((\d+) open calls past 2 m, none answered", summary)
    assert hung and hung.group(1) == hung.group(2), summary
    behind = re.search(r"oldest call \d+ m; (\d+) more wait behind them in task/agent-turn", summary)
    assert behind, summary
    assert len(finding["runs"]) == int(hung.group(1)) + int(behind.group(1))
    diagnosis = await sim.diagnose(finding["runs"][0])
    assert any("open tool call tool crm." in e and "per-call threshold 2 m" in e for e in diagnosis["evidence"])


async def test_orphan_tokens_are_really_waiting(open_sim: Any) -> None:
    sim = open_sim("orphan-waitpoint")
    _, data = await sim.triage()
    tokens = [r["target"] for r in data["findings"][0]["recovery"] if r["action"] == "complete_token"]
    assert tokens
    for token_id in tokens:
        detail = await sim.client.retrieve_token(token_id)
        assert detail.token.status.value == "WAITING" and detail.token.timeout_at is None


async def test_drift_with_admin_token_uses_the_dry_run(open_sim: Any) -> None:
    sim = open_sim("queue-drift", admin=True)
    code, data = await sim.triage()
    assert code == 1 and [f["cause"] for f in data["findings"]] == ["queue_state_drift"]
    report = await sim.client.repair_queues(dry_run=True)
    leaks = dict(report.queues)["task/process-video"].leaks
    assert any(
        f"admin dry run: {len(leaks)} leaked slots in task/process-video" in e for e in data["findings"][0]["evidence"]
    )
    assert data["checked"]["admin"] is True


async def test_incident_shows_every_fault_worst_first(open_sim: Any) -> None:
    code, data = await open_sim("incident", admin=True).triage()
    causes = [f["cause"] for f in data["findings"]]
    assert code == 1
    assert {
        "queue_state_drift",
        "queue_paused",
        "entity_backend_unreachable",
        "waitpoint_without_resumer",
    } <= set(causes)
    assert causes.index("queue_paused") < causes.index("entity_backend_unreachable")


async def _recover(sim: Sim, finding: Finding) -> None:
    """Do what the finding offers: the in-app actions through the API, the external steps on the simulator."""
    queues = {q.stored_name: q for q in await sim.client.list_queues()}
    for step in finding.recovery:
        target = step.target or ""
        if step.action is Action.CANCEL:
            await sim.client.cancel_run(target)
        elif step.action is Action.RESUME_QUEUE:
            await sim.client.pause_queue(queues[target], False)
        elif step.action is Action.COMPLETE_TOKEN:
            await sim.client.complete_token(target, {"approved": True})
        elif step.action is Action.REPAIR_QUEUES:
            await sim.client.repair_queues([target], dry_run=False)
        elif step.action is Action.OVERRIDE_CONCURRENCY:
            await sim.client.override_concurrency(queues[target], 40)
        elif step.action is Action.CANCEL_MATCHING:
            await sim.client.create_bulk_action("cancel", filter=from_query(target).bulk_filter())
            sim.engine.advance(60)  # the bulk action works in batches
        elif step.action is Action.ROLLBACK:
            await sim.client.promote_deployment(target, allow_rollbacks=True)
        elif step.external == "scale-workers":
            sim.engine.scale_workers(10)


# worker-crashed is left out for the same reason as queue-paused: its queue has one slot, so the depth wobbles above
# the normal depth of one long after the zombie is cancelled.
# queue-paused is left out: the scenario's arrival rate (2/min) matches the queue's throughput (4 slots, ~2 min
# per run), so after resume the runs flow but the depth never returns to normal; the test below shows that.
@pytest.mark.parametrize(
    "scenario",
    [
        "worker-pool-zero", "concurrency-cap", "long-blocker", "orphan-waitpoint", "queue-drift",
        "bad-deploy", "resume-lost", "orphaned-run", "schedule-pileup",
    ],
)
async def test_following_the_recovery_ticks_the_verify_checklist(scenario: str, open_sim: Any) -> None:
    sim = open_sim(scenario, admin=True)
    env = await gather_environment_facts(sim.client, sim.settings.thresholds, sim.engine.now)
    [finding] = triage(env, sim.settings.thresholds)
    assert finding.cause is Cause(SCENARIO_CAUSE[scenario])
    before = evaluate_all(finding.verify, await observe(sim.client, finding.verify))
    assert any(r.state is VerifyState.PENDING for r in before)
    await _recover(sim, finding)
    for _ in range(12):
        sim.engine.advance(300)
        after = evaluate_all(finding.verify, await observe(sim.client, finding.verify))
        if all(r.holds for r in after):
            break
    assert all(r.holds for r in after), [r.detail for r in after if not r.holds]


async def test_resumed_queue_flows_again(open_sim: Any) -> None:
    sim = open_sim("queue-paused")
    env = await gather_environment_facts(sim.client, sim.settings.thresholds, sim.engine.now)
    [finding] = triage(env, sim.settings.thresholds)
    await _recover(sim, finding)
    sim.engine.advance(300)
    results = {r.check.kind: r for r in evaluate_all(finding.verify, await observe(sim.client, finding.verify))}
    assert results[VerifyKind.RUNS_FLOWING].holds
    live = {q.stored_name: q for q in await sim.client.list_queues()}
    assert not live["task/process-video"].paused
