"""Stalls from real incidents, built on a live simulated world the way they meet operators, and their look-alikes.

Each builder takes a `World` of the `healthy` scenario (or the named incident scenario, see `WORLDS`) and changes
it as the incident would: a deploy goes live, an engine loses a resume, a worker dies. Nothing here knows the
diagnosis rules; the tests say what an operator would call each situation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.diagnosis.situations import World, forced
from tui.sim import incidents, lifecycle
from tui.sim.engine import TaskSpec
from tui.sim.seeding import at, force
from tui.sim.state import Plan, Run


def _go_live(w: World, *, broken: bool, build_minutes: float = 6) -> str:
    e = w.engine
    version = f"{e.now:%Y%m%d}.{len(e.deployments) + 1}"
    error = incidents.image_error(version) if broken else None
    incidents.deploy(e, version, e.now - timedelta(minutes=build_minutes), live=e.now, image_error=error)
    e.version = version
    return version


# ---------------------------------------------------------------- stalls


def bad_deploy_minutes_ago(w: World, minutes: float = 7) -> str:
    """A deploy whose image cannot be pulled went live `minutes` ago, in the middle of the day's traffic."""
    version = _go_live(w, broken=True)
    w.advance(minutes * 60)
    return version


def bad_deploy_quiet_hour(w: World) -> str:
    """A broken deploy at a quiet hour: a trickle of runs, all locked to it, none starting, for 40 minutes."""
    for spec in w.engine.tasks.values():
        spec.per_minute = spec.per_minute / 8
    version = _go_live(w, broken=True)
    w.advance(40 * 60)
    return version


def deploy_crashes_on_start(w: World) -> str:
    """A deploy "succeeded", but its bundle cannot import the tasks: every attempt on it crashes as it starts,
    is retried, and fails; runs still on the version before it completed until the switch."""
    e = w.engine
    version = f"{e.now:%Y%m%d}.5"
    crash = "Error: Cannot find module '/app/src/trigger/agent.mjs' (TASK_RUN_CRASHED)"
    incidents.deploy(e, version, e.now - timedelta(minutes=5), live=e.now, start_error=crash)
    e.version = version
    w.advance(12 * 60)
    return version


def deploy_failed(w: World) -> list[Run]:
    """The deploy that adds a new task failed to build; runs of that task were triggered anyway, 30 minutes ago."""
    e = w.engine
    e.add_queue("export-ledger", "task", 2)
    created = e.now - timedelta(minutes=32)
    incidents.deploy(e, f"{e.now:%Y%m%d}.9", created, status="FAILED", tasks=frozenset({"export-ledger"}))
    return [incidents.hold_pending(e, "export-ledger", e.now - timedelta(minutes=30 - 4 * i)) for i in range(3)]


def released_never(w: World) -> list[Run]:
    """The deploy with the runs' task went live 20 minutes ago, but the engine never released them."""
    e = w.engine
    e.add_queue("export-ledger", "task", 2)
    runs = [incidents.hold_pending(e, "export-ledger", e.now - timedelta(minutes=45 + i)) for i in range(2)]
    version = f"{e.now:%Y%m%d}.7"
    incidents.deploy(e, version, e.now - timedelta(minutes=26), live=e.now - timedelta(minutes=20),
                     tasks=frozenset({"export-ledger"}))
    e.version = version
    return runs


def resume_lost_once(w: World) -> list[Run]:
    """One approval came 4 minutes ago; the engine lost the continuation."""
    e = w.engine
    runs = incidents.resume_lost(e, e.now + timedelta(minutes=1), ago=60, count=1)
    w.advance(5 * 60)
    return runs


def _fan_out(w: World, *, child_seconds: float, batch: int = 3) -> Run:
    incidents.fan_out_tasks(w.engine, rate=0.0, child_seconds=child_seconds, batch=batch)
    return w.engine.create_run("fan-out", payload={"shards": batch})


def batch_resume_lost(w: World) -> list[Run]:
    """A batchTriggerAndWait whose three children all finished 12 minutes ago; the parent never resumed."""
    parent = _fan_out(w, child_seconds=60.0)
    w.engine.lost.add(parent.iid)
    w.advance(15 * 60)
    return [parent]


def orphan_in_idle_queue(w: World) -> list[Run]:
    """A nightly report the engine left QUEUED outside its (otherwise empty) queue 25 minutes ago."""
    e = w.engine
    with at(e, e.now - timedelta(minutes=25)):
        run = e.create_run("nightly-report", plan=Plan(duration=30.0), tags=["ttl"], ttl="6h")
    e.queue_of(run).waiting.remove(run.iid)
    run.expire_at = None
    return [run]


def small_deadlock(w: World) -> None:
    """A batch fan-out at an environment limit of 4: every slot holds a parent waiting on its queued child."""
    incidents.env_deadlock(w.engine, w.engine.now + timedelta(minutes=6), limit=4, minutes=6)
    w.advance(6 * 60)


def two_zombies(w: World) -> list[Run]:
    """Both workers running the nightly exports died 25 minutes ago; two slots stay held, the queue backs up."""
    e = w.engine
    runs = incidents.worker_crashed(e, e.now, minutes=25, count=2)
    w.advance(60)
    return runs


# ---------------------------------------------------------------- look-alikes that must stay quiet


def good_deploy_minute_ago(w: World) -> None:
    """A routine deploy went live a minute ago; runs lock to it and start."""
    _go_live(w, broken=False)
    w.advance(60)


def bad_deploy_minute_ago(w: World) -> None:
    """A broken deploy went live a minute ago: nothing on it has had time to fail yet."""
    _go_live(w, broken=True)
    w.advance(60)


