"""Scenarios: each seeds a realistic environment and reproduces one fault from the runbook."""

from __future__ import annotations

import gc
import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tui.sim.engine import Engine, TaskSpec
from tui.sim.history import Series
from tui.sim.incidents import INCIDENTS
from tui.sim.seeding import at as at
from tui.sim.seeding import force as _force
from tui.sim.state import Deployment, Plan, Queue, Run

WARM_UP = timedelta(minutes=30)
HISTORY = timedelta(hours=24)

SCENARIOS = (
    "healthy",
    "worker-pool-zero",
    "queue-paused",
    "concurrency-cap",
    "long-blocker",
    "entity-offline",
    "orphan-waitpoint",
    "queue-drift",
    "incident",
    *INCIDENTS,
)
BLANK = "blank"
"""A fresh environment: deployed versions and nothing else (no task, queue, run or token) for a caller to seed.

Not a runbook scenario, so not in SCENARIOS: it is what a project looks like before its first trigger.
"""

CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark")


def _tags(rng: random.Random, n: int) -> list[str]:
    return [f"customer:{rng.choice(CUSTOMERS)}", f"batch:{n // 25}"]


def _agent_payload(rng: random.Random, n: int) -> Any:
    return {"conversationId": f"conv_{n:05d}", "turn": rng.randint(1, 12), "prompt": "Summarise the open tickets"}


TASKS: tuple[tuple[str, str, float, Callable[[random.Random], Plan]], ...] = (
    ("agent-turn", "task/agent-turn", 4.0, lambda rng: Plan(duration=rng.uniform(20, 40), tool="crm.lookup")),
    ("process-video", "task/process-video", 1.0, lambda rng: Plan(duration=rng.uniform(30, 60), spawn="send-email")),
    ("send-email", "shared-email", 6.0, lambda rng: Plan(duration=rng.uniform(1, 3), fail=rng.random() < 0.03)),
    ("approve-order", "task/approve-order", 0.5, lambda rng: Plan(duration=2.0, wait_token=True)),
    ("sync-crm", "task/sync-crm", 1.0, lambda rng: Plan(duration=rng.uniform(10, 25), tool="crm.upsert")),
    ("summarize", "llm-calls", 2.0, lambda rng: Plan(duration=rng.uniform(8, 20), tool="search.query")),
    ("nightly-report", "task/nightly-report", 0.0, lambda rng: Plan(duration=300.0)),
)
QUEUES = (
    ("agent-turn", "task", 10),
    ("process-video", "task", 4),
    ("approve-order", "task", 5),
    ("sync-crm", "task", 3),
    ("nightly-report", "task", 1),
    ("shared-email", "custom", 8),
    ("llm-calls", "custom", 6),
)


def build(
    name: str,
    *,
    seed: int = 1,
    start: datetime | None = None,
    speed: float = 1.0,
    queues: int | None = None,
    runs: int | None = None,
) -> Engine:
    """A ready engine for the scenario, its clock at `start` (default now) after 30 min of simulated warm-up."""
    if name not in SCENARIOS and name != BLANK:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    engine = Engine(seed=seed, start=start, speed=speed)
    now = engine.now
    engine.now = now - WARM_UP
    engine.scenario = name
    _deployments(engine, now)
    if name == BLANK:
        engine.now = now
        return engine
    if queues or runs:
        _large(engine, queues or 7, runs or 200)
        engine.now = now
        return engine
    for queue_name, kind, limit in QUEUES:
        engine.add_queue(queue_name, kind, limit)
    for task, stored, rate, plan in TASKS:
        engine.tasks[task] = TaskSpec(
            task, stored, rate, plan, _agent_payload if task == "agent-turn" else lambda r, n: {"id": n}, _tags
        )
    _history(engine)
    _specials(engine, now)
    FAULTS[name](engine, now)
    engine.advance((now - engine.now).total_seconds())
    _just_arrived(engine)
    return engine


