"""Stall situations (and healthy look-alikes) built on the simulator, the way operators meet them.

Each builder takes a fresh engine of the `healthy` scenario (30 minutes of warm-up, 24 h of history) and
changes the world the way the incident or its look-alike would: it scales workers, takes an entity down,
pauses, bursts, resumes. Nothing here knows the diagnosis rules; the tests say what an operator would call
each situation.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.diagnosis.report import diagnose_command, triage_command
from tui.sim import server
from tui.sim.engine import Engine
from tui.sim.scenarios import _force, at
from tui.sim.state import Plan, Run

START = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
"""Every world starts at the same moment: the metrics' buckets align the same way on every run of the suite."""


@dataclass
class World:
    """A simulated environment with the real client in front of it."""

    engine: Engine
    client: EngineClient
    settings: Settings

    async def triage(self) -> tuple[int, dict[str, Any]]:
        out = io.StringIO()
        code = await triage_command(self.client, self.settings, True, out, now=self.engine.now)
        return code, json.loads(out.getvalue())

    async def diagnose(self, run_id: str) -> dict[str, Any]:
        out = io.StringIO()
        code = await diagnose_command(self.client, self.settings, run_id, True, out, now=self.engine.now)
        data: dict[str, Any] = json.loads(out.getvalue())
        assert code == (0 if data["cause"] == "not_stuck" else 1), data["summary"]
        return data

    def advance(self, seconds: float) -> None:
        self.engine.advance(seconds)

    def runs(self, task: str, *statuses: str) -> list[Run]:
        """The task's runs in these DB statuses (all when none), oldest first."""
        return [r for r in self.engine.order if r.task == task and (not statuses or r.status in statuses)]


@asynccontextmanager
async def world(scenario: str = "healthy", *, seed: int = 1, admin: bool = False) -> AsyncIterator[World]:
    """The scenario's engine behind the simulator's HTTP app, frozen in time (speed 0) for the test to move."""
    made = make_world(scenario, seed=seed, admin=admin)
    try:
        yield made
    finally:
        await made.client.aclose()


def make_world(scenario: str, *, seed: int = 1, admin: bool = False) -> World:
    """`world` without the closing: the caller closes `client`."""
    app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=seed, start=START))
    token = server.DEFAULT_ADMIN_TOKEN if admin else None
    client = EngineClient(
        "http://127.0.0.1",
        server.DEFAULT_SECRET_KEY,
        admin_token=token,
        transport=httpx.ASGITransport(app=app),
        budget_per_second=None,
        guard=WriteGuard(read_only=False),
    )
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY, admin_token=token)
    return World(app.state.sim.engine, client, settings)


def forced(engine: Engine, task: str, created: datetime, plan: Plan, *, token: str | None = None) -> Run:
    """A run created at `created` that a worker pulled and started a few seconds later, with this plan."""
    with at(engine, created):
        run = engine.create_run(task, plan=plan)
    run.token = token
    _force(engine, run, created + timedelta(seconds=3))
    return run


# ---------------------------------------------------------------- situations: stalls


def pool_scaled_to_zero(w: World) -> None:
    """The worker deployment went to 0 replicas 20 minutes ago."""
    w.engine.workers = 0
    w.advance(20 * 60)


def pool_gone_mid_pull(w: World) -> list[Run]:
    """The worker nodes were drained mid-pull: two runs stay DEQUEUED, and nothing is pulled since."""
    e = w.engine
    pulled = []
    for minutes in (14, 12):
        with at(e, e.now - timedelta(minutes=minutes)):
            run = e.create_run("summarize", plan=Plan(duration=10.0, never_starts=True, heartbeats=True))
        _force(e, run, e.now - timedelta(minutes=minutes) + timedelta(seconds=5), executing=False)
        pulled.append(run)
    e.workers = 0
    w.advance(20 * 60)
    return pulled


def pool_too_small(w: World) -> None:
    """A bad autoscaler left one worker (5 slots) for a load that needs six."""
    w.engine.workers = 1
    w.advance(25 * 60)


def entity_down_holding_a_queue(w: World) -> None:
    """The CRM backend is unreachable: sync-crm's three slots hang on it and its queue backs up behind them."""
    w.engine.entities_down.add("crm")
    w.engine.tasks["sync-crm"].per_minute = 2.0
    w.advance(25 * 60)


def approvals_hold_a_queue(w: World) -> None:
    """Approvals that keep their slot while they wait (no checkpoint), and nobody approves: the queue backs up."""
    e = w.engine
    e.auto_resolve = None
    e.resolvers.clear()
    e.tasks["approve-order"].plan = lambda rng: Plan(duration=2.0, wait_token=True, checkpoint=False)
    e.tasks["approve-order"].per_minute = 1.0
    w.advance(90 * 60)


def orphan_tokens(w: World, count: int = 3) -> list[Run]:
    """Runs suspended for hours on tokens with no timeout that no one will complete."""
    e = w.engine
    runs = []
    for i in range(count):
        created = e.now - timedelta(hours=3 + i)
        with at(e, created):
            token = e.create_token(tags=["approval"])
        runs.append(forced(e, "approve-order", created, Plan(duration=2.0, wait_token=True), token=token.iid))
    w.advance(60)
    for run in runs:
        assert run.status == "WAITING_TO_RESUME", run.status
    return runs


def tokens_with_far_timeout(w: World) -> list[Run]:
    """Waits whose token times out in 90 days: no sane resumer."""
    return _token_waits(w, timeout="90d")


