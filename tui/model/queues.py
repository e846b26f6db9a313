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
    RECOVERING = "RECOVERING"
    """The backlog is being worked off after it built up: no finding, just watch it fall."""
    BUSY = "BUSY"
    """At its limit with a backlog that is served quickly: load, not a fault."""
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"


SHRUNK = 0.75
"""A backlog at or below this share of its peak in the metrics window, with dequeue going on, is draining."""
FALLING_BUCKETS = 6
FALLING_MIN = 2
FALLING_SHARE = 0.1
"""A backlog this far (at least FALLING_MIN runs, or this share) below its top of the last few buckets is falling."""
STEADY_BUCKETS = 3
STEADY_SHARE = 0.05
"""A backlog this share below its value STEADY_BUCKETS buckets ago is falling too: slowly, but over minutes, so a
flat backlog that wobbles by a few runs does not count."""


def draining(queue: Queue, metrics: QueueMetrics | None) -> bool:
    """Dequeue goes on and the backlog is being worked off: well below its peak, or clearly falling right now.

    The margins keep a flat backlog that merely wobbles from counting as draining one poll and not the next.
    """
    if metrics is None or metrics.started_count <= 0 or queue.queued <= 0:
        return False
    trend = metrics.depth_trend
    peak = max((metrics.peak_queued, *trend), default=0)
    if queue.queued <= SHRUNK * peak:
        return True
    recent = trend[-1 - FALLING_BUCKETS : -1]  # the closed buckets just before the current one
    if not recent:
        return False
    top = max(recent)
    if queue.queued <= top - max(FALLING_MIN, FALLING_SHARE * top):
        return True
    # Clearly lower than a few buckets ago: worked off slowly, if not yet by a tenth of its top.
    if len(trend) <= STEADY_BUCKETS:
        return False
    before = trend[-1 - STEADY_BUCKETS]
    return queue.queued <= before - max(FALLING_MIN, STEADY_SHARE * before)


HEALTH_SEVERITY: dict[QueueHealth, int] = {health: rank for rank, health in enumerate(QueueHealth)}


def effective_limit(queue: Queue, env_limit: int | None) -> int | None:
    """The limit that gates dequeueing: min(queue limit, environment limit) (API.md §11.4)."""
    limits = [limit for limit in (queue.concurrency_limit, env_limit) if limit is not None]
    return min(limits) if limits else None


def queue_health(
    queue: Queue, metrics: QueueMetrics | None, env_limit: int | None = None, fresh_ms: float = 120_000
) -> QueueHealth:
    """Classify a queue; without metrics a backlog cannot be called STALLED, only BACKLOGGED or AT CAP.

    `fresh_ms` is the wait a backlog may have and still count as served quickly (the dequeued threshold).
    """
    if queue.paused:
        return QueueHealth.PAUSED
    if queue.queued > 0 and metrics is not None and metrics.started_count == 0:
        return QueueHealth.STALLED
    if draining(queue, metrics):
        return QueueHealth.RECOVERING
    limit = effective_limit(queue, env_limit)
    at_cap = limit is not None and queue.running >= limit
    if at_cap and queue.queued > 0:
        quick = metrics is not None and metrics.wait_p95_ms is not None and metrics.wait_p95_ms <= fresh_ms
        return QueueHealth.BUSY if quick else QueueHealth.AT_CAP
    if queue.queued > 0:
        return QueueHealth.BACKLOGGED
    if queue.running > 0:
        return QueueHealth.ACTIVE
    return QueueHealth.IDLE
