"""The simulator's mutable world: environment, queues, runs, spans, tokens, bulk actions, deployments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# DB run statuses (API.md §3.1, left column) that count as finished.
FINAL_DB_STATUSES = frozenset(
    {
        "COMPLETED_SUCCESSFULLY",
        "CANCELED",
        "COMPLETED_WITH_ERRORS",
        "INTERRUPTED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    }
)


@dataclass
class Environment:
    """One runtime environment, as the engine and `whoami` see it."""

    id: str
    slug: str
    type: str
    concurrency_limit: int
    burst_factor: float = 1.0
    paused: bool = False
    project_ref: str = "proj_platosdemo00000000000"
    operational: set[str] = field(default_factory=set)
    """Run ids holding an environment slot (the env `currentConcurrency` set)."""


@dataclass
class Queue:
    """A queue; `name` is the display name, `stored` the engine's key (`task/<id>` for task queues)."""

    id: str
    name: str
    type: str  # "task" (VIRTUAL) or "custom" (NAMED)
    base_limit: int | None
    override_limit: int | None = None
    override_percent: float | None = None
    overridden_at: datetime | None = None
    paused: bool = False
    waiting: list[str] = field(default_factory=list)
    """QUEUED run ids in dequeue order (the queue's sorted set)."""
    operational: set[str] = field(default_factory=set)
    """Run ids holding a slot (currentConcurrency): gates dequeueing."""
    dequeued: set[str] = field(default_factory=set)
    """Run ids a worker pulled that still hold a slot (currentDequeued): the API's `running`."""

    @property
    def stored(self) -> str:
        return f"task/{self.name}" if self.type == "task" else self.name

    @property
    def limit(self) -> int | None:
        return self.override_limit if self.override_limit is not None else self.base_limit


@dataclass(slots=True)
class Span:
    """A span; `end` None means in progress (`isPartial`)."""

    id: str
    run_id: str
    message: str
    start: datetime
    end: datetime | None = None
    parent_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    is_error: bool = False
    is_cancelled: bool = False
    attempt: int | None = None
    entity_type: str | None = None
    children: list[Span] = field(default_factory=list)
    level: str = "TRACE"
    """TRACE for a span; LOG/INFO/WARN/ERROR/DEBUG for a log record written inside its parent."""


@dataclass(slots=True)
class Plan:
    """How a run behaves when it executes."""

    duration: float
    """Seconds of work after any tool call or wait; `inf` never finishes."""
    tool: str | None = None
    """`entity.tool` called first, if any."""
    wait_token: bool = False
    checkpoint: bool = True
    """Whether a token wait suspends the run (WAITING, slot released) or keeps it EXECUTING."""
    fail: bool = False
    never_starts: bool = False
    """The worker pulls the run but never starts the attempt (the run sits DEQUEUED)."""
    spawn: str | None = None
    """A task this run triggers (fire and forget) when its main work begins: a child run in `relatedRuns`."""
    heartbeats: bool = False
    """A stuck worker that still heartbeats pushes the stall timer back forever, so the run is never requeued."""
    step_seconds: float | None = None
    """While working, open and close a `step N` span this often: a long run that shows its progress."""
    tool_seconds: float | None = None
    """How long this run's tool call takes when its entity is up (default TOOL_SECONDS; `inf` never answers)."""
    batch: int = 0
    """With `wait_child`: trigger this many children as one batch (`batchTriggerAndWait`) and wait for them all."""
    wait_child: str | None = None
    """A task this run triggers and waits for (`triggerAndWait`) before its work; `checkpoint` says whether the
    wait suspends the run (slot released) or keeps it EXECUTING on its slot."""
    crash_after: float | None = None
    """Seconds into its work when the worker dies (OOM): the trace stops and the run stays EXECUTING on its slot."""


@dataclass(slots=True)
class Run:
    """A run with its engine state. `status` uses the DB vocabulary; `snapshot` the execution snapshot."""

    iid: str
    task: str
    queue: str
    status: str
    snapshot: str
    created_at: datetime
    updated_at: datetime
    plan: Plan
    eligible_at: datetime | None = None
    locked_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    delay_until: datetime | None = None
    ttl: str | None = None
    expire_at: datetime | None = None
    expired_at: datetime | None = None
    version: str | None = None
    idempotency_key: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    payload: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    attempt: int = 0
    requeues: int = 0
    replica_status: str | None = None
    """The status before the last change: what a lagging replica still shows until `updated_at` + lag."""
    phase_end: datetime | None = None
    crash_at: datetime | None = None
    """When the worker running this attempt dies (see `Plan.crash_after`)."""
    phase: str = ""
    """What the run is doing while EXECUTING: "tool", "wait", "work"."""
    token: str | None = None
    parent: str | None = None
    parent_span: str | None = None
    """The span of the parent's trace that triggered this run (span detail `triggeredRuns`)."""
    root: str | None = None
    depth: int = 0
    batch: str | None = None
    is_test: bool = False
    trigger_function: str = "trigger"
    region: str = "eu-central-1"
    bulk: list[str] = field(default_factory=list)
    spans: Span | None = None
    """The trace's root span; None while no event of the run is written yet (the trace route answers 404)."""
    span_index: dict[str, Span] = field(default_factory=dict)
    trace_id: str = ""
    schedule: str | None = None
    """The `sched_…` id of the schedule that created the run."""

    @property
    def friendly(self) -> str:
        return f"run_{self.iid}"

    @property
    def final(self) -> bool:
        return self.status in FINAL_DB_STATUSES


@dataclass
class Token:
    """A manual waitpoint token."""

    iid: str
    created_at: datetime
    status: str = "PENDING"  # PENDING or COMPLETED
    output: str | None = None
    output_is_error: bool = False
    timeout_at: datetime | None = None
    completed_at: datetime | None = None
    idempotency_key: str | None = None
    user_key: bool = False
    idempotency_expires_at: datetime | None = None
    inactive_key: str | None = None
    """A user key that expired and moved aside (API.md §7.1 `inactiveIdempotencyKey`)."""
    tags: list[str] = field(default_factory=list)
    waiters: set[str] = field(default_factory=set)

    @property
    def friendly(self) -> str:
        return f"waitpoint_{self.iid}"


@dataclass
class Bulk:
    """An asynchronous bulk cancel or replay."""

    iid: str
    type: str  # CANCEL or REPLAY
    created_at: datetime
    targets: list[str]
    name: str | None = None
    status: str = "PENDING"
    done: int = 0
    success: int = 0
    failure: int = 0
    completed_at: datetime | None = None

    @property
    def friendly(self) -> str:
        return f"bulk_{self.iid}"


@dataclass
class Deployment:
    """A deployed worker version."""

    id: str
    short_code: str
    version: str
    status: str
    created_at: datetime
    deployed_at: datetime | None
    image_error: str | None = None
    """Why this version's image cannot start (a bad deploy): every run locked to it fails to start."""
    start_error: str | None = None
    """Why every attempt on this version crashes as it starts (a bundle that cannot import a task)."""
    tasks: frozenset[str] | None = None
    """The tasks this version has (None: every task the engine knows)."""
