"""Diagnose one run from hand-built facts: every cause, ambiguous mixtures, thresholds, the runbook path."""

from __future__ import annotations

from dataclasses import replace

from tui.config import Thresholds
from tui.diagnosis.decide import CHECK_BLOCKER, CHECK_DEQUEUE, CHECK_POOL, diagnose
from tui.diagnosis.findings import Action, Cause, Outcome, VerifyKind
from tui.model import QueueType, RunStatus, TokenStatus

from .factories import (
    env,
    facts,
    leak,
    qf,
    queue,
    repair,
    run,
    token,
    tool_span,
    trace,
    wait_span,
)

TH = Thresholds()


def stalled_env(**kw: object):
    """Three backlogged queues, free slots, nothing started anywhere in the window."""
    return env(
        qf(queue("agent-turn", queued=300, running=0, limit=10), started=0),
        qf(queue("send-email", queued=100, running=0, limit=5), started=0),
        qf(queue("shared", type_=QueueType.CUSTOM, queued=12, running=0, limit=None), started=0),
        **kw,
    )


# ---------------------------------------------------------------- not stuck


def test_terminal_run_is_not_stuck_and_nothing_else_is_claimed() -> None:
    f = diagnose(facts(run("run_done", RunStatus.COMPLETED, age=7200), stalled_env()), TH)
    assert f.cause is Cause.NOT_STUCK
    assert f.also_true == ()
    assert "COMPLETED" in f.summary and f.run_id == "run_done"
    assert f.recovery == () and f.verify == ()


def test_executing_within_window_is_not_stuck() -> None:
    r = run("run_a", RunStatus.EXECUTING, in_status=30)
    e = env(qf(queue(running=1), started=40))
    f = diagnose(facts(r, e, tr=trace(r, tool_span("crm", 30))), TH)
    assert f.cause is Cause.NOT_STUCK
    assert "30 s" in f.summary and "15 m" in f.summary


def test_young_queued_run_in_a_busy_queue_at_cap_is_not_stuck_and_the_cap_is_no_finding() -> None:
    e = env(qf(queue(running=10, queued=50, limit=10), started=120))
    f = diagnose(facts(run("run_q", age=30), e), TH)
    assert f.cause is Cause.NOT_STUCK
    assert f.also_true == ()  # a fresh backlog at the cap is a busy queue, not an incident


# ---------------------------------------------------------------- each cause


def test_worker_pool_empty() -> None:
    f = diagnose(facts(run("run_q", age=1080), stalled_env()), TH)
    assert f.cause is Cause.WORKER_POOL_EMPTY
    assert "412 runs waiting" in f.summary and "3 queues" in f.summary
    assert any("started in last 15m: 0 in all 3 queues" in e for e in f.evidence)
    assert any("queue task/agent-turn: queued 300, running 0, limit 10" in e for e in f.evidence)
    assert [r.external for r in f.recovery] == ["scale-workers"]
    kinds = {v.kind for v in f.verify}
    assert kinds == {VerifyKind.RUNS_FLOWING, VerifyKind.QUEUE_DEPTH_NORMAL}
    assert f.run_id == "run_q" and f.summary.startswith("run_q: ")


def test_worker_pool_empty_needs_every_queue_to_be_idle() -> None:
    e = stalled_env()
    busy = qf(queue("other", running=2, queued=0, limit=10), started=30)
    e = replace(e, queues=(*e.queues, busy))
    f = diagnose(facts(run("run_q", age=1080), e), TH)
    # Something dequeues, so workers exist, but none pulls here with slots free: too few of them.
    assert f.cause is Cause.WORKER_POOL_UNDERSIZED


def test_worker_pool_empty_is_not_concluded_without_metrics() -> None:
    e = env(qf(queue(queued=300, running=0, limit=10)), qf(queue("b", queued=3), started=0))
    f = diagnose(facts(run("run_q", age=1080), e), TH)
    assert f.cause is Cause.UNKNOWN
    pool = next(s for s in f.path if s.check == CHECK_POOL)
    assert pool.outcome is Outcome.UNKNOWN


def test_queue_paused() -> None:
    e = env(qf(queue(queued=37, running=0, paused=True), started=0), qf(queue("b", running=3), started=50))
    f = diagnose(facts(run("run_q", age=600), e), TH)
    assert f.cause is Cause.QUEUE_PAUSED
    assert "37 queued" in f.summary
    assert [(r.action, r.key, r.target) for r in f.recovery] == [(Action.RESUME_QUEUE, "p", "task/agent-turn")]


def test_young_run_in_a_paused_queue_is_not_stuck_yet_but_the_pause_is_named() -> None:
    e = env(qf(queue(queued=37, paused=True), started=0))
    f = diagnose(facts(run("run_q", age=5), e), TH)
    assert f.cause is Cause.NOT_STUCK and f.also_true == (Cause.QUEUE_PAUSED,)


