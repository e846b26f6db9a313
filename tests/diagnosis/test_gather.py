"""Gathering facts through the real client over the simulator: queue lookup, budget, partial failures, trace
linking, CLI."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.simclient import Sim, seed_queue, seed_run, seed_starts, seed_token, sim
from tui.api.client import EngineClient
from tui.api.errors import NotFound
from tui.config import Settings, Thresholds
from tui.diagnosis.decide import diagnose
from tui.diagnosis.findings import Cause
from tui.diagnosis.gather import gather_environment_facts, gather_run_facts
from tui.diagnosis.report import diagnose_command, triage_command
from tui.diagnosis.triage import triage
from tui.sim.state import Plan, Run

from .factories import NOW

TH = Thresholds()
SETTINGS = Settings(profile="test", url="http://sim", secret_key="tr_dev_x")


async def no_wait(_: float) -> None:
    return None


@dataclass
class Stalled:
    """The worker pool is gone: runs wait in three queues, nothing starts."""

    world: Sim
    client: EngineClient
    agent: list[Run]
    email: list[Run]
    shared: Run

    @property
    def ids(self) -> set[str]:
        return {r.friendly for r in (*self.agent, *self.email, self.shared)}


@pytest.fixture
def world() -> Sim:
    return sim(start=NOW)


@pytest.fixture
async def client(world: Sim) -> AsyncIterator[EngineClient]:
    """No admin token (the engine report is skipped); no retry waits real time: a failed read is retried at once."""
    made = world.client(admin=False, sleep=no_wait)
    yield made
    await made.aclose()


@pytest.fixture
def stalled(world: Sim, client: EngineClient) -> Stalled:
    return make_stalled(world, client)


def make_stalled(world: Sim, client: EngineClient) -> Stalled:
    e = world.engine
    seed_queue(e, "agent-turn", limit=10)
    seed_queue(e, "send-email", limit=5)
    seed_queue(e, "shared", kind="custom", limit=None)
    seed_queue(e, "idle")
    e.workers = 0
    agent = [seed_run(e, "agent-turn", "QUEUED", created=(1000 + i) / 60) for i in range(3)]
    email = [seed_run(e, "send-email", "QUEUED", created=(900 + i) / 60) for i in range(2)]
    shared = seed_run(e, "agent-turn", "QUEUED", queue="shared", created=800 / 60)
    return Stalled(world, client, agent, email, shared)


def requests(world: Sim) -> Counter[str]:
    """What the client asked for, by kind."""
    kinds: Counter[str] = Counter()
    for method, path in world.transport.requests:
        if path.endswith("/metrics"):
            kinds["queue_metrics"] += 1
        elif path.endswith("/trace"):
            kinds["run_trace"] += 1
        elif path == "/api/v1/queues":
            kinds["list_queues"] += 1
        else:
            kinds[f"{method} {path}"] += 1
    return kinds


async def test_run_queue_found_by_probing_the_task_queue_first(stalled: Stalled) -> None:
    facts = await gather_run_facts(stalled.client, stalled.agent[1].friendly, TH, NOW)
    assert facts.queue_name == "task/agent-turn"
    assert "found by listing runs of task/agent-turn" in facts.queue_how
    assert facts.queue is not None and facts.queue.queue.queued == 3


async def test_run_on_a_custom_queue_is_found_after_the_task_queue(stalled: Stalled) -> None:
    facts = await gather_run_facts(stalled.client, stalled.shared.friendly, TH, NOW)
    assert facts.queue_name == "shared"
    assert diagnose(facts, TH).cause is Cause.WORKER_POOL_EMPTY


async def test_metrics_only_for_active_queues_and_admin_skipped_with_a_note(stalled: Stalled) -> None:
    facts = await gather_run_facts(stalled.client, stalled.agent[1].friendly, TH, NOW)
    assert requests(stalled.world)["queue_metrics"] == 3  # not the idle queue
    assert any("admin engine report skipped" in n for n in facts.env.notes)


async def test_failed_metric_is_unknown_and_noted(stalled: Stalled) -> None:
    stalled.world.engine.metrics_failing.add("task/send-email")
    facts = await gather_run_facts(stalled.client, stalled.agent[1].friendly, TH, NOW)
    q = facts.env.queue("task/send-email")
    assert q is not None and q.metrics is None
    assert any("metrics of task/send-email failed" in n for n in facts.env.notes)
    finding = diagnose(facts, TH)
    assert finding.cause is Cause.UNKNOWN  # one backlogged queue unmeasured: the stall cannot be concluded
    assert any("metrics of task/send-email failed" in e for e in finding.evidence)


async def test_unknown_run_propagates_the_api_error(stalled: Stalled) -> None:
    with pytest.raises(NotFound):
        await gather_run_facts(stalled.client, "run_nope", TH, NOW)


async def test_terminal_run_costs_one_request(stalled: Stalled) -> None:
    done = seed_run(stalled.world.engine, "agent-turn", "COMPLETED")
    facts = await gather_run_facts(stalled.client, done.friendly, TH, NOW)
    assert len(stalled.world.transport.requests) == 1
    assert diagnose(facts, TH).cause is Cause.NOT_STUCK


async def test_tool_call_entity_comes_from_span_detail(world: Sim, client: EngineClient) -> None:
    e = world.engine
    queue = seed_queue(e, "agent-turn")
    e.entities_down.add("crm")
    r = seed_run(e, "agent-turn", minutes=15, plan=Plan(duration=30.0, tool="crm.lookup"))
    seed_starts(e, queue, 4)
    facts = await gather_run_facts(client, r.friendly, TH, NOW)
    assert facts.trace is not None and facts.trace.open_spans[0].entity == "crm"
    finding = diagnose(facts, TH)
    assert finding.cause is Cause.ENTITY_BACKEND_UNREACHABLE and finding.entity == "crm"


async def test_token_wait_is_linked_through_span_detail(world: Sim, client: EngineClient) -> None:
    e = world.engine
    seed_queue(e, "agent-turn")
    token = seed_token(e, minutes=120)
    r = seed_run(e, "agent-turn", "WAITING", minutes=120, token=token)
    facts = await gather_run_facts(client, r.friendly, TH, NOW)
    assert facts.trace is not None and facts.trace.open_spans[0].token_id == token.friendly
    assert diagnose(facts, TH).cause is Cause.WAITPOINT_WITHOUT_RESUMER


async def test_triage_caps_traces_and_says_so(world: Sim, client: EngineClient) -> None:
    e = world.engine
    queue = seed_queue(e, "agent-turn", limit=100)
    e.entities_down.add("crm")
    plan = Plan(duration=30.0, tool="crm.lookup")
    runs = [seed_run(e, "agent-turn", minutes=(900 + i) / 60, plan=plan) for i in range(12)]
    seed_starts(e, queue, 9)
    env = await gather_environment_facts(client, TH, NOW, max_traces=5)
    assert len(env.candidates) == 5 and len(env.samples) <= 3  # samples: did a later crm call answer?
    assert requests(world)["run_trace"] == len(env.candidates) + len(env.samples)
    assert env.candidates_total == 12
    assert [t.run.id for t in env.candidates] == [r.friendly for r in runs[:6:-1]]  # the longest stuck first
    assert "traced 5 of 12 stuck candidates (cap)" in env.notes
    [finding] = triage(env, TH)
    assert finding.summary.startswith("HUNG: 5 runs hung calling entity `crm`")
    assert "traced 5 of 12 stuck candidates (cap)" in finding.evidence


async def test_triage_lists_holders_only_for_queues_at_cap(world: Sim, client: EngineClient) -> None:
    e = world.engine
    seed_queue(e, "agent-turn", limit=2)
    seed_queue(e, "other")
    holders = [seed_run(e, "agent-turn", minutes=120) for _ in range(2)]
    seed_run(e, "other", minutes=1)
    for i in range(30):
        seed_run(e, "agent-turn", "QUEUED", created=(60 + 10 * i) / 60)
    env = await gather_environment_facts(client, TH, NOW)
    capped = env.queue("task/agent-turn")
    assert capped is not None and capped.holders is not None and len(capped.holders) == 2
    other = env.queue("task/other")
    assert other is not None and other.holders is None
    [finding] = triage(env, TH)
    assert finding.cause is Cause.LONG_RUNNING_BLOCKER
    assert finding.runs[:2] == tuple(h.friendly for h in reversed(holders))  # as listed: newest first
    assert len(finding.runs) == 2 + 23  # only queued runs past the 2 m threshold: ages 130 s .. 350 s


async def test_diagnose_command_json_and_exit_code(stalled: Stalled) -> None:
    out = io.StringIO()
    run_id = stalled.agent[1].friendly
    code = await diagnose_command(stalled.client, SETTINGS, run_id, True, out, now=NOW)
    data = json.loads(out.getvalue())
    assert code == 1
    assert data["run"] == run_id and data["cause"] == "worker_pool_empty"
    assert {"summary", "evidence", "recovery", "verify", "also_true", "path"} <= set(data)
    assert data["recovery"][0]["external"] == "scale-workers" and data["recovery"][0]["plugin"] is False
    assert data["path"][0]["outcome"] == "yes"


async def test_diagnose_command_text_for_a_run_that_is_fine(stalled: Stalled) -> None:
    done = seed_run(stalled.world.engine, "agent-turn", "COMPLETED")
    out = io.StringIO()
    code = await diagnose_command(stalled.client, SETTINGS, done.friendly, False, out, now=NOW)
    assert code == 0
    assert out.getvalue().startswith(f"OK (not_stuck)\nrun {done.friendly} is COMPLETED (terminal)\n")


async def test_triage_command_healthy_and_stalled() -> None:
    healthy = sim(start=NOW)
    queue = seed_queue(healthy.engine, "agent-turn")
    for _ in range(2):
        seed_run(healthy.engine, "agent-turn", minutes=0.5)
    seed_run(healthy.engine, "agent-turn", "QUEUED", created=0.1)
    seed_starts(healthy.engine, queue, 50)
    out = io.StringIO()
    assert await triage_command(healthy.client(), SETTINGS, True, out, now=NOW) == 0
    data = json.loads(out.getvalue())
    assert data["findings"] == [] and data["runs"] == []
    world = sim(start=NOW)
    stalled = make_stalled(world, world.client(admin=False, sleep=no_wait))
    out = io.StringIO()
    assert await triage_command(stalled.client, SETTINGS, True, out, now=NOW) == 1
    data = json.loads(out.getvalue())
    assert [f["cause"] for f in data["findings"]] == ["worker_pool_empty"]
    assert set(data["runs"]) == stalled.ids
    assert "run" not in data["findings"][0] and data["findings"][0]["runs"]


async def test_text_output_escapes_server_strings(world: Sim, client: EngineClient) -> None:
    seed_queue(world.engine, "evil\x1b[31m", limit=10)
    world.engine.workers = 0
    seed_run(world.engine, "evil\x1b[31m", "QUEUED", created=15)
    out = io.StringIO()
    await triage_command(client, SETTINGS, False, out, now=NOW)
    assert "\x1b" not in out.getvalue() and "evil␛[31m" in out.getvalue()


async def test_observe_fetches_what_the_checks_need_and_ticks_them(stalled: Stalled) -> None:
    from tui.diagnosis.observe import observe
    from tui.diagnosis.verify import VerifyState, evaluate_all

    facts = await gather_run_facts(stalled.client, stalled.agent[1].friendly, TH, NOW)
    finding = diagnose(facts, TH)
    stalled.world.transport.forget()
    before = evaluate_all(finding.verify, await observe(stalled.client, finding.verify))
    assert {r.state for r in before} == {
        VerifyState.PENDING,
        VerifyState.HOLDS,
    }  # small queues are within normal
    assert requests(stalled.world) == {"list_queues": 1, "queue_metrics": 3}
    e = stalled.world.engine
    for stored, count in {"task/agent-turn": 5, "task/send-email": 2, "shared": 1}.items():
        seed_starts(e, e.queues[stored], count, seconds_ago=5)
    after = evaluate_all(finding.verify, await observe(stalled.client, finding.verify))
    assert all(r.holds for r in after)


async def test_many_queues_read_metrics_for_the_longest_backlogs_and_still_see_a_stall(
    world: Sim, client: EngineClient
) -> None:
    """1,000 queues must not cost 1,000 metric reads: the most backlogged are read, the rest are noted."""
    from tui.diagnosis.gather import MAX_METRICS

    e = world.engine
    e.workers = 0
    for i in range(300):
        seed_queue(e, f"q{i:03}", limit=10)
        for _ in range(1 + i % 50):
            seed_run(e, f"q{i:03}", "QUEUED", created=15 if i == 0 else 1)
    stuck = e.order[0]  # q000's one run: the shortest backlog
    env = await gather_environment_facts(client, TH, NOW)
    assert requests(world)["queue_metrics"] == MAX_METRICS
    measured = [q.queue.queued for q in env.queues if q.metrics is not None]
    skipped = [q.queue.queued for q in env.queues if q.metrics is None]
    assert min(measured) >= max(skipped)  # the longest backlogs only
    assert f"metrics read for the {MAX_METRICS} most backlogged of 300 active queues" in env.notes
    assert any(f.cause is Cause.WORKER_POOL_EMPTY for f in triage(env, TH))
    facts = await gather_run_facts(client, stuck.friendly, TH, NOW)
    assert facts.queue is not None and facts.queue.metrics is not None  # the run's own queue is read first
