"""Queue history in 10 s samples, and the metrics endpoint's numbers computed from it (API.md §5.7)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Series:
    """Parallel arrays of samples for one queue, oldest first."""

    times: list[float] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    waits: list[list[float]] = field(default_factory=list)


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[index])


class History:
    """Samples per stored queue name."""

    def __init__(self) -> None:
        self.series: dict[str, Series] = {}

    def record(
        self, stored: str, stamp: float, *, queued: int, running: int, limit: int, started: int, waits: list[float]
    ) -> None:
        series = self.series.setdefault(stored, Series())
        if series.times and stamp < series.times[-1]:
            return  # history is append-only
        series.times.append(stamp)
        series.queued.append(queued)
        series.running.append(running)
        series.limits.append(limit)
        series.started.append(started)
        series.waits.append(waits)

    def extend(self, stored: str, samples: Series) -> None:
        """Record these samples (oldest first) in order, as `record` would one by one."""
        series = self.series.get(stored)
        if not samples.times:
            return
        if series is None or not series.times:
            self.series[stored] = samples
            return
        for i, stamp in enumerate(samples.times):
            self.record(
                stored,
                stamp,
                queued=samples.queued[i],
                running=samples.running[i],
                limit=samples.limits[i],
                started=samples.started[i],
                waits=samples.waits[i],
            )

    def metrics(self, stored: str, period: str, period_seconds: float, now: float) -> dict[str, Any]:
        """The metrics response body for one queue; an unknown queue gives zeros."""
        bucket = max(60, round(period_seconds / 12))
        to = math.ceil(now / bucket) * bucket
        start = to - period_seconds
        grid_start = math.floor(start / bucket) * bucket
        points = max(1, round((to - grid_start) / bucket))
        series = self.series.get(stored, Series())
        lo, hi = bisect_right(series.times, start), bisect_right(series.times, now)
        waits = [w for chunk in series.waits[lo:hi] for w in chunk]
        started = sum(series.started[lo:hi])
        throttled = sum(1 for i in range(lo, hi) if series.queued[i] > 0 and series.running[i] >= series.limits[i])
        trend: list[int] = []
        previous = 0
        for point in range(points):
            a, b = grid_start + point * bucket, grid_start + (point + 1) * bucket
            i, j = bisect_left(series.times, a), bisect_left(series.times, b)
            value = max(series.queued[i:j]) if j > i else previous
            trend.append(value)
            previous = value
        return {
            "queue": stored,
            "period": period,
            "from": start,
            "to": to,
            "waitMs": {"p50": _percentile(waits, 0.5), "p95": _percentile(waits, 0.95)},
            "peakQueued": max(series.queued[lo:hi], default=0),
            "startedCount": started,
            "startedPerMin": round(started / (period_seconds / 60), 2),
            "throttledCount": throttled,
            "bucketIntervalMs": bucket * 1000,
            "depthTrend": trend,
        }