def test_environment_paused() -> None:
    e = stalled_env(paused=True)
    f = diagnose(facts(run("run_q", age=600), e), TH)
    assert f.cause is Cause.QUEUE_PAUSED
    assert "environment prod is paused" in f.summary
    assert f.recovery[0].external == "resume-environment"
    assert Cause.WORKER_POOL_EMPTY not in f.also_true  # a paused environment explains the stall


def test_concurrency_at_cap_queue_limit() -> None:
    e = env(qf(queue(running=10, queued=50, limit=10), started=120))
    f = diagnose(facts(run("run_q", age=600), e), TH)
    assert f.cause is Cause.CONCURRENCY_AT_CAP
    assert "running 10 of 10 (queue limit)" in f.summary and "120 started" in f.summary
    assert f.recovery[0].action is Action.OVERRIDE_CONCURRENCY and f.recovery[0].key == "o"


def test_concurrency_at_cap_environment_limit() -> None:
    e = env(
        qf(queue("a", running=6, queued=40, limit=None), started=30),
        qf(queue("b", running=4, queued=0, limit=None), started=20),
        limit=10,
    )
    f = diagnose(facts(run("run_q", age=600, task="a"), e, queue_name="task/a"), TH)
    assert f.cause is Cause.CONCURRENCY_AT_CAP
    assert "environment" in f.summary
    assert f.recovery[0].external == "env-limit"


def test_long_running_blocker_names_the_blockers() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200 + i * 60) for i in range(3))
    e = env(qf(queue(running=3, queued=40, limit=3), started=0, holders=holders))
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.LONG_RUNNING_BLOCKER
    assert all(h.id in f.runs for h in holders)
    assert [r.target for r in f.recovery] == ["run_h2", "run_h1", "run_h0"]  # oldest first
    assert all(r.key == "c" for r in f.recovery)
    assert any("run_h2 (agent-turn, EXECUTING 2 h 2 m)" in e for e in f.evidence)
    checks = [v for v in f.verify if v.kind is VerifyKind.RUN_STATUS]
    assert {v.target for v in checks} == {"run_h0", "run_h1", "run_h2"} and checks[0].expected == ("CANCELED",)


def test_diagnosing_a_blocker_itself_says_so() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200) for i in range(3))
    e = env(qf(queue(running=3, queued=40, limit=3), started=0, holders=holders))
    f = diagnose(facts(holders[0], e), TH)
    assert f.cause is Cause.LONG_RUNNING_BLOCKER


def test_young_holders_are_not_blockers_the_cap_holds_the_run() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=60) for i in range(3))
    e = env(qf(queue(running=3, queued=40, limit=3), started=0, holders=holders))
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.CONCURRENCY_AT_CAP
    blocker = next(s for s in f.path if s.check == CHECK_BLOCKER)
    assert blocker.outcome is Outcome.NO


def test_unknown_lists_every_check() -> None:
    e = env(qf(queue(running=2, limit=10), started=30))
    f = diagnose(facts(run("run_q", RunStatus.DEQUEUED, in_status=1080), e), TH)
    assert f.cause is Cause.UNKNOWN
    assert "none of the known causes fits" in f.summary
    checked = [line for line in f.evidence if line.startswith("checked: ")]
    assert len(checked) == 10
    assert any(CHECK_DEQUEUE in line and line.endswith("→ no") for line in checked)
    assert f.recovery[0].action is Action.CANCEL


def test_entity_backend_unreachable() -> None:
    r = run("run_e", RunStatus.EXECUTING, in_status=700)
    f = diagnose(facts(r, env(qf(queue(running=1), started=3)), tr=trace(r, tool_span("crm", 600))), TH)
    assert f.cause is Cause.ENTITY_BACKEND_UNREACHABLE
    assert f.entity == "crm"
    assert "10 m calling entity `crm`" in f.summary and "2 m" in f.summary
    assert [r.external for r in f.recovery if r.external] == ["check-entity"]
    assert [(r.action, r.target) for r in f.recovery if r.action] == [(Action.CANCEL, "run_e")]


def test_tool_call_threshold_comes_from_the_profile() -> None:
    r = run("run_e", RunStatus.EXECUTING, in_status=700)
    fx = facts(r, env(qf(queue(running=1), started=3)), tr=trace(r, tool_span("crm", 600)))
    assert diagnose(fx, Thresholds(tool_call_seconds=900)).cause is Cause.NOT_STUCK
    assert diagnose(fx, Thresholds(tool_call_seconds=300)).cause is Cause.ENTITY_BACKEND_UNREACHABLE