def good_deploy_twenty_minutes_ago(w: World) -> None:
    """A routine deploy went live 20 minutes ago and its runs complete."""
    _go_live(w, broken=False)
    w.advance(20 * 60)


def token_completed_a_second_ago(w: World) -> list[Run]:
    """An approval suspended for 40 minutes was given a second ago: the run is about to resume."""
    e = w.engine
    created = e.now - timedelta(minutes=40)
    with at(e, created):
        token = e.create_token(tags=["approval"])
        run = e.create_run("approve-order", plan=Plan(duration=2.0, wait_token=True))
        run.token = token.iid
    force(e, run, created + timedelta(seconds=4))
    e.resolvers.pop(token.iid, None)
    e.complete_token(token, '{"approved": true}')
    e.now += timedelta(seconds=1)
    return [run]


def deploy_building_five_minutes(w: World) -> list[Run]:
    """Runs of a new task wait 5 minutes for the deploy that adds it, which is building as usual."""
    e = w.engine
    e.add_queue("export-ledger", "task", 2)
    incidents.deploy(e, f"{e.now:%Y%m%d}.8", e.now - timedelta(minutes=6), status="BUILDING",
                     tasks=frozenset({"export-ledger"}))
    return [incidents.hold_pending(e, "export-ledger", e.now - timedelta(minutes=5 - i)) for i in range(3)]


def parents_wait_on_running_children(w: World) -> None:
    """A fan-out whose parents wait (without checkpoint) on children, with room in the environment for both."""
    incidents.fan_out_tasks(w.engine, rate=1.0, child_seconds=90.0, checkpoint=False)
    w.advance(15 * 60)


def schedule_flowing(w: World) -> None:
    """A schedule adds a run every 5 minutes to a queue of one; each finishes in a minute."""
    e = w.engine
    e.add_queue("reconcile-ledger", "task", 1)
    e.tasks["reconcile-ledger"] = TaskSpec("reconcile-ledger", "task/reconcile-ledger", 0.2,
                                           lambda rng: Plan(duration=60.0))
    w.advance(30 * 60)


def batch_still_running(w: World) -> list[Run]:
    """A batchTriggerAndWait whose children run for half an hour each: the parent waits, as it should."""
    parent = _fan_out(w, child_seconds=30 * 60.0)
    w.advance(15 * 60)
    return [parent]


def parents_checkpoint_at_the_limit(w: World) -> None:
    """The same fan-out at an environment limit of 12, but the parents checkpoint: their slots free for the children."""
    w.engine.env.concurrency_limit = 12
    incidents.fan_out_tasks(w.engine, rate=2.0, child_seconds=20.0, checkpoint=True)
    w.advance(15 * 60)


def worker_alive_between_steps(w: World) -> Run:
    """A 2-hour export whose worker is alive: its last step ended 3 minutes ago and the next one has begun."""
    e = w.engine
    run = forced(e, "sync-crm", e.now - timedelta(hours=2), Plan(duration=math.inf, step_seconds=240.0))
    moment = e.now - timedelta(hours=2)
    while moment < e.now:
        with at(e, moment):
            lifecycle.step(e, run, 240.0)
        moment += timedelta(seconds=240)
    return run


STALLS: dict[str, tuple[str, Callable[[World], Any], str]] = {
    # name: (scenario the world starts from, builder, the cause an operator would name)
    "bad-deploy-7-minutes-ago": ("healthy", bad_deploy_minutes_ago, "deployment_unrunnable"),
    "bad-deploy-quiet-hour": ("healthy", bad_deploy_quiet_hour, "deployment_unrunnable"),
    "bad-deploy-scenario": ("bad-deploy", lambda w: None, "deployment_unrunnable"),
    "deploy-crashes-on-start": ("healthy", deploy_crashes_on_start, "deployment_unrunnable"),
    "deploy-stuck-building": ("pending-version", lambda w: None, "pending_version"),
    "deploy-failed": ("healthy", deploy_failed, "pending_version"),
    "released-never": ("healthy", released_never, "pending_version"),
    "resume-lost-scenario": ("resume-lost", lambda w: None, "resume_lost"),
    "resume-lost-once": ("healthy", resume_lost_once, "resume_lost"),
    "batch-resume-lost": ("healthy", batch_resume_lost, "resume_lost"),
    "orphan-in-busy-queue": ("orphaned-run", lambda w: None, "run_orphaned"),
    "orphan-in-idle-queue": ("healthy", orphan_in_idle_queue, "run_orphaned"),
    "env-deadlock-scenario": ("env-deadlock", lambda w: None, "deadlock_at_env_limit"),
    "small-deadlock": ("healthy", small_deadlock, "deadlock_at_env_limit"),
    "worker-crashed-scenario": ("worker-crashed", lambda w: None, "worker_crashed"),
    "two-zombies": ("healthy", two_zombies, "worker_crashed"),
    "schedule-pileup-scenario": ("schedule-pileup", lambda w: None, "schedule_pileup"),
}

QUIET: dict[str, Callable[[World], Any]] = {
    "good-deploy-minute-ago": good_deploy_minute_ago,
    "bad-deploy-minute-ago": bad_deploy_minute_ago,
    "good-deploy-twenty-minutes-ago": good_deploy_twenty_minutes_ago,
    "token-completed-a-second-ago": token_completed_a_second_ago,
    "deploy-building-five-minutes": deploy_building_five_minutes,
    "parents-wait-on-running-children": parents_wait_on_running_children,
    "schedule-flowing": schedule_flowing,
    "batch-still-running": batch_still_running,
    "parents-checkpoint-at-the-limit": parents_checkpoint_at_the_limit,
    "worker-alive-between-steps": worker_alive_between_steps,
}
