"""Short human formats for the numbers findings cite (durations, counts, names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tui.model.duration import whole_duration
from tui.model.text import clean


def dur(value: timedelta | float) -> str:
    """`45 s`, `18 m`, `2 h 5 m`, `3 d 4 h`: coarse enough to read at a glance, exact enough to compare."""
    return whole_duration(value.total_seconds() if isinstance(value, timedelta) else value)


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
