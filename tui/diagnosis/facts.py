"""The facts a diagnosis is made from: plain frozen snapshots gathered once, with `now` fixed inside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tui.model import (
    Deployment,
    EngineReport,
    EnvironmentInfo,
    Queue,
    QueueEngineState,
    QueueMetrics,
    Repair,
    RepairReport,
    Run,
    RunDetail,
    RunStatus,
    TokenDetail,
    TokenStatus,
    TriggeredRun,
    WaitpointToken,
    effective_limit,
    time_in_status,
)


def status_age(run: Run, now: datetime, trace: RunTrace | None = None) -> timedelta:
    """Time since the run's latest transition into its status.

    For an EXECUTING run whose trace shows when it last started or resumed (an attempt span, a wait that ended),
    that moment; otherwise the run's own estimate (`time_in_status`).
    """
    if trace is not None and trace.resumed_at is not None and run.status is RunStatus.EXECUTING:
        since = max(trace.resumed_at, run.started_at or trace.resumed_at)
        return max(timedelta(0), now - since)
    return time_in_status(run, now)


@dataclass(frozen=True, slots=True)
class OpenSpan:
    """A span still in progress in a run's trace: a tool call, a token wait, or other."""

    span_id: str
    message: str
    started_at: datetime
    entity: str | None = None
    token_id: str | None = None
    triggered: tuple[TriggeredRun, ...] = ()
    """Runs this span triggered (span detail `triggeredRuns`): the children a `triggerAndWait` waits on."""

    def age(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.started_at)


@dataclass(frozen=True, slots=True)
class Call:
    """A span that has ended: what it was (message, entity when known) and how it ended."""

    message: str
    started_at: datetime
    ended_at: datetime
    ok: bool
    entity: str | None = None
    error: str | None = None
    """The exception message recorded on the span, when it ended in error."""


@dataclass(frozen=True, slots=True)
class RunTrace:
    """What the trace says about one run: its open leaf spans, the tokens it waits on, and when it last moved."""

    run: Run
    open_spans: tuple[OpenSpan, ...] = ()
    tokens: tuple[TokenDetail, ...] = ()
    note: str | None = None
    """Why part of this is unknown (trace not found, span detail failed, ...)."""
    last_activity: datetime | None = None
    """The latest span start, span end or span event, leaving out the run's own span and the open leaves."""
    resumed_at: datetime | None = None
    """When the run last (re)entered EXECUTING: the latest attempt start or end of a wait."""
    calls: tuple[Call, ...] = ()
    """Ended leaf spans, newest last (at most a few dozen): how calls to each entity have been ending."""
    children_done_at: datetime | None = None
    """When the last of the child runs an open wait span waits on finished, once all have (read from the runs)."""

    def token(self, token_id: str) -> TokenDetail | None:
        return next((t for t in self.tokens if t.token.id == token_id), None)

    @property
    def known(self) -> bool:
        return self.note != "trace unavailable"


@dataclass(frozen=True, slots=True)
class QueueFacts:
    """A queue with what was learnt about it. `None` means not fetched (budget) or failed (see notes)."""

    queue: Queue
    metrics: QueueMetrics | None = None
    holders: tuple[Run, ...] | None = None
    """DEQUEUED/EXECUTING runs listed for this queue: the runs holding its slots."""
    holders_complete: bool = True
    """False when the holders list was cut by paging, so a count comparison is not safe."""
    queued_runs: tuple[Run, ...] = ()
    """Up to 100 of this queue's QUEUED runs past the dequeued threshold (newest first): the affected runs."""
    queued_complete: bool = False
    """True when `queued_runs` is every such run (the listing ended within one page)."""
    leaks: tuple[Repair, ...] | None = None
    """Admin dry-run repairs with action `repairSnapshot` for this queue; None without an admin token."""
    engine: QueueEngineState | None = None
    head: RunDetail | None = None
    """The oldest slot holder, read in full when runs of its own task pile up behind it (its schedule)."""
    holder_traces: tuple[RunTrace, ...] = ()
    """Traces of the slot holders, when the diagnosis follows a blocked queue to why its holders hang."""
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.queue.stored_name

    @property
    def started(self) -> int | None:
        return self.metrics.started_count if self.metrics is not None else None


@dataclass(frozen=True, slots=True)
class DeployFacts:
    """The latest deployments, and the runs a recent deploy locked or keeps waiting."""

    deployments: tuple[Deployment, ...] = ()
    """The latest deployments, newest first."""
    live_runs: tuple[Run, ...] = ()
    """Runs locked to the live version since shortly before it went live (one page, newest first)."""
    live_traces: tuple[RunTrace, ...] = ()
    """Traces of a few runs on the live version that did not complete: how their starts ended."""
    previous_completed: int | None = None
    """Runs on the previous deployed version that completed since shortly before the switch (None: not read)."""
    pending_runs: tuple[Run, ...] = ()
    """PENDING_VERSION runs (one page, newest first)."""


