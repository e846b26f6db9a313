"""Tick verify checks against fresh observations: pure functions a screen re-evaluates on every poll."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tui.diagnosis.facts import EnvFacts
from tui.diagnosis.findings import VerifyCheck, VerifyKind
from tui.diagnosis.fmt import name
from tui.model import Queue, QueueMetrics, RunStatus, TokenStatus


class VerifyState(StrEnum):
    HOLDS = "holds"
    PENDING = "pending"
    UNKNOWN = "unknown"
    """Not observed (yet): the fact the check needs was not fetched or failed."""


@dataclass(frozen=True, slots=True)
class Observation:
    """Fresh facts keyed by target: queues and metrics by stored name, runs and tokens by id."""

    queues: Mapping[str, Queue] = field(default_factory=dict)
    metrics: Mapping[str, QueueMetrics] = field(default_factory=dict)
    runs: Mapping[str, RunStatus] = field(default_factory=dict)
    tokens: Mapping[str, TokenStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    check: VerifyCheck
    state: VerifyState
    detail: str

    @property
    def holds(self) -> bool:
        return self.state is VerifyState.HOLDS


def queue_depth_normal(check: VerifyCheck, obs: Observation) -> VerifyResult:
    queue = obs.queues.get(check.target)
    if queue is None:
        return VerifyResult(check, VerifyState.UNKNOWN, f"queue {name(check.target)} not observed")
    threshold = check.threshold or 0
    was = f"was {int(check.baseline)}, " if check.baseline is not None else ""
    detail = f"queued {queue.queued} ({was}normal ≤ {threshold:g})"
    return VerifyResult(check, VerifyState.HOLDS if queue.queued <= threshold else VerifyState.PENDING, detail)


def run_status(check: VerifyCheck, obs: Observation) -> VerifyResult:
    status = obs.runs.get(check.target)
    if status is None:
        return VerifyResult(check, VerifyState.UNKNOWN, f"run {name(check.target)} not observed")
    state = VerifyState.HOLDS if status.value in check.expected else VerifyState.PENDING
    return VerifyResult(check, state, f"run {name(check.target)} is {status.value}")


def runs_flowing(check: VerifyCheck, obs: Observation) -> VerifyResult:
    metrics = obs.metrics.get(check.target)
    if metrics is None:
        return VerifyResult(check, VerifyState.UNKNOWN, f"metrics of {name(check.target)} not observed")
    baseline = check.baseline or 0
    state = VerifyState.HOLDS if metrics.started_count > baseline else VerifyState.PENDING
    return VerifyResult(check, state, f"started {metrics.started_count} in {metrics.period} (was {baseline:g})")


def token_completed(check: VerifyCheck, obs: Observation) -> VerifyResult:
    status = obs.tokens.get(check.target)
    if status is None:
        return VerifyResult(check, VerifyState.UNKNOWN, f"token {name(check.target)} not observed")
    state = VerifyState.HOLDS if status is TokenStatus.COMPLETED else VerifyState.PENDING
    return VerifyResult(check, state, f"token {name(check.target)} is {status.value}")


EVALUATORS = {
    VerifyKind.QUEUE_DEPTH_NORMAL: queue_depth_normal,
    VerifyKind.RUN_STATUS: run_status,
    VerifyKind.RUNS_FLOWING: runs_flowing,
    VerifyKind.TOKEN_COMPLETED: token_completed,
}


def evaluate(check: VerifyCheck, obs: Observation) -> VerifyResult:
    return EVALUATORS[check.kind](check, obs)


def evaluate_all(checks: Iterable[VerifyCheck], obs: Observation) -> tuple[VerifyResult, ...]:
    return tuple(evaluate(c, obs) for c in checks)


def merge(old: Observation, new: Observation) -> Observation:
    """Newer facts over older ones, so a partial poll does not un-tick what was seen."""
    return Observation(
        queues={**old.queues, **new.queues},
        metrics={**old.metrics, **new.metrics},
        runs={**old.runs, **new.runs},
        tokens={**old.tokens, **new.tokens},
    )


def observation_from_env(env: EnvFacts) -> Observation:
    """What gathered environment facts already say (queues, metrics, the statuses of runs seen)."""
    runs: dict[str, RunStatus] = {}
    for q in env.queues:
        for r in (*(q.holders or ()), *q.queued_runs):
            runs[r.id] = r.status
    for t in env.candidates:
        runs[t.run.id] = t.run.status
    tokens = {t.id: t.status for t in env.waiting_tokens}
    for t in env.candidates:
        tokens.update({d.token.id: d.token.status for d in t.tokens})
    return Observation(
        queues={q.name: q.queue for q in env.queues},
        metrics={q.name: q.metrics for q in env.queues if q.metrics is not None},
        runs=runs,
        tokens=tokens,
    )
