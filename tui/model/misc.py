"""Environment, deployments, bulk actions and admin repair results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EnvironmentType(StrEnum):
    """The kind of environment a secret key belongs to."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"
    PREVIEW = "preview"


_KEY_PREFIXES = (
    ("tr_dev_", EnvironmentType.DEVELOPMENT),
    ("tr_stg_", EnvironmentType.STAGING),
    ("tr_prod_", EnvironmentType.PRODUCTION),
    ("tr_preview_", EnvironmentType.PREVIEW),
)


def environment_type_from_key(key: str) -> EnvironmentType | None:
    """The environment type encoded in a secret key's prefix (API.md §1.2), or None."""
    for prefix, env_type in _KEY_PREFIXES:
        if key.startswith(prefix):
            return env_type
    return None


@dataclass(frozen=True, slots=True)
class EnvironmentInfo:
    """What the server says about the authenticated environment (never its key)."""

    id: str
    slug: str
    type: str
    paused: bool
    concurrency_limit: int | None
    burst_factor: float = 1.0


class DeploymentStatus(StrEnum):
    """Deployment lifecycle states; unknown ones are kept as text by the wire layer."""

    PENDING = "PENDING"
    INSTALLING = "INSTALLING"
    BUILDING = "BUILDING"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TIMED_OUT = "TIMED_OUT"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment, matched to runs by `version` (API.md §9)."""

    id: str
    short_code: str
    version: str
    status: str
    created_at: datetime
    deployed_at: datetime | None = None
    error: str | None = None
    """Why the deploy failed (`error.message`), when it did."""


@dataclass(frozen=True, slots=True)
class Promotion:
    """What a promote answers: the deployment that is now current for new runs (API.md §9)."""

    id: str
    version: str
    short_code: str


class BulkActionType(StrEnum):
    CANCEL = "CANCEL"
    REPLAY = "REPLAY"


class BulkActionStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"


@dataclass(frozen=True, slots=True)
class BulkAction:
    """An asynchronous bulk cancel or replay and its progress (API.md §8)."""

    id: str
    type: BulkActionType
    status: BulkActionStatus
    total: int
    success: int
    failure: int
    created_at: datetime
    completed_at: datetime | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Repair:
    """One run found in a concurrency set by repair-queues (API.md §10.2). Ids are internal (no `run_`)."""

    action: str
    run_id: str
    snapshot_status: str
    snapshot_id: str

    @property
    def friendly_run_id(self) -> str:
        return f"run_{self.run_id}"


REPAIR_IGNORE = "ignore"
"""The repair action for a run whose snapshot is not a leak (API.md §10.2)."""


@dataclass(frozen=True, slots=True)
class RepairResult:
    """Repairs for the environment or one queue: what the engine would change, and how many runs it would leave
    alone. Those are only counted: an environment at its limits holds thousands of healthy slots, and every triage
    reads them all again."""

    repairs: tuple[Repair, ...]
    """The runs whose action is not `ignore`."""
    ignored: int
    dry_run: bool

    @property
    def leaks(self) -> tuple[Repair, ...]:
        return tuple(r for r in self.repairs if r.action == "repairSnapshot")


@dataclass(frozen=True, slots=True)
class RepairReport:
    """The whole repair-queues answer: environment pass plus one result per queue."""

    environment: RepairResult
    queues: tuple[tuple[str, RepairResult], ...]

    @property
    def leak_count(self) -> int:
        return len(self.environment.leaks) + sum(len(r.leaks) for _, r in self.queues)


@dataclass(frozen=True, slots=True)
class QueueEngineState:
    """One queue of the admin engine report (API.md §10.3)."""

    name: str
    paused: bool
    can_dequeue: bool
    reasons: tuple[str, ...]
    concurrency_limit: int | None
    current_concurrency: int
    current_dequeued: int


@dataclass(frozen=True, slots=True)
class EngineReport:
    """The admin engine report: live environment concurrency and per-queue analysis."""

    concurrency_limit: int
    concurrency_limit_with_burst: int
    current_dequeued: int
    current_concurrency: int
    can_dequeue: bool
    reasons: tuple[str, ...]
    queues: tuple[QueueEngineState, ...]


CLOCK_SKEW_NOTABLE = 5.0
"""Seconds of difference between the server's clock and ours worth telling the operator about."""


def clock_skew_label(skew: float | None) -> str | None:
    """`server clock −20 m` (behind) or `server clock +8 s` (ahead) past CLOCK_SKEW_NOTABLE, else None."""
    if skew is None or abs(skew) <= CLOCK_SKEW_NOTABLE:
        return None
    size = abs(skew)
    amount = f"{size:.0f} s" if size < 120 else f"{size / 60:.0f} m" if size < 7200 else f"{size / 3600:.0f} h"
    return f"server clock {'−' if skew < 0 else '+'}{amount}"