def test_waitpoint_without_resumer() -> None:
    r = run("run_w", RunStatus.WAITING, in_status=7000)
    tr = trace(r, wait_span("waitpoint_1", 7000), tokens=(token("waitpoint_1", age=7000),))
    f = diagnose(facts(r, env(qf(queue(), started=3)), tr=tr), TH)
    assert f.cause is Cause.WAITPOINT_WITHOUT_RESUMER
    assert "no timeout" in f.summary and "1 h 56 m" in f.summary
    assert f.recovery[0].action is Action.COMPLETE_TOKEN and f.recovery[0].key == "r"
    assert f.recovery[0].target == "waitpoint_1"
    assert {v.kind for v in f.verify} == {VerifyKind.TOKEN_COMPLETED, VerifyKind.RUN_STATUS}


def test_waitpoint_with_a_near_timeout_or_under_threshold_is_not_an_orphan() -> None:
    r = run("run_w", RunStatus.WAITING, in_status=7000)
    near = trace(r, wait_span("waitpoint_1", 7000), tokens=(token("waitpoint_1", age=7000, timeout_in=600),))
    f = diagnose(facts(r, env(qf(queue(), started=3)), tr=near), TH)
    assert f.cause is Cause.NOT_STUCK and "times out in 10 m" in f.summary  # its timeout is its resumer
    day = trace(r, wait_span("waitpoint_1", 7000), tokens=(token("waitpoint_1", age=7000, timeout_in=86400),))
    assert diagnose(facts(r, env(qf(queue(), started=3)), tr=day), TH).cause is Cause.NOT_STUCK
    short = Thresholds(token_horizon_seconds=3600)  # the horizon is the profile's to set
    assert diagnose(facts(r, env(qf(queue(), started=3)), tr=day), short).cause is Cause.WAITPOINT_WITHOUT_RESUMER
    far = trace(r, wait_span("waitpoint_1", 7000), tokens=(token("waitpoint_1", age=7000, timeout_in=30 * 86400),))
    assert diagnose(facts(r, env(qf(queue(), started=3)), tr=far), TH).cause is Cause.WAITPOINT_WITHOUT_RESUMER
    assert (
        diagnose(facts(r, env(qf(queue(), started=3)), tr=far), Thresholds(waitpoint_seconds=3 * 3600)).cause
        is Cause.NOT_STUCK
    )


def test_completed_token_means_the_run_waits_for_its_queue() -> None:
    r = run("run_w", RunStatus.WAITING, in_status=600)
    tr = trace(r, tokens=(token("waitpoint_1", age=7000, status=TokenStatus.COMPLETED),))
    e = env(qf(queue(queued=5, paused=True), started=0))
    assert diagnose(facts(r, e, tr=tr), TH).cause is Cause.QUEUE_PAUSED


def test_queue_state_drift_public_signal() -> None:
    e = env(qf(queue(running=10, queued=25, limit=10), started=0, holders=()))
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.QUEUE_STATE_DRIFT
    assert any("0 DEQUEUED/EXECUTING, but the queue counts 10 running" in x for x in f.evidence)
    assert [(r.action, r.key, r.target) for r in f.recovery] == [(Action.REPAIR_QUEUES, "R", "task/agent-turn")]


def test_drift_public_signal_needs_a_complete_holder_list() -> None:
    e = env(qf(queue(running=10, queued=25, limit=10), started=0, holders=(), holders_complete=False))
    assert diagnose(facts(run("run_q", age=900), e), TH).cause is Cause.UNKNOWN


def test_queue_state_drift_admin_dry_run() -> None:
    leaks = (leak("a"), leak("b", "SUSPENDED"))
    e = env(qf(queue(running=10, queued=25, limit=10), started=0, leaks=leaks), repair=repair())
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.QUEUE_STATE_DRIFT
    assert any("admin dry run: 2 leaked slots" in x and "FINISHED, SUSPENDED" in x for x in f.evidence)


def test_admin_dry_run_without_leaks_overrides_the_public_signal() -> None:
    e = env(qf(queue(running=10, queued=25, limit=10), started=0, holders=(), leaks=()), repair=repair())
    assert diagnose(facts(run("run_q", age=900), e), TH).cause is Cause.UNKNOWN


def test_leaks_in_the_environment_pass_count_for_a_stalled_queue_at_cap() -> None:
    e = env(qf(queue(running=10, queued=25, limit=10), started=0, leaks=()), repair=repair(env_leaks=(leak("x"),)))
    assert diagnose(facts(run("run_q", age=900), e), TH).cause is Cause.QUEUE_STATE_DRIFT


