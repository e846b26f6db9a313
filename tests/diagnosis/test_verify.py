"""Verify checks tick as fresh observations show them holding."""

from __future__ import annotations

from tui.config import Thresholds
from tui.diagnosis.decide import diagnose
from tui.diagnosis.findings import VerifyCheck, VerifyKind
from tui.diagnosis.verify import Observation, VerifyState, evaluate, evaluate_all, merge, observation_from_env
from tui.model import RunStatus, TokenStatus

from .factories import env, facts, metrics, qf, queue, run


def test_queue_depth_back_to_normal() -> None:
    check = VerifyCheck(VerifyKind.QUEUE_DEPTH_NORMAL, "depth", "task/agent-turn", baseline=412, threshold=10)
    assert evaluate(check, Observation()).state is VerifyState.UNKNOWN
    high = evaluate(check, Observation(queues={"task/agent-turn": queue(queued=120)}))
    assert high.state is VerifyState.PENDING and high.detail == "queued 120 (was 412, normal ≤ 10)"
    assert evaluate(check, Observation(queues={"task/agent-turn": queue(queued=10)})).holds


def test_run_reaches_expected_status() -> None:
    check = VerifyCheck(VerifyKind.RUN_STATUS, "run", "run_a", expected=("CANCELED",))
    assert evaluate(check, Observation(runs={"run_a": RunStatus.EXECUTING})).state is VerifyState.PENDING
    assert evaluate(check, Observation(runs={"run_a": RunStatus.CANCELED})).holds


def test_new_runs_flowing_means_started_count_rises() -> None:
    q = queue()
    check = VerifyCheck(VerifyKind.RUNS_FLOWING, "flow", q.stored_name, baseline=0)
    assert evaluate(check, Observation(metrics={q.stored_name: metrics(q, 0)})).state is VerifyState.PENDING
    assert evaluate(check, Observation(metrics={q.stored_name: metrics(q, 3)})).holds


def test_token_completed() -> None:
    check = VerifyCheck(VerifyKind.TOKEN_COMPLETED, "token", "waitpoint_1")
    assert evaluate(check, Observation(tokens={"waitpoint_1": TokenStatus.WAITING})).state is VerifyState.PENDING
    assert evaluate(check, Observation(tokens={"waitpoint_1": TokenStatus.TIMED_OUT})).state is VerifyState.PENDING
    assert evaluate(check, Observation(tokens={"waitpoint_1": TokenStatus.COMPLETED})).holds


def test_a_paused_queue_checklist_ticks_through_after_resume() -> None:
    before = env(qf(queue(queued=37, paused=True), started=0))
    finding = diagnose(facts(run("run_q", age=600), before), Thresholds())
    results = evaluate_all(finding.verify, observation_from_env(before))
    assert [r.state for r in results] == [VerifyState.PENDING, VerifyState.PENDING]
    after = env(qf(queue(queued=4, running=10), started=12))
    obs = merge(observation_from_env(before), observation_from_env(after))
    assert all(r.holds for r in evaluate_all(finding.verify, obs))
