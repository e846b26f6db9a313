"""The engine on virtual time: lifecycle, slots, tokens, timers, retries, stalls, traces, determinism."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

import tui.sim.engine as engine_module
from tui.sim import views
from tui.sim.engine import MAX_ATTEMPTS, MAX_REQUEUES, STALL_TIMEOUT, Engine
from tui.sim.scenarios import SCENARIOS, build
from tui.sim.state import Plan, Run, Span

START = datetime(2026, 8, 21, 18, 0, tzinfo=UTC)


def tiny(limit: int | None = 2, *, workers: int = 1, env_limit: int = 40) -> Engine:
    """An engine with one task queue `work`, no arrivals and no auto-approver."""
    engine = Engine(seed=5, start=START, speed=0)
    engine.add_queue("work", "task", limit)
    engine.workers, engine.slots_per_worker = workers, 5
    engine.env.concurrency_limit = env_limit
    engine.auto_resolve = None
    return engine


def run_for(engine: Engine, seconds: float) -> None:
    """Advance in 1 s ticks, so phases end close to their due time."""
    for _ in range(int(seconds)):
        engine.advance(1)


def counts(engine: Engine, stored: str = "task/work") -> tuple[int, int]:
    queue = engine.queues[stored]
    return len(queue.dequeued), len(queue.waiting)  # the API's (running, queued)


def spans(run: Run) -> list[Span]:
    assert run.spans is not None
    found = [run.spans]
    for span in found:
        found.extend(span.children)
    return found


def test_lifecycle_queued_dequeued_executing_completed() -> None:
    engine = tiny()
    run = engine.create_run("work", plan=Plan(duration=5))
    assert (run.status, run.snapshot, counts(engine)) == ("PENDING", "QUEUED", (0, 1))
    run_for(engine, 1)
    assert (run.status, run.snapshot, counts(engine)) == ("DEQUEUED", "PENDING_EXECUTING", (1, 0))
    assert run.locked_at is not None and run.version == engine.version
    run_for(engine, 2)
    assert (run.status, run.attempt, counts(engine)) == ("EXECUTING", 1, (1, 0))
    run_for(engine, 5)
    assert (run.status, run.snapshot, counts(engine)) == ("COMPLETED_SUCCESSFULLY", "FINISHED", (0, 0))
    assert [s.message for s in spans(run)] == ["work", "Attempt 1"] and all(s.end for s in spans(run))


def test_queue_cap_env_cap_with_burst_and_worker_pool() -> None:
    engine = tiny(limit=2, workers=4)
    for _ in range(5):
        engine.create_run("work", plan=Plan(duration=600))
    run_for(engine, 5)
    assert counts(engine) == (2, 3)  # queue at cap: the rest stay queued
    engine.add_queue("other", "custom", None)
    engine.env.concurrency_limit, engine.env.burst_factor = 4, 1.5
    for _ in range(8):
        engine.create_run("x", queue="other", plan=Plan(duration=600))
    run_for(engine, 5)
    assert len(engine.env.operational) == 6 and counts(engine, "other") == (4, 4)  # env limit 4 x burst 1.5
    idle = tiny(workers=0)
    idle.create_run("work", plan=Plan(duration=1))
    run_for(idle, 60)
    assert counts(idle) == (0, 1)
    idle.scale_workers(1)
    run_for(idle, 10)
    assert idle.with_status("COMPLETED_SUCCESSFULLY")


def test_paused_queue_stops_dequeues_but_running_runs_finish() -> None:
    engine = tiny()
    running = engine.create_run("work", plan=Plan(duration=20))
    run_for(engine, 3)
    engine.pause_queue(engine.queues["task/work"], True)
    waiting = engine.create_run("work", plan=Plan(duration=1))
    run_for(engine, 60)
    assert running.status == "COMPLETED_SUCCESSFULLY" and waiting.status == "PENDING"
    engine.pause_queue(engine.queues["task/work"], False)
    run_for(engine, 10)
    assert waiting.status == "COMPLETED_SUCCESSFULLY"


def test_checkpointed_wait_releases_the_slot_and_completion_requeues() -> None:
    engine = tiny()
    run = engine.create_run("work", plan=Plan(duration=2, wait_token=True))
    run_for(engine, 5)
    assert (run.status, run.snapshot, counts(engine)) == ("WAITING_TO_RESUME", "SUSPENDED", (0, 0))
    wait = next(s for s in spans(run) if s.message == "wait.forToken()")
    token = engine.tokens[run.token or ""]
    assert wait.end is None and wait.entity_type == "waitpoint" and wait.properties == {"id": token.friendly}
    engine.workers = 0
    engine.complete_token(token, '{"ok":true}')
    assert (run.status, run.snapshot, counts(engine)) == ("WAITING_TO_RESUME", "QUEUED", (0, 1))  # API: WAITING
    engine.workers = 1
    run_for(engine, 1)
    assert run.status == "DEQUEUED"
    run_for(engine, 10)
    assert run.status == "COMPLETED_SUCCESSFULLY" and wait.end is not None and run.attempt == 1


def test_uncheckpointed_wait_keeps_the_slot() -> None:
    engine = tiny()
    run = engine.create_run("work", plan=Plan(duration=2, wait_token=True, checkpoint=False))
    run_for(engine, 5)
    assert (run.status, run.snapshot, counts(engine)) == ("EXECUTING", "EXECUTING_WITH_WAITPOINTS", (1, 0))
    engine.complete_token(engine.tokens[run.token or ""], None)
    run_for(engine, 5)
    assert run.status == "COMPLETED_SUCCESSFULLY" and counts(engine) == (0, 0)


def test_token_timeout_completes_with_an_error_output() -> None:
    engine = tiny()
    token = engine.create_token(timeout="30s")
    run = engine.create_run("work", plan=Plan(duration=1, wait_token=True))
    run.token = token.iid
    run_for(engine, 40)
    assert token.status == "COMPLETED" and token.output_is_error and "TRIGGER_WAITPOINT_TIMEOUT" in (token.output or "")
    run_for(engine, 10)
    assert run.status == "COMPLETED_SUCCESSFULLY"


def test_delay_and_ttl() -> None:
    engine = tiny()
    delayed = engine.create_run("work", plan=Plan(duration=1), delay_until=START + timedelta(seconds=30))
    assert delayed.status == "DELAYED" and not engine.queues["task/work"].waiting
    run_for(engine, 20)
    assert delayed.status == "DELAYED"
    run_for(engine, 20)
    assert delayed.status == "COMPLETED_SUCCESSFULLY"
    engine.pause_queue(engine.queues["task/work"], True)
    expiring = engine.create_run("work", plan=Plan(duration=1), ttl="30s")
    run_for(engine, 40)
    assert expiring.status == "EXPIRED" and expiring.expired_at is not None and counts(engine) == (0, 0)


def test_failures_retry_until_max_attempts() -> None:
    engine = tiny()
    run = engine.create_run("work", plan=Plan(duration=1, fail=True))
    run_for(engine, 120)
    attempts = [s for s in spans(run) if s.message.startswith("Attempt")]
    assert run.status == "COMPLETED_WITH_ERRORS" and run.attempt == MAX_ATTEMPTS == len(attempts)
    assert all(s.is_error for s in attempts) and run.error is not None


def test_a_worker_that_never_starts_the_attempt_is_requeued_after_the_stall_timeout() -> None:
    engine = tiny()
    stalled = engine.create_run("work", plan=Plan(duration=1, never_starts=True))
    stuck = engine.create_run("work", plan=Plan(duration=1, never_starts=True, heartbeats=True))
    run_for(engine, STALL_TIMEOUT - 5)
    assert stalled.status == stuck.status == "DEQUEUED"
    run_for(engine, 10)
    assert stalled.requeues == 1 and stalled.status in ("PENDING", "DEQUEUED") and stuck.status == "DEQUEUED"
    run_for(engine, STALL_TIMEOUT * (MAX_REQUEUES + 1) + 60)
    assert stalled.status == "SYSTEM_FAILURE" and stalled.requeues == MAX_REQUEUES
    assert stuck.status == "DEQUEUED" and stuck.requeues == 0


def test_offline_entity_calls_hang_in_open_spans_until_the_tool_timeout() -> None:
    engine = tiny()
    engine.entities_down.add("crm")
    run = engine.create_run("work", plan=Plan(duration=1, tool="crm.lookup"))
    run_for(engine, 600)
    call = next(s for s in spans(run) if s.message == "tool crm.lookup")
    assert run.status == "EXECUTING" and call.end is None and call.entity_type == "tool"
    assert call.properties["entity"] == "crm" and call.properties["tool"] == "lookup" and "input" in call.properties
    retries = [c for c in call.children if c.level == "WARN"]
    assert [r.message for r in retries] == [
        f"retry {k}/5 crm.lookup: no answer within 20 s (timeout)" for k in range(1, 6)
    ]
    assert [(r.start - call.start).total_seconds() for r in retries] == [25, 50, 75, 100, 125]
    run_for(engine, engine.tool_timeout)
    assert call.end is not None and call.is_error and run.attempt == 2
    assert [c.level for c in call.children] == ["WARN"] * 5 + ["ERROR"] and "output" not in call.properties
    assert call.events[0]["name"] == "exception" and "ToolCallTimeout" in call.events[0]["properties"]["stacktrace"]
    engine.entities_down.clear()
    run_for(engine, engine.tool_timeout)
    assert run.status == "COMPLETED_SUCCESSFULLY"
    answered = [s for s in spans(run) if s.message == "tool crm.lookup" and not s.is_error]
    assert answered and "output" in answered[-1].properties


def test_cancel_ends_open_spans_and_frees_the_slot() -> None:
    engine = tiny()
    engine.entities_down.add("crm")
    run = engine.create_run("work", plan=Plan(duration=1, tool="crm.lookup"))
    run_for(engine, 10)
    engine.cancel(run)
    assert run.status == "CANCELED" and counts(engine) == (0, 0) and not engine.env.operational
    assert all(s.end is not None for s in spans(run)) and any(s.message == "cancelled" for s in spans(run))
    engine.cancel(run)  # a second cancel changes nothing
    assert run.status == "CANCELED"


def test_sync_follows_real_time_times_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(engine_module.time, "monotonic", lambda: clock[0])
    fast = Engine(seed=1, start=START, speed=60)
    frozen = Engine(seed=1, start=START, speed=0)
    clock[0] += 2
    fast.sync()
    frozen.sync()
    assert fast.now == START + timedelta(minutes=2) and frozen.now == START


def _fingerprint(name: str) -> str:
    engine = build(name, seed=3, start=START)
    engine.advance(300)
    return "|".join(f"{r.iid}:{r.status}:{r.attempt}:{r.output}:{r.updated_at}" for r in engine.order)


def test_scenarios_are_deterministic_from_the_seed_even_across_processes() -> None:
    here = _fingerprint("incident")
    assert here == _fingerprint("incident")
    code = (
        "import sys; sys.path.insert(0, 'tests/sim'); from test_engine import _fingerprint; "
        "print(_fingerprint('incident'))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": "12345"}, check=True
    )
    assert other.stdout.strip() == here


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_keeps_producing_runs(name: str) -> None:
    engine = build(name, seed=1, start=START)
    before = len(engine.runs)
    engine.advance(300)
    assert len(engine.runs) > before + 20


def test_spawned_children_show_in_related_runs() -> None:
    engine = tiny()
    parent = engine.create_run("work", plan=Plan(duration=5, spawn="notify"))
    run_for(engine, 10)
    (child,) = engine.children[parent.iid]
    assert (child.task, child.depth, child.trigger_function, child.parent) == ("notify", 1, "trigger", parent.iid)
    assert any(s.message == "trigger notify" and s.end for s in spans(parent))
    body = views.retrieve(engine, parent, True)
    assert [c["id"] for c in body["relatedRuns"]["children"]] == [child.friendly]
    related = views.retrieve(engine, child, True)["relatedRuns"]
    assert related["parent"]["id"] == related["root"]["id"] == parent.friendly
    run_for(engine, 30)
    assert len(engine.children[parent.iid]) == 1 and child.status == "COMPLETED_SUCCESSFULLY"
