"""Stalls from real incidents, beyond the runbook's seven: bad deploys, pending versions, lost resumes, orphans,
deadlocks at the environment limit, zombies of crashed workers, and schedules piling up behind a stuck head.

Each builder gets the engine at the start of the warm-up (`now` minus 30 minutes) and the moment the scenario is
seen (`now`), and changes the world the way the incident did.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from tui.sim import lifecycle
from tui.sim.engine import Engine, TaskSpec
from tui.sim.seeding import at, force
from tui.sim.state import Deployment, Plan, Run


def deploy(
    engine: Engine,
    version: str,
    created: datetime,
    *,
    status: str = "DEPLOYED",
    live: datetime | None = None,
    image_error: str | None = None,
    start_error: str | None = None,
    tasks: frozenset[str] | None = None,
) -> Deployment:
    """Add a deployment; with `live` it is promoted then (new runs lock to it from that moment)."""
    deployment = Deployment(
        f"deployment_{engine.new_id()}",
        f"d{len(engine.deployments)}x{engine.hex_id(4)}",
        version,
        status,
        created,
        live if status == "DEPLOYED" else None,
        image_error=image_error,
        start_error=start_error,
        tasks=tasks,
    )
    engine.deployments.append(deployment)
    return deployment


def image_error(version: str) -> str:
    return f'ImagePullBackOff: failed to pull image "registry.platos.dev/platos/worker:{version}": manifest unknown'


def bad_deploy(engine: Engine, now: datetime, *, minutes: float = 24) -> None:
    """A deploy went live `minutes` ago whose image cannot be pulled: every run locked to it never starts."""
    live = now - timedelta(minutes=minutes)
    engine.advance((live - engine.now).total_seconds())
    version = f"{now:%Y%m%d}.4"
    deploy(engine, version, live - timedelta(minutes=6), live=live, image_error=image_error(version))
    engine.version = version


def pending_version(engine: Engine, now: datetime, *, status: str = "BUILDING", count: int = 6) -> None:
    """Runs of a new task wait for the deploy that adds it; that deploy is stuck BUILDING (or FAILED)."""
    task = "export-ledger"
    engine.add_queue(task, "task", 2)
    started = now - timedelta(minutes=38)
    deploy(engine, f"{now:%Y%m%d}.4", started, status=status, tasks=frozenset({task}))
    for i in range(count):
        hold_pending(engine, task, now - timedelta(minutes=36 - 5 * i))


def hold_pending(engine: Engine, task: str, created: datetime) -> Run:
    """A run of a task no deployed version has: PENDING_VERSION until a version with the task is released."""
    with at(engine, created):
        run = engine.create_run(task, enqueue=False, plan=Plan(duration=20.0), tags=["ledger"])
        engine.set_status(run, "PENDING_VERSION", "RUN_CREATED")
    return run


def resume_lost(engine: Engine, now: datetime, *, ago: float = 12 * 60, count: int = 2) -> list[Run]:
    """Approvals were given `ago` seconds ago, but the engine lost the continuation: the runs stay WAITING."""
    runs = []
    for i in range(count):
        created = now - timedelta(minutes=50 + 7 * i)
        with at(engine, created):
            token = engine.create_token(tags=["approval", f"order:{8800 + i}"])
            run = engine.create_run(
                "approve-order", plan=Plan(duration=2.0, wait_token=True), payload={"orderId": 8800 + i}
            )
            run.token = token.iid
        force(engine, run, created + timedelta(seconds=4))
        engine.resolvers.pop(token.iid, None)
        engine.lost.add(run.iid)
        engine.resolvers[token.iid] = now - timedelta(seconds=ago)
        runs.append(run)
    return runs


def orphaned_run(engine: Engine, now: datetime, *, minutes: float = 35, count: int = 1) -> list[Run]:
    """Runs with a TTL that the engine left QUEUED in no queue at all: nothing counts them, nothing pulls them."""
    runs = []
    for i in range(count):
        created = now - timedelta(minutes=minutes + 3 * i)
        with at(engine, created):
            run = engine.create_run("send-email", ttl="2h", tags=["ttl"], payload={"to": f"user{i}@example.com"})
        engine.queue_of(run).waiting.remove(run.iid)
        run.expire_at = None  # the TTL job was lost with the queue entry
        runs.append(run)
    return runs


def fan_out_tasks(
    engine: Engine, *, rate: float, child_seconds: float, batch: int = 0, checkpoint: bool = True
) -> None:
    """A `fan-out` task whose runs trigger `fan-out-part` children (a batch of `batch`, or one) and wait for them."""
    engine.tasks["fan-out"] = TaskSpec(
        "fan-out",
        "task/fan-out",
        rate,
        lambda rng: Plan(duration=5.0, wait_child="fan-out-part", batch=batch, checkpoint=checkpoint),
    )
    engine.tasks["fan-out-part"] = TaskSpec(
        "fan-out-part", "task/fan-out-part", 0.0, lambda rng: Plan(duration=child_seconds)
    )
    engine.add_queue("fan-out", "task", None)
    engine.add_queue("fan-out-part", "task", 5)


def env_deadlock(engine: Engine, now: datetime, *, limit: int = 8, minutes: float = 20) -> None:
    """Parents hold every environment slot, each waiting (no checkpoint) on a child queued behind them."""
    fan_out_tasks(engine, rate=0.0, child_seconds=3.0, checkpoint=False)
    start = now - timedelta(minutes=minutes)
    rates = {t: spec.per_minute for t, spec in engine.tasks.items()}
    engine.advance((start - timedelta(minutes=3) - engine.now).total_seconds())
    for spec in engine.tasks.values():
        spec.per_minute = 0.0  # a quiet moment: the fan-out burst takes every slot that frees
    engine.advance(3 * 60)
    engine.env.concurrency_limit = limit
    for i in range(limit * 2):
        engine.create_run("fan-out", payload={"shard": i})
    engine.advance(5)
    for task, rate in rates.items():
        engine.tasks[task].per_minute = rate


def worker_crashed(engine: Engine, now: datetime, *, minutes: float = 40, count: int = 1) -> list[Run]:
    """The worker running a long export was OOM-killed: the run stays EXECUTING on its slot, its trace silent."""
    queue = engine.queues["task/sync-crm"]
    runs = []
    for i in range(count):
        created = now - timedelta(minutes=minutes + 12 + i)
        with at(engine, created):
            run = engine.create_run(
                "sync-crm", plan=Plan(duration=math.inf, step_seconds=90.0), payload={"mode": "export"}
            )
        force(engine, run, created + timedelta(seconds=3))
        died = now - timedelta(minutes=minutes)
        moment = created + timedelta(seconds=3)
        while moment < died:
            with at(engine, moment):
                lifecycle.step(engine, run, 90.0)
            moment += timedelta(seconds=90)
        with at(engine, died):
            lifecycle.crashed(engine, run)
        runs.append(run)
    queue.base_limit = count
    engine.tasks["sync-crm"].per_minute = 1.0
    return runs


def schedule_pileup(engine: Engine, now: datetime, *, every: float = 5, copies: int = 12) -> Run:
    """An hourly-style schedule whose head run hangs while the schedule keeps adding copies behind it."""
    engine.add_queue("reconcile-ledger", "task", 1)
    schedule = f"sched_{engine.hex_id(20)}"
    head_created = now - timedelta(minutes=every * (copies + 1))
    with at(engine, head_created):
        head = engine.create_run("reconcile-ledger", plan=Plan(duration=math.inf), tags=["cron"])
    head.schedule = schedule
    force(engine, head, head_created + timedelta(seconds=2))
    for i in range(copies):
        with at(engine, head_created + timedelta(minutes=every * (i + 1))):
            copy = engine.create_run("reconcile-ledger", plan=Plan(duration=30.0), tags=["cron"])
        copy.schedule = schedule
    return head


INCIDENTS: dict[str, Callable[[Engine, datetime], object]] = {
    "bad-deploy": bad_deploy,
    "pending-version": pending_version,
    "resume-lost": resume_lost,
    "orphaned-run": orphaned_run,
    "env-deadlock": env_deadlock,
    "worker-crashed": worker_crashed,
    "schedule-pileup": schedule_pileup,
}
