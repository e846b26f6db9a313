"""Pure formatting for cells: short durations, sparklines, rates. No styling here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tui.model.duration import duration, whole_duration

__all__ = ["age", "duration", "millis", "rate", "seconds_until_change", "short_duration", "sparkline", "until"]

_BLOCKS = "▁▂▃▄▅▆▇█"


def short_duration(seconds: float) -> str:
    """`duration` in whole seconds, for table cells: after a minute, rows change once a minute."""
    return whole_duration(seconds)


def seconds_until_change(seconds: float) -> float:
    """How long until `short_duration(seconds)` shows something else."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        step = 1
    elif seconds < 48 * 3_600:
        step = 60
    else:
        step = 3_600
    return (int(seconds) // step + 1) * step - seconds


def age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    return short_duration((now - since).total_seconds())


def until(when: datetime | None, now: datetime) -> str:
    """Time left until `when`: `in 12m`, `overdue 3m`, or `none`."""
    if when is None:
        return "none"
    left = (when - now).total_seconds()
    return f"in {short_duration(left)}" if left >= 0 else f"overdue {short_duration(-left)}"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1000:
        return f"{value:.0f} ms"
    return duration(value / 1000) if value >= 10_000 else f"{value / 1000:.1f} s"


def rate(value: float | None) -> str:
    if value is None:
        return "…"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def sparkline(values: Sequence[int], width: int = 12) -> str:
    """Unicode block sparkline of the last `width` values, scaled to their maximum."""
    points = list(values)[-width:]
    if not points:
        return ""
    top = max(points)
    if top <= 0:
        return _BLOCKS[0] * len(points)
    return "".join(_BLOCKS[min(7, round(value / top * 7))] for value in points)
