"""Runs, their statuses, and the pure rules about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

JSON = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""


class RunStatus(StrEnum):
    """Run status in the 2025-07-16 vocabulary (API.md §3.1)."""

    PENDING_VERSION = "PENDING_VERSION"
    DELAYED = "DELAYED"
    QUEUED = "QUEUED"
    DEQUEUED = "DEQUEUED"
    EXECUTING = "EXECUTING"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    SYSTEM_FAILURE = "SYSTEM_FAILURE"
    EXPIRED = "EXPIRED"
    TIMED_OUT = "TIMED_OUT"


TERMINAL_STATUSES = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.CANCELED,
        RunStatus.FAILED,
        RunStatus.CRASHED,
        RunStatus.SYSTEM_FAILURE,
        RunStatus.EXPIRED,
        RunStatus.TIMED_OUT,
    }
)
ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING)

# Legacy names (requests without the API-version header) mapped onto the current vocabulary.
LEGACY_STATUS_ALIASES: Mapping[str, RunStatus] = {
    "REATTEMPTING": RunStatus.EXECUTING,
    "FROZEN": RunStatus.WAITING,
    "WAITING_FOR_DEPLOY": RunStatus.PENDING_VERSION,
    "INTERRUPTED": RunStatus.FAILED,
}


def is_terminal(status: RunStatus) -> bool:
    """True when the run can no longer change; decided from status, never from isCompleted (API.md §3.2)."""
    return status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class RunError:
    """The error of a failed run."""

    message: str
    name: str | None = None
    stack_trace: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """A run as the list endpoint describes it (API.md §4.1)."""

    id: str
    status: RunStatus
    task_identifier: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    delayed_until: datetime | None = None
    expired_at: datetime | None = None
    ttl: str | None = None
    version: str | None = None
    idempotency_key: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, JSON] | None = None
    is_test: bool = False
    duration_ms: float = 0.0
    cost_in_cents: float = 0.0
    depth: int = 0
    env_id: str | None = None
    env_name: str | None = None
    region: str | None = None
    queue: str | None = None
    """The stored queue name, when known (the API never reports it; the client fills it when it filtered by queue)."""

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)


@dataclass(frozen=True, slots=True)
class RelatedRuns:
    """Parent, root and child runs of a run."""

    root: Run | None = None
    parent: Run | None = None
    children: tuple[Run, ...] = ()


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run as the retrieve endpoint describes it (API.md §4.3)."""

    run: Run
    trigger_function: str | None = None
    batch_id: str | None = None
    schedule_id: str | None = None
    """The `sched_…` id of the schedule that created the run, if one did."""
    payload: JSON = None
    has_payload: bool = False
    payload_presigned_url: str | None = None
    output: JSON = None
    has_output: bool = False
    output_presigned_url: str | None = None
    error: RunError | None = None
    attempt_count: int = 0
    related: RelatedRuns = field(default_factory=RelatedRuns)


def time_in_status(run: Run, now: datetime) -> timedelta:
    """Best estimate from the run alone of how long it has been in its current status.

    The API exposes no status-change time. `updatedAt` moves with every transition, so for a run that has
    started it marks the latest one (a resume, a requeue); a run never started has been QUEUED since it was
    created or, if it was delayed, since its delay ended. The diagnosis refines this with the trace.
    """
    if run.status is RunStatus.QUEUED and run.started_at is None:
        since = run.created_at
        if run.delayed_until is not None and run.delayed_until <= now:
            since = max(since, run.delayed_until)
    elif run.status in (RunStatus.DEQUEUED, RunStatus.EXECUTING) and run.started_at is not None:
        since = max(run.started_at, run.updated_at)
    else:
        since = run.updated_at
    age = now - since
    return age if age > _NONE else _NONE


_NONE = timedelta(0)
