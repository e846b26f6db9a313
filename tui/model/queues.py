"""Queues, their metrics, and the health verdict an operator reads first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class QueueType(StrEnum):
    """Task queues are named after their task; custom queues are shared by name."""

    TASK = "task"
    CUSTOM = "custom"


def stored_queue_name(name: str, type_: QueueType) -> str:
    """The name the engine stores: `task/<id>` for task queues, the bare name otherwise (API.md §4.2)."""
    if type_ is QueueType.TASK and not name.startswith("task/"):
        return f"task/{name}"
    return name


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue as the queues endpoints describe it (API.md §5.1)."""

    id: str
    name: str
    type: QueueType
    running: int
    queued: int
    paused: bool
    concurrency_limit: int | None
    base_limit: int | None = None
    override_limit: int | None = None
    overridden_at: datetime | None = None
    overridden_by: str | None = None
    override_percent: float | None = None

    @property
    def stored_name(self) -> str:
        return stored_queue_name(self.name, self.type)

    @property
    def overridden(self) -> bool:
        return self.override_limit is not None


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Scheduling metrics for one queue over a period (API.md §5.7)."""

    queue: str
    period: str
    window_from: datetime
    window_to: datetime
    wait_p50_ms: float | None
    wait_p95_ms: float | None
    peak_queued: int
    started_count: int
    started_per_min: float
    throttled_count: int
    bucket_interval_ms: int
    depth_trend: tuple[int, ...]


class QueueHealth(StrEnum):
    """The verdict shown in words as well as colour, worst first."""

    PAUSED = "PAUSED"
    STALLED = "STALLED"
    AT_CAP = "AT CAP"
    BACKLOGGED = "BACKLOGGED"
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"


HEALTH_SEVERITY: dict[QueueHealth, int] = {health: rank for rank, health in enumerate(QueueHealth)}


def effective_limit(queue: Queue, env_limit: int | None) -> int | None:
    """The limit that gates dequeueing: min(queue limit, environment limit) (API.md §11.4)."""
    limits = [limit for limit in (queue.concurrency_limit, env_limit) if limit is not None]
    return min(limits) if limits else None


def queue_health(queue: Queue, metrics: QueueMetrics | None, env_limit: int | None = None) -> QueueHealth:
    """Classify a queue; without metrics a backlog cannot be called STALLED, only BACKLOGGED or AT CAP."""
    if queue.paused:
        return QueueHealth.PAUSED
    if queue.queued > 0 and metrics is not None and metrics.started_count == 0:
        return QueueHealth.STALLED
    limit = effective_limit(queue, env_limit)
    at_cap = limit is not None and queue.running >= limit
    if at_cap and queue.queued > 0:
        return QueueHealth.AT_CAP
    if queue.queued > 0:
        return QueueHealth.BACKLOGGED
    if queue.running > 0:
        return QueueHealth.ACTIVE
    return QueueHealth.IDLE
