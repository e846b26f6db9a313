"""Evidence lines and verify checks the rules share: how a queue, a dequeue count or a run is cited."""

from __future__ import annotations

from datetime import datetime, timedelta

from tui.diagnosis.facts import EnvFacts, QueueFacts
from tui.diagnosis.findings import VerifyCheck, VerifyKind
from tui.diagnosis.fmt import limit_text, name
from tui.model import Run, RunStatus, time_in_status

DEQUEUED_HINT = (
    "DEQUEUED too long: a worker pulled the run but its runner never started the attempt "
    "(pod not scheduled, image pull, crashed runner); the engine requeues it after the stall timeout"
)


def queue_line(q: QueueFacts, env: EnvFacts) -> str:
    """`queue task/agent-turn: queued 412, running 0, limit 10` (the limit that gates dequeueing)."""
    paused = ", PAUSED" if q.queue.paused else ""
    return (
        f"queue {name(q.name)}: queued {q.queue.queued}, running {q.queue.running}, "
        f"limit {limit_text(env.limit_of(q))}{paused}"
    )


def started_line(q: QueueFacts, env: EnvFacts) -> str:
    if q.metrics is None:
        return f"started in last {env.window} in {name(q.name)}: unknown (metrics not fetched)"
    m = q.metrics
    return (
        f"started in last {env.window} in {name(q.name)}: {m.started_count} "
        f"({m.started_per_min:g}/min, throttled samples {m.throttled_count})"
    )


NORMAL_DEPTH = 10
"""A backlog of at most this many runs (or one concurrency width, if smaller) counts as normal."""


def normal_depth(q: QueueFacts, env: EnvFacts) -> int:
    """The depth counted as normal: one concurrency width, at most NORMAL_DEPTH, at least 1."""
    limit = env.limit_of(q)
    return max(1, min(limit, NORMAL_DEPTH) if limit is not None else NORMAL_DEPTH)


def flow_checks(q: QueueFacts, env: EnvFacts) -> tuple[VerifyCheck, ...]:
    """Verify checks for a queue that should move again: depth back to normal, new runs flowing."""
    return (
        VerifyCheck(
            VerifyKind.QUEUE_DEPTH_NORMAL,
            f"queue depth back to normal ({name(q.name)} queued ≤ {normal_depth(q, env)})",
            q.name,
            baseline=q.queue.queued,
            threshold=normal_depth(q, env),
        ),
        VerifyCheck(
            VerifyKind.RUNS_FLOWING,
            f"new runs flowing in {name(q.name)} (started count rises above {q.started or 0})",
            q.name,
            baseline=q.started or 0,
        ),
    )


def run_check(run_id: str, statuses: tuple[RunStatus, ...], label: str) -> VerifyCheck:
    return VerifyCheck(VerifyKind.RUN_STATUS, label, run_id, expected=tuple(s.value for s in statuses))


def canceled_check(run_id: str, label: str | None = None) -> VerifyCheck:
    """The run reaches CANCELED: how a cancel is verified."""
    return run_check(run_id, (RunStatus.CANCELED,), label or f"run {run_id} reaches CANCELED")


def run_age(run: Run, now: datetime) -> timedelta:
    return time_in_status(run, now)