def _just_arrived(engine: Engine) -> None:
    """Runs triggered this very second: QUEUED until the scheduler's next pass, in every scenario."""
    for task in ("send-email", "summarize"):
        engine.create_run(task, tags=["just-arrived"])


def _deployments(engine: Engine, now: datetime) -> None:
    for i, days in enumerate((9, 3, 1)):
        version = f"{(now - timedelta(days=days)):%Y%m%d}.{i + 1}"
        created = now - timedelta(days=days)
        engine.deployments.append(
            Deployment(
                f"deployment_{engine.new_id()}", f"d{i}x{engine.hex_id(4)}", version, "DEPLOYED", created, created
            )
        )
    engine.version = engine.deployments[-1].version


def _finished(engine: Engine, task: str, when: datetime, status: str, rng: random.Random) -> Run:
    with at(engine, when):
        run = engine.create_run(task, enqueue=False)
    run.version = engine.deployments[rng.randint(0, 2)].version
    run.started_at = run.locked_at = when + timedelta(seconds=rng.uniform(0.5, 30))
    run.completed_at = run.updated_at = run.started_at + timedelta(seconds=rng.uniform(1, 120))
    run.attempt = 1 if status != "COMPLETED_WITH_ERRORS" else 3
    engine.by_status["PENDING"].discard(run.iid)
    run.status, run.snapshot = status, "FINISHED"
    engine.by_status.setdefault(status, set()).add(run.iid)
    if status == "COMPLETED_SUCCESSFULLY":
        run.output = {"ok": True}
    elif status == "EXPIRED":
        run.started_at = run.locked_at = None
        run.expired_at = run.completed_at
        run.ttl = "10m"
    else:
        run.error = {"message": f"{status.lower()}: simulated", "name": "Error"}
    assert run.spans is not None
    run.spans.end = run.completed_at
    run.spans.is_error = status != "COMPLETED_SUCCESSFULLY"
    return run


