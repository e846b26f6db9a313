"""Gathering facts through a fake client: queue lookup, budget, partial failures, trace linking, CLI."""

from __future__ import annotations

import io
import json

import pytest

from tui.api.errors import NotFound
from tui.config import Settings, Thresholds
from tui.diagnosis.decide import diagnose
from tui.diagnosis.findings import Cause
from tui.diagnosis.gather import gather_environment_facts, gather_run_facts
from tui.diagnosis.report import diagnose_command, triage_command
from tui.diagnosis.triage import triage
from tui.model import QueueType, RunStatus

from .factories import NOW, ago, queue, run, token
from .fake_client import FakeClient, open_trace, span_detail

TH = Thresholds()
SETTINGS = Settings(profile="test", url="http://sim", secret_key="tr_dev_x")


def stalled_client() -> FakeClient:
    qs = [
        queue("agent-turn", queued=3, limit=10),
        queue("send-email", queued=2, limit=5),
        queue("shared", type_=QueueType.CUSTOM, queued=1, limit=None),
        queue("idle"),
    ]
    runs = [run(f"run_a{i}", age=1000 + i, queue="task/agent-turn") for i in range(3)]
    runs += [run(f"run_s{i}", age=900 + i, task="send-email", queue="task/send-email") for i in range(2)]
    runs += [run("run_c0", age=800, task="agent-turn", queue="shared")]
    return FakeClient(qs, runs)


async def test_run_queue_found_by_probing_the_task_queue_first() -> None:
    client = stalled_client()
    facts = await gather_run_facts(client, "run_a1", TH, NOW)  # type: ignore[arg-type]
    assert facts.queue_name == "task/agent-turn"
    assert "found by listing runs of task/agent-turn" in facts.queue_how
    assert facts.queue is not None and facts.queue.queue.queued == 3


async def test_run_on_a_custom_queue_is_found_after_the_task_queue() -> None:
    client = stalled_client()
    facts = await gather_run_facts(client, "run_c0", TH, NOW)  # type: ignore[arg-type]
    assert facts.queue_name == "shared"
    assert diagnose(facts, TH).cause is Cause.WORKER_POOL_EMPTY


async def test_metrics_only_for_active_queues_and_admin_skipped_with_a_note() -> None:
    client = stalled_client()
    facts = await gather_run_facts(client, "run_a1", TH, NOW)  # type: ignore[arg-type]
    assert client.calls["queue_metrics"] == 3  # not the idle queue
    assert any("admin engine report skipped" in n for n in facts.env.notes)


async def test_failed_metric_is_unknown_and_noted() -> None:
    client = stalled_client()
    client.fail_metrics = {"task/send-email"}
    facts = await gather_run_facts(client, "run_a1", TH, NOW)  # type: ignore[arg-type]
    q = facts.env.queue("task/send-email")
    assert q is not None and q.metrics is None
    assert any("metrics of task/send-email failed" in n for n in facts.env.notes)
    finding = diagnose(facts, TH)
    assert finding.cause is Cause.UNKNOWN  # one backlogged queue unmeasured: the stall cannot be concluded
    assert any("metrics of task/send-email failed" in e for e in finding.evidence)


async def test_unknown_run_propagates_the_api_error() -> None:
    with pytest.raises(NotFound):
        await gather_run_facts(stalled_client(), "run_nope", TH, NOW)  # type: ignore[arg-type]


async def test_terminal_run_costs_one_request() -> None:
    client = stalled_client()
    client.runs.append(run("run_done", RunStatus.COMPLETED, queue="task/agent-turn"))
    facts = await gather_run_facts(client, "run_done", TH, NOW)  # type: ignore[arg-type]
    assert sum(client.calls.values()) == 1
    assert diagnose(facts, TH).cause is Cause.NOT_STUCK


