"""The shapes of stall that real incidents show beyond the runbook's seven, read from the facts once per scene:
a live version whose runs cannot start, runs that no queue counts, and parents deadlocked on their own children
at the environment limit. Pure functions; the rules turn them into findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui.config import Thresholds
from tui.diagnosis.deploys import previous_of
from tui.diagnosis.facts import EnvFacts, OpenSpan, QueueFacts, RunTrace, status_age
from tui.model import Deployment, QueueType, Run, RunStatus, TriggeredRun, stored_queue_name

FAILED = (RunStatus.FAILED, RunStatus.CRASHED, RunStatus.SYSTEM_FAILURE, RunStatus.TIMED_OUT)
FULL_LISTING = 100
"""A backlog this small is listed whole (one page), so its listing can be held against the queue's count."""
SKIPPED = 4
"""How many times its queue's p95 wait a run must have waited, with the queue serving others, to count as lost."""
NOT_STARTED = frozenset({"PENDING", "QUEUED", "PENDING_VERSION"})
"""Raw DB statuses (span detail `triggeredRuns`) of a child that has not started: still waiting for a slot."""


@dataclass(frozen=True, slots=True)
class Unrunnable:
    """The live version's runs do not start: what shows it."""

    live: Deployment
    previous: Deployment | None
    by_status: Mapping[str, int]
    """Runs on the live version by API status."""
    error: str | None
    """The error its starts ended with most often."""
    errors: int
    runs: tuple[Run, ...]
    """Unfinished runs locked to the live version."""


def unrunnable(env: EnvFacts, traces: Iterable[RunTrace], th: Thresholds) -> Unrunnable | None:
    """The live version went live a while ago, none of its runs completed, and its starts fail or never come.

    A deploy that went live within the dequeue window has had no time to show anything; one with a single
    completed run can run. Evidence of failure is needed besides: errors in its runs' traces, failed runs, or
    runs sat DEQUEUED past the window.
    """
    live = env.deployment
    if live is None or live.deployed_at is None or not env.deploys.live_runs:
        return None
    if env.now - live.deployed_at <= timedelta(seconds=th.dequeued_seconds):
        return None
    runs = [r for r in env.deploys.live_runs if r.version == live.version]
    if any(r.status is RunStatus.COMPLETED for r in runs):
        return None
    ids = {r.id for r in runs}
    errors = Counter(c.error for t in traces if t.run.id in ids for c in t.calls if not c.ok and c.error is not None)
    failed = [r for r in runs if r.status in FAILED]
    window = timedelta(seconds=th.dequeued_seconds)
    sat = [r for r in runs if r.status is RunStatus.DEQUEUED and status_age(r, env.now) > window]
    unfinished = tuple(r for r in runs if not r.terminal)
    if len(runs) < 2 or not (errors or failed or sat):
        return None
    error, count = errors.most_common(1)[0] if errors else (None, 0)
    return Unrunnable(
        live,
        previous_of(live, env.deploys.deployments),
        Counter(r.status.value for r in runs),
        error,
        count,
        unfinished,
    )


def orphans(env: EnvFacts, th: Thresholds) -> frozenset[str]:
    """QUEUED runs past the window that no queue counts: their queue serves others and skips them, or no listed
    queue holds them at all. Nothing will pull them, and repair-queues cannot see them."""
    window = timedelta(seconds=th.dequeued_seconds)
    found: set[str] = set()
    listed: set[str] = set()
    for q in env.queues:
        queued = [r for r in q.queued_runs if r.status is RunStatus.QUEUED]
        listed.update(r.id for r in queued)
        found.update(r.id for r in _left_out(q, queued, env, window))
    if all(q.queued_complete for q in env.queues if q.queue.queued > 0):
        # Every backlog was listed in full and none holds these; their own task queue counts nothing either.
        for run in env.stale_queued:
            task_queue = env.queue(stored_queue_name(run.task_identifier, QueueType.TASK))
            counted = task_queue is not None and task_queue.queue.queued > 0
            old = status_age(run, env.now) > window
            if run.status is RunStatus.QUEUED and run.id not in listed and not counted and old:
                found.add(run.id)
    return frozenset(found)


def _left_out(q: QueueFacts, queued: list[Run], env: EnvFacts, window: timedelta) -> list[Run]:
    """Listed runs the queue does not count: a whole listing (a backlog of one page or less) that holds more
    QUEUED runs than the queue counts, where only that many have waited past the window."""
    if q.queue.paused or q.queue.queued > FULL_LISTING or not q.queued_complete:
        return []
    missing = len(queued) - q.queue.queued
    old = [r for r in queued if status_age(r, env.now) > window]
    return old if old and len(old) <= missing else []


@dataclass(frozen=True, slots=True)
class Deadlock:
    """Slot holders that each wait on a child queued behind them, at the environment limit."""

    cycle: tuple[tuple[Run, TriggeredRun], ...]
    """(holder, the child it waits on) pairs."""
    holders: int
    """Slot holders listed."""
    since: datetime


def waits_on_child(trace: RunTrace) -> tuple[OpenSpan, TriggeredRun] | None:
    """The open span and the child run it waits on, when that child has not started."""
    for span in trace.open_spans:
        for child in span.triggered:
            if child.status in NOT_STARTED:
                return span, child
    return None


def deadlock(env: EnvFacts, traces: Mapping[str, RunTrace], th: Thresholds) -> Deadlock | None:
    """Every traced holder of the full environment waits on a child that has not started, for longer than the
    dequeue window: nothing can free a slot, so the children never start."""
    holders = env.env_holders
    if not env.env_saturated or not holders:
        return None
    traced = [traces[h.id] for h in holders if h.id in traces]
    if 2 * len(traced) < len(holders):
        return None
    pairs = []
    for trace in traced:
        found = waits_on_child(trace)
        if found is None:
            return None
        pairs.append((trace.run, found[1]))
    since = max(child.created_at for _, child in pairs)
    if env.now - since <= timedelta(seconds=th.dequeued_seconds):
        return None
    return Deadlock(tuple(pairs), len(holders), since)