def _history(engine: Engine) -> None:
    """24 h of finished runs across every final status, and 60 s queue samples up to the warm-up."""
    rng = random.Random(engine.rng.random())
    begin = engine.now - HISTORY
    statuses = ["COMPLETED_SUCCESSFULLY"] * 12 + [
        "COMPLETED_WITH_ERRORS",
        "CANCELED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    ]
    tasks = [t for t, *_ in TASKS if t != "nightly-report"]
    for i in range(260):
        when = begin + timedelta(seconds=HISTORY.total_seconds() * i / 260 + rng.uniform(0, 60))
        _finished(engine, rng.choice(tasks), when, statuses[i % len(statuses)], rng)
    _finished(engine, "nightly-report", engine.now - timedelta(hours=7), "COMPLETED_SUCCESSFULLY", rng)
    rates = {stored: rate for _, stored, rate, _ in TASKS}
    step = 60.0
    end = engine.now.timestamp()
    # About 10,000 samples per scenario, so the loop draws them with the fewest calls: `200 + 2300 * random()` is
    # `uniform(200, 2500)`, and the draws come in the same order (started, its waits, busy, queued).
    draw, randint = rng.random, rng.randint
    for stored, queue in engine.queues.items():
        rate = rates.get(stored, 0.0)
        per_step, busy_mean, most, limit = rate * step / 60, rate * 0.6, queue.limit or 10, queue.limit or 0
        samples = Series()
        t = begin.timestamp()
        while t < end:
            started = int(per_step + draw())
            samples.waits.append([200 + 2300 * draw() for _ in range(started)])
            samples.started.append(started)
            samples.running.append(min(most, round(busy_mean + draw())))
            samples.queued.append(randint(0, 2))
            samples.times.append(t)
            t += step
        samples.limits = [limit] * len(samples.times)
        engine.history.extend(stored, samples)


def _specials(engine: Engine, now: datetime) -> None:
    """Runs in the rarer statuses every scenario shows: delayed, pending a version, a retry in flight."""
    with at(engine, now - timedelta(minutes=5)):
        engine.create_run("send-email", delay_until=now + timedelta(minutes=20), tags=["digest"])
        engine.create_run("process-video", delay_until=now + timedelta(hours=2), tags=["scheduled"])
        pending = engine.create_run("nightly-report", enqueue=False, tags=["needs-deploy"])
        engine.queues["task/nightly-report"].waiting.clear()
        engine.set_status(pending, "PENDING_VERSION", "RUN_CREATED")
    engine.releases[pending.iid] = now + timedelta(minutes=8)  # the deploy with its task is on its way
    for i, hours in enumerate((26, 4, 2)):
        created = now - timedelta(hours=hours)
        with at(engine, created):
            token = engine.create_token(
                idempotency_key=f"approve-order-{9000 + i}", timeout="48h", tags=[f"order:{9000 + i}"]
            )
        engine.resolvers[token.iid] = now + timedelta(minutes=3 + i)


def _blocked_on_orphans(engine: Engine, now: datetime, count: int) -> None:
    """Approvals nobody will ever resolve: tokens with no timeout, runs suspended on them for hours."""
    for i in range(count):
        created = now - timedelta(hours=5 - i * 0.7)
        with at(engine, created):
            token = engine.create_token(tags=["approval", f"order:{7100 + i}"])
            run = engine.create_run(
                "approve-order",
                plan=Plan(duration=2.0, wait_token=True),
                tags=["approval"],
                payload={"orderId": 7100 + i, "amount": 1250 + i},
            )
            run.token = token.iid
        _force(engine, run, created + timedelta(seconds=4))
    engine.auto_resolve = None
    engine.resolvers.clear()


def _worker_pool_zero(engine: Engine, now: datetime) -> None:
    """The pool flows for a while, then is scaled to 0: suspended approvals stay WAITING, backlogs grow."""
    engine.advance((now - timedelta(minutes=22) - engine.now).total_seconds())
    engine.workers = 0


def _queue_paused(engine: Engine, now: datetime) -> None:
    engine.queues["task/process-video"].paused = True


def _concurrency_cap(engine: Engine, now: datetime) -> None:
    queue = engine.queues["task/agent-turn"]
    queue.base_limit = 4
    engine.tasks["agent-turn"].per_minute = 6.0
    engine.tasks["agent-turn"].plan = lambda rng: Plan(duration=rng.uniform(50, 70), tool="crm.lookup")


def _long_blocker(engine: Engine, now: datetime) -> None:
    queue = engine.queues["task/sync-crm"]
    for i in range(queue.limit or 3):
        created = now - timedelta(hours=3, minutes=10 * i)
        with at(engine, created):
            run = engine.create_run(
                "sync-crm",
                plan=Plan(duration=math.inf),
                tags=["full-resync"],
                payload={"mode": "full", "since": "2019-01-01"},
            )
        _force(engine, run, created + timedelta(seconds=3))
        run.plan = Plan(duration=math.inf)
        run.phase = "work"
        run.phase_end = None
    engine.tasks["sync-crm"].per_minute = 1.5


def _entity_offline(engine: Engine, now: datetime) -> None:
    engine.entities_down.add("crm")


def _orphan_waitpoint(engine: Engine, now: datetime) -> None:
    _blocked_on_orphans(engine, now, 4)


def _queue_drift(engine: Engine, now: datetime, stored: str = "task/process-video") -> None:
    """A partial outage left slots held by runs that have long finished: only repair-queues frees them."""
    queue = engine.queues[stored]
    rng = random.Random(7)
    task = next(t for t, s, *_ in TASKS if s == stored)
    for i in range(queue.limit or 4):
        run = _finished(engine, task, now - timedelta(minutes=50 + i), "COMPLETED_SUCCESSFULLY", rng)
        queue.operational.add(run.iid)
        queue.dequeued.add(run.iid)
    engine.tasks[task].per_minute = max(engine.tasks[task].per_minute, 1.0)


def _stuck_dequeued(engine: Engine, now: datetime, count: int) -> None:
    """Runs a worker pulled but never started (a crashed runner whose supervisor still heartbeats)."""
    for i in range(count):
        created = now - WARM_UP - timedelta(minutes=4 + i)
        with at(engine, created):
            run = engine.create_run(
                "summarize", plan=Plan(duration=10.0, never_starts=True, heartbeats=True), tags=["stuck"]
            )
        _force(engine, run, created + timedelta(seconds=20), executing=False)


def _incident(engine: Engine, now: datetime) -> None:
    _entity_offline(engine, now)
    _queue_paused(engine, now)
    _blocked_on_orphans(engine, now, 3)
    _queue_drift(engine, now, "shared-email")
    _stuck_dequeued(engine, now, 2)


def _healthy(engine: Engine, now: datetime) -> None:
    for token in engine.token_order:
        engine.resolvers.setdefault(token.iid, now)


FAULTS: dict[str, Callable[[Engine, datetime], object]] = {
    "healthy": _healthy,
    "worker-pool-zero": _worker_pool_zero,
    "queue-paused": _queue_paused,
    "concurrency-cap": _concurrency_cap,
    "long-blocker": _long_blocker,
    "entity-offline": _entity_offline,
    "orphan-waitpoint": _orphan_waitpoint,
    "queue-drift": _queue_drift,
    "incident": _incident,
    **INCIDENTS,
}


SEEDED_SNAPSHOTS = {
    "PENDING": "QUEUED",
    "DEQUEUED": "PENDING_EXECUTING",
    "EXECUTING": "EXECUTING",
    "WAITING_TO_RESUME": "SUSPENDED",
    "COMPLETED_SUCCESSFULLY": "FINISHED",
}
"""The execution snapshot a big world's runs show in each status."""


def _large(engine: Engine, queue_count: int, run_count: int) -> None:
    """A big environment for benchmarks: many queues, many runs, mostly finished over the last 7 days."""
    # Millions of long-lived objects would set off ever longer collections that free nothing, while they are made
    # and again on the first requests; frozen, the collector skips them (refcounting still frees them later).
    gc.collect()  # so that no earlier garbage is frozen with them
    collecting = gc.isenabled()
    gc.disable()
    try:
        _large_world(engine, queue_count, run_count)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _large_world(engine: Engine, queue_count: int, run_count: int) -> None:
    rng = random.Random(11)
    names: list[Queue] = [
        engine.add_queue(f"task-{i:05d}", "task" if i % 4 else "custom", rng.choice((None, 2, 5, 10, 25)))
        for i in range(queue_count)
    ]
    begin = engine.now - timedelta(days=6)
    span = (engine.now - begin).total_seconds()
    active = ("PENDING", "DEQUEUED", "EXECUTING", "WAITING_TO_RESUME")
    # Plans are never changed in place (a run gets a new one), so runs that behave alike can share one.
    finished, stuck = Plan(duration=30.0), Plan(duration=math.inf, never_starts=True, heartbeats=True)
    for i in range(run_count):
        queue = names[i % queue_count]
        task = queue.name
        when = begin + timedelta(seconds=span * i / run_count)
        status = active[i % 4] if i > run_count - run_count // 10 else "COMPLETED_SUCCESSFULLY"
        run = engine.seed_run(task, queue, when, finished, status, SEEDED_SNAPSHOTS[status])
        if status == "PENDING":
            engine.add_waiting(queue, run)
        elif status in ("DEQUEUED", "EXECUTING"):
            run.started_at = run.locked_at = when
            run.plan = stuck
            queue.dequeued.add(run.iid)
            queue.operational.add(run.iid)
        elif status == "COMPLETED_SUCCESSFULLY":
            run.started_at, run.completed_at = when, when + timedelta(seconds=20)
    engine.workers = 0  # a frozen picture: benchmarks measure the console, not the engine