async def test_tool_call_entity_comes_from_span_detail() -> None:
    r = run("run_e", RunStatus.EXECUTING, in_status=900, queue="task/agent-turn")
    client = FakeClient([queue(running=1)], [r], started={"task/agent-turn": 4})
    client.traces[r.id] = open_trace(r, "tool crm.lookup", ago(600))
    client.spans[(r.id, "leaf")] = span_detail(r, "leaf", "tool crm.lookup", ago(600), properties={"entity": "crm"})
    facts = await gather_run_facts(client, r.id, TH, NOW)  # type: ignore[arg-type]
    assert facts.trace is not None and facts.trace.open_spans[0].entity == "crm"
    finding = diagnose(facts, TH)
    assert finding.cause is Cause.ENTITY_BACKEND_UNREACHABLE and finding.entity == "crm"


async def test_token_wait_is_linked_through_span_detail() -> None:
    r = run("run_w", RunStatus.WAITING, in_status=7200, queue="task/agent-turn")
    client = FakeClient([queue()], [r])
    client.traces[r.id] = open_trace(r, "wait.forToken()", ago(7200))
    client.spans[(r.id, "leaf")] = span_detail(
        r, "leaf", "wait.forToken()", ago(7200), entity_type="waitpoint", properties={"id": "waitpoint_9"}
    )
    client.tokens["waitpoint_9"] = token("waitpoint_9", age=7200)
    facts = await gather_run_facts(client, r.id, TH, NOW)  # type: ignore[arg-type]
    assert facts.trace is not None and facts.trace.open_spans[0].token_id == "waitpoint_9"
    assert diagnose(facts, TH).cause is Cause.WAITPOINT_WITHOUT_RESUMER


async def test_triage_caps_traces_and_says_so() -> None:
    runs = [run(f"run_e{i:02}", RunStatus.EXECUTING, in_status=900 + i, queue="task/agent-turn") for i in range(12)]
    client = FakeClient([queue(running=12, limit=100)], runs, started={"task/agent-turn": 9})
    for r in runs:
        client.traces[r.id] = open_trace(r, "tool crm.lookup", ago(800))
        client.spans[(r.id, "leaf")] = span_detail(r, "leaf", "x", ago(800), properties={"entity": "crm"})
    env = await gather_environment_facts(client, TH, NOW, max_traces=5)  # type: ignore[arg-type]
    assert len(env.candidates) == 5 and len(env.samples) <= 3  # samples: did a later crm call answer?
    assert client.calls["run_trace"] == len(env.candidates) + len(env.samples)
    assert env.candidates_total == 12
    assert [t.run.id for t in env.candidates] == ["run_e11", "run_e10", "run_e09", "run_e08", "run_e07"]
    assert "traced 5 of 12 stuck candidates (cap)" in env.notes
    [finding] = triage(env, TH)
    assert finding.summary.startswith("HUNG: 5 runs hung calling entity `crm`")
    assert "traced 5 of 12 stuck candidates (cap)" in finding.evidence


async def test_triage_lists_holders_only_for_queues_at_cap() -> None:
    holders = [run(f"run_h{i}", RunStatus.EXECUTING, in_status=7200, queue="task/agent-turn") for i in range(2)]
    client = FakeClient(
        [queue(running=2, queued=30, limit=2), queue("other", running=1, queued=0)],
        [*holders, *(run(f"run_q{i}", age=60 + 10 * i, queue="task/agent-turn") for i in range(30))],
    )
    env = await gather_environment_facts(client, TH, NOW)  # type: ignore[arg-type]
    capped = env.queue("task/agent-turn")
    assert capped is not None and capped.holders is not None and len(capped.holders) == 2
    other = env.queue("task/other")
    assert other is not None and other.holders is None
    [finding] = triage(env, TH)
    assert finding.cause is Cause.LONG_RUNNING_BLOCKER
    assert finding.runs[:2] == ("run_h0", "run_h1")
    assert len(finding.runs) == 2 + 23  # only queued runs past the 2 m threshold: ages 130 s .. 350 s


async def test_diagnose_command_json_and_exit_code() -> None:
    out = io.StringIO()
    code = await diagnose_command(stalled_client(), SETTINGS, "run_a1", True, out, now=NOW)  # type: ignore[arg-type]
    data = json.loads(out.getvalue())
    assert code == 1
    assert data["run"] == "run_a1" and data["cause"] == "worker_pool_empty"
    assert {"summary", "evidence", "recovery", "verify", "also_true", "path"} <= set(data)
    assert data["recovery"][0]["external"] == "scale-workers" and data["recovery"][0]["plugin"] is False
    assert data["path"][0]["outcome"] == "yes"