def queue_paused_hours_ago(w: World) -> None:
    w.engine.queues["task/process-video"].paused = True
    w.advance(40 * 60)


def blocked_by_silent_runs(w: World) -> list[Run]:
    """Three full resyncs that hang without a trace of progress hold every sync-crm slot for hours."""
    e = w.engine
    runs = [
        forced(e, "sync-crm", e.now - timedelta(hours=3, minutes=10 * i), Plan(duration=math.inf))
        for i in range(3)
    ]
    for run in runs:
        run.phase, run.phase_end = "work", None
    e.tasks["sync-crm"].per_minute = 1.5
    w.advance(20 * 60)
    return runs


def queue_gone(w: World) -> list[Run]:
    """A deploy dropped the nightly-report queue while runs waited in it: nothing will ever pull them."""
    e = w.engine
    with at(e, e.now - timedelta(minutes=20)):
        runs = [e.create_run("nightly-report", plan=Plan(duration=30.0)) for _ in range(3)]
    e.queues["task/nightly-report"].paused = True  # they stay QUEUED until the queue goes
    w.advance(60)
    e.remove_queue("task/nightly-report")
    e.tasks.pop("nightly-report", None)
    w.advance(5 * 60)
    return runs


def cap_too_low(w: World) -> None:
    """agent-turn's limit is 2 while 4 a minute arrive, each a minute long: a backlog that only grows."""
    e = w.engine
    e.queues["task/agent-turn"].base_limit = 2
    e.tasks["agent-turn"].plan = lambda rng: Plan(duration=rng.uniform(50, 70), tool="crm.lookup")
    w.advance(30 * 60)


# ---------------------------------------------------------------- situations: healthy look-alikes


def progressing_long_run(w: World) -> Run:
    """A 3-hour export that reports a step every minute: long, but alive."""
    e = w.engine
    run = forced(e, "nightly-report", e.now - timedelta(minutes=50), Plan(duration=3 * 3600, step_seconds=60))
    run.phase, run.phase_end = "work", e.now + timedelta(hours=2)
    w.advance(5 * 60)
    return run


def one_slow_call(w: World) -> Run:
    """One agent-turn's CRM call is slow (12 minutes so far) while every other CRM call answers in seconds."""
    e = w.engine
    with at(e, e.now - timedelta(minutes=12)):
        run = e.create_run("agent-turn", plan=Plan(duration=30.0, tool="crm.lookup", tool_seconds=3600.0))
    w.advance(12 * 60)
    return run


def slow_entity_answering(w: World) -> None:
    """The CRM got slow: every upsert takes 2.5 minutes, past the per-call threshold, but every one answers."""
    e = w.engine
    e.tasks["sync-crm"].plan = lambda rng: Plan(duration=rng.uniform(10, 25), tool="crm.upsert", tool_seconds=150.0)
    e.tasks["sync-crm"].per_minute = 0.8
    w.advance(20 * 60)


def token_times_out_later(w: World) -> list[Run]:
    """Approvals waiting hours on tokens that time out by themselves in a few hours: the timeout resumes them."""
    return _token_waits(w, timeout="8h")


def _token_waits(w: World, *, timeout: str) -> list[Run]:
    e = w.engine
    runs = []
    for i in range(2):
        created = e.now - timedelta(hours=4, minutes=30 * i)
        with at(e, created):
            token = e.create_token(timeout=timeout, tags=["approval"], created_at=created)
        runs.append(forced(e, "approve-order", created, Plan(duration=2.0, wait_token=True), token=token.iid))
    w.advance(60)
    return runs


def resumed_a_moment_ago(w: World) -> Run:
    """A run started 3 hours ago waited on an approval, which came 20 seconds ago: it is working again."""
    e = w.engine
    created = e.now - timedelta(hours=3)
    with at(e, created):
        token = e.create_token(tags=["approval"], created_at=created)
    run = forced(e, "approve-order", created, Plan(duration=1800.0, wait_token=True), token=token.iid)
    e.resolvers[token.iid] = e.now
    w.advance(30)
    assert run.status == "EXECUTING", run.status
    return run


def burst_draining(w: World) -> None:
    """120 agent-turns arrive at once (a campaign): the queue sits at its cap and drains them."""
    e = w.engine
    for _ in range(120):
        e.create_run("agent-turn")
    w.advance(6 * 60)


SITUATIONS: dict[str, Callable[[World], Any]] = {
    "pool-scaled-to-zero": pool_scaled_to_zero,
    "pool-gone-mid-pull": pool_gone_mid_pull,
    "pool-too-small": pool_too_small,
    "entity-down-holding-a-queue": entity_down_holding_a_queue,
    "approvals-hold-a-queue": approvals_hold_a_queue,
    "orphan-tokens": orphan_tokens,
    "tokens-with-far-timeout": tokens_with_far_timeout,
    "queue-paused-hours-ago": queue_paused_hours_ago,
    "blocked-by-silent-runs": blocked_by_silent_runs,
    "queue-gone": queue_gone,
    "cap-too-low": cap_too_low,
    "progressing-long-run": progressing_long_run,
    "one-slow-call": one_slow_call,
    "slow-entity-answering": slow_entity_answering,
    "token-times-out-later": token_times_out_later,
    "resumed-a-moment-ago": resumed_a_moment_ago,
    "burst-draining": burst_draining,
}