@dataclass(frozen=True, slots=True)
class EnvFacts:
    """The environment around a run, or the whole environment for triage."""

    now: datetime
    window: str
    """The metrics period used for dequeue counts, e.g. `15m`."""
    queues: tuple[QueueFacts, ...]
    environment: EnvironmentInfo | None = None
    deployment: Deployment | None = None
    engine_report: EngineReport | None = None
    repair: RepairReport | None = None
    env_holders: tuple[Run, ...] | None = None
    """All DEQUEUED/EXECUTING runs of the environment, listed when the environment looks saturated."""
    candidates: tuple[RunTrace, ...] = ()
    """Traced stuck candidates (triage only)."""
    candidates_total: int = 0
    """Stuck candidates found before the trace cap was applied."""
    active_runs_seen: int = 0
    waiting_tokens: tuple[WaitpointToken, ...] = ()
    stale_queued: tuple[Run, ...] = ()
    """QUEUED runs of the whole environment created before the dequeued window (oldest first, one page)."""
    samples: tuple[RunTrace, ...] = ()
    """Traces of other runs read to judge an entity by all its calls (runs that finished recently)."""
    deploys: DeployFacts = field(default_factory=DeployFacts)
    """What the deploys did to the runs (see `deploys.deploy_facts`)."""
    admin_checked: bool = False
    requests: int = 0
    """HTTP requests the gathering sent."""
    notes: tuple[str, ...] = ()
    _index: dict[str, QueueFacts] = field(init=False, repr=False, compare=False, default_factory=dict)
    _running: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # Derived once: triage asks for these per queue, and at 10,000 queues a re-sum each time is quadratic.
        object.__setattr__(self, "_index", {q.name: q for q in self.queues})
        object.__setattr__(self, "_running", sum(q.queue.running for q in self.queues))

    def queue(self, stored_name: str) -> QueueFacts | None:
        return self._index.get(stored_name)

    @property
    def env_limit(self) -> int | None:
        return self.environment.concurrency_limit if self.environment is not None else None

    @property
    def env_paused(self) -> bool:
        return self.environment is not None and self.environment.paused

    def limit_of(self, q: QueueFacts) -> int | None:
        """The limit that gates dequeueing for this queue: min(queue, environment limit) (API.md §11.4)."""
        return effective_limit(q.queue, self.env_limit)

    def at_cap(self, q: QueueFacts) -> bool:
        limit = self.limit_of(q)
        return limit is not None and q.queue.running >= limit and not q.queue.paused

    @property
    def env_capacity(self) -> int | None:
        """Environment slots with burst: from the admin report when present, else from whoami."""
        if self.engine_report is not None:
            return self.engine_report.concurrency_limit_with_burst
        if self.environment is None or self.environment.concurrency_limit is None:
            return None
        return int(self.environment.concurrency_limit * self.environment.burst_factor)

    @property
    def active_queues(self) -> int:
        """Queues with anything queued or running."""
        return sum(1 for q in self.queues if q.queue.queued > 0 or q.queue.running > 0)

    @property
    def env_running(self) -> int:
        """Slots in use: the admin report's operational count, else the sum of `running` (an undercount)."""
        if self.engine_report is not None:
            return self.engine_report.current_concurrency
        return self._running

    @property
    def env_saturated(self) -> bool:
        """The environment is at its limit (with burst), so every queue stalls (API.md §11.4)."""
        if self.env_paused:
            return False
        if self.engine_report is not None and not self.engine_report.can_dequeue and self.engine_report.reasons:
            return any("limit" in reason for reason in self.engine_report.reasons)
        capacity = self.env_capacity
        return capacity is not None and capacity > 0 and self.env_running >= capacity

    def leaks_outside_queues(self) -> tuple[Repair, ...]:
        """Leaks the admin environment pass found (not attributed to a queue)."""
        return self.repair.environment.leaks if self.repair is not None else ()


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Everything known about one run and its surroundings when diagnosing it."""

    now: datetime
    detail: RunDetail
    env: EnvFacts
    queue_name: str | None = None
    """Stored name of the run's queue, when found (the API never reports it, API.md §4.1)."""
    queue_how: str = "not looked up"
    trace: RunTrace | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def run(self) -> Run:
        return self.detail.run

    @property
    def queue(self) -> QueueFacts | None:
        return self.env.queue(self.queue_name) if self.queue_name is not None else None

    def time_in_status(self) -> timedelta:
        return status_age(self.run, self.now, self.trace)

    @property
    def waits_for_dequeue(self) -> bool:
        """The run waits for a worker to pull it: QUEUED, or WAITING after its tokens completed (§7.4)."""
        if self.run.status is RunStatus.QUEUED:
            return True
        if self.run.status is RunStatus.WAITING and self.trace is not None and self.trace.tokens:
            return all(t.token.status is not TokenStatus.WAITING for t in self.trace.tokens)
        return False