async def test_diagnose_command_text_for_a_run_that_is_fine() -> None:
    client = stalled_client()
    client.runs.append(run("run_done", RunStatus.COMPLETED, queue="task/agent-turn"))
    out = io.StringIO()
    code = await diagnose_command(client, SETTINGS, "run_done", False, out, now=NOW)  # type: ignore[arg-type]
    assert code == 0
    assert out.getvalue().startswith("OK (not_stuck)\nrun run_done is COMPLETED (terminal)\n")


async def test_triage_command_healthy_and_stalled() -> None:
    healthy = FakeClient([queue(running=2, queued=1)], [], started={"task/agent-turn": 50})
    out = io.StringIO()
    assert await triage_command(healthy, SETTINGS, True, out, now=NOW) == 0  # type: ignore[arg-type]
    data = json.loads(out.getvalue())
    assert data["findings"] == [] and data["runs"] == []
    out = io.StringIO()
    assert await triage_command(stalled_client(), SETTINGS, True, out, now=NOW) == 1  # type: ignore[arg-type]
    data = json.loads(out.getvalue())
    assert [f["cause"] for f in data["findings"]] == ["worker_pool_empty"]
    assert set(data["runs"]) == {"run_a0", "run_a1", "run_a2", "run_s0", "run_s1", "run_c0"}
    assert "run" not in data["findings"][0] and data["findings"][0]["runs"]


async def test_text_output_escapes_server_strings() -> None:
    q = queue("evil\x1b[31m", queued=3)
    client = FakeClient([q], [run("run_x", task="evil\x1b[31m", age=900, queue=q.stored_name)])
    out = io.StringIO()
    await triage_command(client, SETTINGS, False, out, now=NOW)  # type: ignore[arg-type]
    assert "\x1b" not in out.getvalue() and "evil␛[31m" in out.getvalue()


async def test_observe_fetches_what_the_checks_need_and_ticks_them() -> None:
    from tui.diagnosis.observe import observe
    from tui.diagnosis.verify import VerifyState, evaluate_all

    client = stalled_client()
    facts = await gather_run_facts(client, "run_a1", TH, NOW)  # type: ignore[arg-type]
    finding = diagnose(facts, TH)
    client.calls.clear()
    before = evaluate_all(finding.verify, await observe(client, finding.verify))  # type: ignore[arg-type]
    assert {r.state for r in before} == {
        VerifyState.PENDING,
        VerifyState.HOLDS,
    }  # small queues are within normal
    assert client.calls == {"list_queues": 1, "queue_metrics": 3}
    client.started = {"task/agent-turn": 5, "task/send-email": 2, "shared": 1}
    after = evaluate_all(finding.verify, await observe(client, finding.verify))  # type: ignore[arg-type]
    assert all(r.holds for r in after)


async def test_many_queues_read_metrics_for_the_longest_backlogs_and_still_see_a_stall() -> None:
    """1,000 queues must not cost 1,000 metric reads: the most backlogged are read, the rest are noted."""
    from tui.diagnosis.gather import MAX_METRICS

    qs = [queue(f"q{i:03}", queued=1 + i % 50, limit=10) for i in range(300)]
    client = FakeClient(qs, [run("run_x", age=900, task="q000", queue="task/q000")])  # q000: the shortest backlog
    env = await gather_environment_facts(client, TH, NOW)  # type: ignore[arg-type]
    assert client.calls["queue_metrics"] == MAX_METRICS
    measured = [q.queue.queued for q in env.queues if q.metrics is not None]
    skipped = [q.queue.queued for q in env.queues if q.metrics is None]
    assert min(measured) >= max(skipped)  # the longest backlogs only
    assert f"metrics read for the {MAX_METRICS} most backlogged of 300 active queues" in env.notes
    assert any(f.cause is Cause.WORKER_POOL_EMPTY for f in triage(env, TH))
    facts = await gather_run_facts(client, "run_x", TH, NOW)  # type: ignore[arg-type]
    assert facts.queue is not None and facts.queue.metrics is not None  # the run's own queue is read first
