"""Queue health in words: a backlog being worked off is RECOVERING, a quickly served one at its cap is BUSY."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.model import Queue, QueueHealth, QueueMetrics, QueueType, queue_health

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def q(queued: int, running: int = 4, limit: int | None = 4, paused: bool = False) -> Queue:
    return Queue("queue_1", "agent-turn", QueueType.TASK, running, queued, paused, limit)


def m(started: int, trend: tuple[int, ...], p95_ms: float | None = 600_000.0) -> QueueMetrics:
    return QueueMetrics(
        "task/agent-turn", "15m", NOW - timedelta(minutes=15), NOW, None, p95_ms, max(trend), started,
        started / 15, 0, 75_000, trend,
    )


def test_a_backlog_falling_from_its_peak_with_dequeue_is_recovering() -> None:
    assert queue_health(q(40), m(60, (0, 0, 300, 300, 280, 240, 200, 160, 120, 90, 60, 45))) is QueueHealth.RECOVERING


def test_a_flat_backlog_that_wobbles_is_not_recovering() -> None:
    flat = (70, 72, 69, 71, 73, 70, 68, 72, 71, 70, 72, 71)
    assert queue_health(q(69), m(40, flat)) is QueueHealth.AT_CAP


def test_nothing_dequeued_is_stalled_not_recovering_even_below_the_peak() -> None:
    assert queue_health(q(10, running=0), m(0, (50,) * 11 + (10,))) is QueueHealth.STALLED


def test_at_cap_but_served_within_the_window_is_busy() -> None:
    flat = (30,) * 12
    assert queue_health(q(30), m(200, flat, p95_ms=20_000.0)) is QueueHealth.BUSY
    assert queue_health(q(30), m(200, flat, p95_ms=20_000.0), fresh_ms=10_000) is QueueHealth.AT_CAP
