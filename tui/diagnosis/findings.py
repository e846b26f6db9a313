"""What a diagnosis concludes: causes, findings, recovery steps, verify checks and the runbook path."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Cause(StrEnum):
    """The causes the runbook distinguishes; the values are the stable codes of the JSON output."""

    WORKER_POOL_EMPTY = "worker_pool_empty"
    QUEUE_PAUSED = "queue_paused"
    CONCURRENCY_AT_CAP = "concurrency_at_cap"
    LONG_RUNNING_BLOCKER = "long_running_blocker"
    ENTITY_BACKEND_UNREACHABLE = "entity_backend_unreachable"
    WAITPOINT_WITHOUT_RESUMER = "waitpoint_without_resumer"
    QUEUE_STATE_DRIFT = "queue_state_drift"
    WORKER_POOL_UNDERSIZED = "worker_pool_undersized"
    DEPLOYMENT_UNRUNNABLE = "deployment_unrunnable"
    PENDING_VERSION = "pending_version"
    RESUME_LOST = "resume_lost"
    RUN_ORPHANED = "run_orphaned"
    DEADLOCK_AT_ENV_LIMIT = "deadlock_at_env_limit"
    WORKER_CRASHED = "worker_crashed"
    SCHEDULE_PILEUP = "schedule_pileup"
    NOT_STUCK = "not_stuck"
    UNKNOWN = "unknown"


# Most specific first. A cause acting on the run itself beats one acting on its queue, which beats one
# acting on the whole environment; within the queue causes, an explicit admin state (pause) is named before
# the states that need more evidence to see. The first cause that holds is the answer; the others that
# hold are `also_true`.
PRECEDENCE: tuple[Cause, ...] = (
    Cause.DEPLOYMENT_UNRUNNABLE,
    Cause.PENDING_VERSION,
    Cause.RESUME_LOST,
    Cause.RUN_ORPHANED,
    Cause.WAITPOINT_WITHOUT_RESUMER,
    Cause.ENTITY_BACKEND_UNREACHABLE,
    Cause.QUEUE_PAUSED,
    Cause.QUEUE_STATE_DRIFT,
    Cause.DEADLOCK_AT_ENV_LIMIT,
    Cause.WORKER_CRASHED,
    Cause.SCHEDULE_PILEUP,
    Cause.LONG_RUNNING_BLOCKER,
    Cause.CONCURRENCY_AT_CAP,
    Cause.WORKER_POOL_EMPTY,
    Cause.WORKER_POOL_UNDERSIZED,
)

# The one-word state a triage line starts with, and how bad it is (lower is worse): nothing moves, then
# runs hang, then runs are merely slow.
LABELS: dict[Cause, str] = {
    Cause.WORKER_POOL_EMPTY: "STALLED",
    Cause.QUEUE_PAUSED: "PAUSED",
    Cause.LONG_RUNNING_BLOCKER: "BLOCKED",
    Cause.QUEUE_STATE_DRIFT: "DRIFT",
    Cause.ENTITY_BACKEND_UNREACHABLE: "HUNG",
    Cause.WAITPOINT_WITHOUT_RESUMER: "WAITING",
    Cause.CONCURRENCY_AT_CAP: "AT CAP",
    Cause.WORKER_POOL_UNDERSIZED: "STARVED",
    Cause.DEPLOYMENT_UNRUNNABLE: "BAD DEPLOY",
    Cause.PENDING_VERSION: "NO VERSION",
    Cause.RESUME_LOST: "LOST RESUME",
    Cause.RUN_ORPHANED: "ORPHANED",
    Cause.DEADLOCK_AT_ENV_LIMIT: "DEADLOCK",
    Cause.WORKER_CRASHED: "ZOMBIE",
    Cause.SCHEDULE_PILEUP: "PILE-UP",
    Cause.NOT_STUCK: "OK",
    Cause.UNKNOWN: "UNKNOWN",
}
SEVERITY: dict[Cause, int] = {
    Cause.WORKER_POOL_EMPTY: 0,
    Cause.QUEUE_PAUSED: 0,
    Cause.LONG_RUNNING_BLOCKER: 0,
    Cause.QUEUE_STATE_DRIFT: 0,
    Cause.ENTITY_BACKEND_UNREACHABLE: 1,
    Cause.WAITPOINT_WITHOUT_RESUMER: 1,
    Cause.UNKNOWN: 1,
    Cause.CONCURRENCY_AT_CAP: 2,
    Cause.WORKER_POOL_UNDERSIZED: 1,
    Cause.DEPLOYMENT_UNRUNNABLE: 0,
    Cause.DEADLOCK_AT_ENV_LIMIT: 0,
    Cause.PENDING_VERSION: 1,
    Cause.RESUME_LOST: 1,
    Cause.RUN_ORPHANED: 1,
    Cause.WORKER_CRASHED: 0,
    Cause.SCHEDULE_PILEUP: 0,
    Cause.NOT_STUCK: 3,
}


class Action(StrEnum):
    """Recovery actions of the actions layer; each has one key."""

    CANCEL = "cancel"
    RESUME_QUEUE = "resume_queue"
    COMPLETE_TOKEN = "complete_token"
    REPAIR_QUEUES = "repair_queues"
    OVERRIDE_CONCURRENCY = "override_concurrency"
    CANCEL_MATCHING = "cancel_matching"
    """A bulk cancel; `target` is the filter as a query string (`version=…&status=…`, see `actions.from_query`)."""
    ROLLBACK = "rollback"
    """Promote the previous deployed version again; `target` is that version."""


ACTION_KEYS: dict[Action, str] = {
    Action.CANCEL: "c",
    Action.RESUME_QUEUE: "p",
    Action.COMPLETE_TOKEN: "r",
    Action.REPAIR_QUEUES: "R",
    Action.OVERRIDE_CONCURRENCY: "o",
    Action.CANCEL_MATCHING: "C",
    Action.ROLLBACK: "b",
}


@dataclass(frozen=True, slots=True)
class Recovery:
    """One recovery step: an in-app action on a target, or an external step (a plugin, or advice)."""

    label: str
    action: Action | None = None
    target: str | None = None
    external: str | None = None
    """Plugin name (e.g. `scale-workers`) or a short id for advice the operator carries out elsewhere."""

    @property
    def key(self) -> str | None:
        return ACTION_KEYS[self.action] if self.action is not None else None


class VerifyKind(StrEnum):
    QUEUE_DEPTH_NORMAL = "queue_depth_normal"
    RUN_STATUS = "run_status"
    RUNS_FLOWING = "runs_flowing"
    TOKEN_COMPLETED = "token_completed"


@dataclass(frozen=True, slots=True)
class VerifyCheck:
    """A post-condition of the recovery, evaluated against fresh facts by `tui.diagnosis.verify`.

    `target` is a stored queue name, a run id or a token id. `expected` holds the acceptable run statuses for
    RUN_STATUS. `baseline` is the number seen at diagnosis time (started count for RUNS_FLOWING, queued for
    QUEUE_DEPTH_NORMAL) and `threshold` the depth counted as normal.
    """

    kind: VerifyKind
    label: str
    target: str
    expected: tuple[str, ...] = ()
    baseline: float | None = None
    threshold: float | None = None


class Outcome(StrEnum):
    """The answer of one runbook check."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Step:
    """One check on the runbook path, with its outcome and the facts behind it."""

    check: str
    outcome: Outcome
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """A diagnosis: the cause, the numbers behind it, how to recover and how to know it worked."""

    cause: Cause
    summary: str
    evidence: tuple[str, ...] = ()
    recovery: tuple[Recovery, ...] = ()
    verify: tuple[VerifyCheck, ...] = ()
    path: tuple[Step, ...] = ()
    also_true: tuple[Cause, ...] = ()
    run_id: str | None = None
    runs: tuple[str, ...] = ()
    """Affected run ids: every one stuck by `stuck.assess` (for a diagnosis, the run itself first)."""
    runs_note: str | None = None
    """Why `runs` is empty (a queue-level finding whose runs were not listed, say)."""
    queues: tuple[str, ...] = ()
    """Stored names of the affected queues."""
    entity: str | None = None
    waiting: int = 0
    """How many runs wait behind this finding (queued runs, or hung runs), for ordering triage."""

    @property
    def label(self) -> str:
        return LABELS[self.cause]

    @property
    def stuck(self) -> bool:
        return self.cause is not Cause.NOT_STUCK
