"""Short human formats for the numbers findings cite (durations, counts, names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tui.model.text import clean


def dur(value: timedelta | float) -> str:
    """`45 s`, `18 m`, `2 h 5 m`, `3 d 4 h`: coarse enough to read at a glance, exact enough to compare."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def name(text: str | None) -> str:
    """A server-provided name made safe to print (no control characters, bounded length)."""
    return clean(text or "?", 80)


def listing(items: Sequence[str], limit: int = 5) -> str:
    """`a, b, c` or `a, b, c, … (+4 more)`."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, … (+{len(items) - limit} more)"


def limit_text(limit: int | None) -> str:
    return "none" if limit is None else str(limit)
