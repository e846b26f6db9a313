"""Triage from hand-built environment facts: grouping by cause, counts, worst first, and the affected runs."""

from __future__ import annotations

from tui.config import Thresholds
from tui.diagnosis.findings import Action, Cause
from tui.diagnosis.triage import affected_runs, triage
from tui.model import QueueType, RunStatus

from .factories import env, leak, qf, queue, repair, run, token, tool_span, trace, wait_span

TH = Thresholds()


def test_healthy_environment_has_no_findings() -> None:
    e = env(
        qf(queue("a", running=4, queued=2, limit=10), started=200),
        qf(queue("b", running=0, queued=0)),
        candidates=(trace(run("run_x", RunStatus.EXECUTING, in_status=30), tool_span("crm", 20)),),
    )
    assert triage(e, TH) == []


def test_worker_pool_empty_is_one_finding_with_counts() -> None:
    qs = [
        qf(
            queue(f"q{i}", queued=q, limit=10),
            started=0,
            queued_runs=(run(f"run_{i}a", age=1080 - i), run(f"run_{i}b", age=30)),
        )
        for i, q in enumerate((100, 100, 100, 50, 50, 12))
    ]
    qs.append(qf(queue("idle"), started=0))
    findings = triage(env(*qs), TH)
    assert len(findings) == 1
    f = findings[0]
    assert f.cause is Cause.WORKER_POOL_EMPTY
    assert f.summary.startswith("STALLED: worker pool empty, 6 queues, 412 runs waiting")
    assert f.summary.endswith("oldest 18 m")
    assert f.waiting == 412 and len(f.queues) == 6 and len(f.runs) == 6  # the 30 s old runs are not stuck yet
    assert "started in last 15m: 0 in all 7 queues with metrics" in f.evidence


def test_entity_findings_are_grouped_by_entity_with_counts() -> None:
    hung = [trace(run(f"run_c{i}", RunStatus.EXECUTING, in_status=900), tool_span("crm", 500 + i)) for i in range(14)]
    hung += [trace(run(f"run_e{i}", RunStatus.EXECUTING, in_status=900), tool_span("erp", 300)) for i in range(2)]
    findings = triage(env(qf(queue(running=16, limit=100), started=5), candidates=tuple(hung)), TH)
    assert [(f.cause, f.entity) for f in findings] == [
        (Cause.ENTITY_BACKEND_UNREACHABLE, "crm"),
        (Cause.ENTITY_BACKEND_UNREACHABLE, "erp"),
    ]
    crm = findings[0]
    assert crm.summary == (
        "HUNG: 14 runs hung calling entity `crm` (14 open calls past 2 m, none answered in the last 2 m), "
        "oldest call 8 m"
    )
    assert len(crm.runs) == 14 and crm.waiting == 14
    cancels = [r for r in crm.recovery if r.action is Action.CANCEL]
    assert len(cancels) == 14 and [r for r in crm.recovery if r.external == "check-entity"]


def test_blocker_whose_holders_hang_on_an_entity_is_reported_as_the_entity() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200) for i in range(3))
    e = env(
        qf(queue(running=3, queued=40, limit=3), started=0, holders=holders),
        candidates=tuple(trace(h, tool_span("crm", 7000)) for h in holders),
    )
    findings = triage(e, TH)
    assert [f.cause for f in findings] == [Cause.ENTITY_BACKEND_UNREACHABLE]


def test_long_running_blocker_names_blocking_runs() -> None:
    holders = tuple(run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200) for i in range(3))
    e = env(
        qf(queue(running=3, queued=40, limit=3), started=0, holders=holders),
        qf(queue("b", running=2, queued=0), started=30),
        candidates=tuple(trace(h) for h in holders),
    )
    findings = triage(e, TH)
    assert [f.cause for f in findings] == [Cause.LONG_RUNNING_BLOCKER]
    assert findings[0].summary.startswith("BLOCKED: queue task/agent-turn blocked: all 3 slots")
    assert {"run_h0", "run_h1", "run_h2"} <= set(findings[0].runs)


def test_worst_first_and_grouping_of_queues() -> None:
    e = env(
        qf(queue("capped", running=5, queued=500, limit=5), started=40, queued_runs=(run("run_c", age=900),)),
        qf(queue("p1", queued=30, paused=True), started=0),
        qf(queue("p2", type_=QueueType.CUSTOM, queued=50, paused=True), started=0),
        candidates=(
            trace(
                run("run_w", RunStatus.WAITING, in_status=9000),
                wait_span("waitpoint_1", 9000),
                tokens=(token("waitpoint_1", age=9000),),
            ),
        ),
    )
    findings = triage(e, TH)
    assert [f.cause for f in findings] == [
        Cause.QUEUE_PAUSED,
        Cause.WAITPOINT_WITHOUT_RESUMER,
        Cause.CONCURRENCY_AT_CAP,
    ]
    paused = findings[0]
    assert paused.summary == "PAUSED: 2 queues paused, 80 runs waiting: task/p1, p2"
    assert [r.target for r in paused.recovery] == ["task/p1", "p2"]
    assert findings[1].summary == "WAITING: 1 run wait on 1 token nothing resumes, oldest 2 h 30 m"


def test_drift_from_the_admin_dry_run() -> None:
    e = env(
        qf(queue(running=10, queued=25, limit=10), started=0, leaks=(leak("a"), leak("b"))),
        qf(queue("b", running=1), started=30, leaks=()),
        repair=repair(),
    )
    findings = triage(e, TH)
    assert [f.cause for f in findings] == [Cause.QUEUE_STATE_DRIFT]
    assert findings[0].recovery[0].key == "R"


def test_unknown_group_for_stuck_runs_nothing_explains() -> None:
    e = env(
        qf(queue(running=1), started=30),
        candidates=(trace(run("run_s", RunStatus.DEQUEUED, in_status=900)),),
    )
    findings = triage(e, TH)
    assert [f.cause for f in findings] == [Cause.UNKNOWN]
    assert findings[0].runs == ("run_s",)
    assert "run_s (agent-turn): dequeued 15 m ago, its attempt never started" in findings[0].evidence[0]


def test_trace_cap_is_said_in_evidence() -> None:
    hung = tuple(trace(run(f"run_c{i}", RunStatus.EXECUTING, in_status=900), tool_span("crm", 500)) for i in range(3))
    findings = triage(env(qf(queue(running=3), started=1), candidates=hung, candidates_total=120), TH)
    assert "traced 3 of 120 stuck candidates (cap)" in findings[0].evidence


def test_affected_runs_are_the_union_without_repeats() -> None:
    e = env(
        qf(queue("p1", queued=30, paused=True), started=0, queued_runs=(run("run_1", age=900), run("run_2", age=900))),
        candidates=(
            trace(run("run_1", RunStatus.EXECUTING, in_status=900), tool_span("crm", 500)),
            trace(run("run_3", RunStatus.EXECUTING, in_status=900), tool_span("crm", 500)),
        ),
    )
    assert set(affected_runs(triage(e, TH))) == {"run_1", "run_2", "run_3"}
    assert len(affected_runs(triage(e, TH))) == 3