def test_dequeued_run_when_workers_are_gone() -> None:
    f = diagnose(facts(run("run_d", RunStatus.DEQUEUED, in_status=600), stalled_env()), TH)
    assert f.cause is Cause.WORKER_POOL_EMPTY


def test_dequeued_run_in_a_flowing_environment_is_unknown_with_a_hint() -> None:
    e = env(qf(queue(running=3), started=40))
    f = diagnose(facts(run("run_d", RunStatus.DEQUEUED, in_status=600), e), TH)
    assert f.cause is Cause.UNKNOWN
    assert any("runner never started the attempt" in x for x in f.evidence)


# ---------------------------------------------------------------- ambiguous mixtures


def test_paused_queue_beats_worker_pool_empty_for_its_own_runs() -> None:
    paused = qf(queue("agent-turn", queued=40, paused=True), started=0)
    other = qf(queue("send-email", queued=100, limit=5), started=0)
    e = env(paused, other)
    f = diagnose(facts(run("run_p", age=900), e), TH)
    assert f.cause is Cause.QUEUE_PAUSED
    assert f.also_true == ()  # the paused queue is not part of the stall; resume it and see
    g = diagnose(facts(run("run_o", age=900, task="send-email"), e, queue_name="task/send-email"), TH)
    assert g.cause is Cause.WORKER_POOL_EMPTY


def test_paused_and_drifted_queue_names_the_pause_first() -> None:
    e = env(
        qf(queue(running=10, queued=25, limit=10, paused=True), started=0, leaks=(leak("a"),)),
        repair=repair(),
    )
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.QUEUE_PAUSED
    assert f.also_true == (Cause.QUEUE_STATE_DRIFT,)


def test_run_level_cause_beats_queue_state_for_an_executing_run() -> None:
    r = run("run_e", RunStatus.EXECUTING, in_status=7200)
    holders = (r, *(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200) for i in range(2)))
    e = env(qf(queue(running=3, queued=40, limit=3), started=0, holders=holders))
    f = diagnose(facts(r, e, tr=trace(r, tool_span("crm", 7000))), TH)
    assert f.cause is Cause.ENTITY_BACKEND_UNREACHABLE
    assert f.also_true == (Cause.LONG_RUNNING_BLOCKER,)


def test_drift_beats_blocker_and_cap() -> None:
    holders = (run("run_h0", RunStatus.EXECUTING, in_status=7200),)
    e = env(qf(queue(running=3, queued=40, limit=3), started=0, holders=holders))
    f = diagnose(facts(run("run_q", age=900), e), TH)
    assert f.cause is Cause.QUEUE_STATE_DRIFT  # 1 live holder for 3 slots


# ---------------------------------------------------------------- the runbook path


def test_path_records_each_check_with_outcome_and_evidence() -> None:
    f = diagnose(facts(run("run_q", age=1080), stalled_env()), TH)
    outcomes = {s.check: s.outcome for s in f.path}
    assert len(f.path) == 11
    assert outcomes[CHECK_POOL] is Outcome.YES
    assert outcomes[CHECK_DEQUEUE] is Outcome.YES
    first = f.path[0]
    assert first.outcome is Outcome.YES
    assert any("run_q (agent-turn): QUEUED for 18 m" in e for e in first.evidence)
    assert any("queue task/agent-turn (test)" in e for e in first.evidence)
    assert all(s.evidence for s in f.path)


def test_unknown_queue_is_reported_in_the_path() -> None:
    f = diagnose(facts(run("run_q", age=1080), env(), queue_name=None), TH)
    assert f.cause is Cause.UNKNOWN
    assert f.path[1].outcome is Outcome.UNKNOWN


def test_hung_branch_is_skipped_for_a_queued_run() -> None:
    from tui.diagnosis.decide import CHECK_ENTITY, CHECK_WAITPOINT

    f = diagnose(facts(run("run_q", age=1080), stalled_env()), TH)
    steps = {s.check: s for s in f.path}
    assert steps[CHECK_ENTITY].outcome is Outcome.SKIPPED
    assert steps[CHECK_WAITPOINT].outcome is Outcome.SKIPPED
    assert "QUEUED" in steps[CHECK_ENTITY].evidence[0]


def test_environment_wide_blocker_uses_all_running_runs() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200) for i in range(4))
    e = env(
        qf(queue("a", running=2, queued=30, limit=None), started=0),
        qf(queue("b", running=2, queued=0, limit=None), started=0),
        limit=4,
        env_holders=holders,
    )
    f = diagnose(facts(run("run_q", task="a", age=900), e, queue_name="task/a"), TH)
    assert f.cause is Cause.LONG_RUNNING_BLOCKER
    assert "the environment blocked: all 4 slots" in f.summary
    assert {r.target for r in f.recovery} == {h.id for h in holders}
