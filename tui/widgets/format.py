"""Pure formatting for cells: short durations, sparklines, rates. No styling here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

_BLOCKS = "▁▂▃▄▅▆▇█"


def short_duration(seconds: float) -> str:
    """`45s`, `14m`, `3h12m`, `2d3h`: coarse on purpose: after a minute, rows change once a minute."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def duration(value: timedelta | float) -> str:
    """`850 ms`, `4.2 s`, `45 s`, `18 m`, `2 h 5 m`, `3 d 4 h`: the one way every screen writes a duration.

    The same words as the diagnosis (`tui.diagnosis.fmt.dur`), with tenths and milliseconds below ten seconds
    for span durations.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0.0, seconds)
    if 0 < seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if 0 < seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def seconds_until_change(seconds: float) -> float:
    """How long until `short_duration(seconds)` shows something else."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        step = 1
    elif seconds < 86_400:
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
        return f"{value:.0f}ms"
    return short_duration(value / 1000) if value >= 60_000 else f"{value / 1000:.1f}s"


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
