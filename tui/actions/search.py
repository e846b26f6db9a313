"""A server-side run search applied to a RunFilter: the runs pane lists it and `:cancel-matching` sends it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tui.actions.inputs import RunFilter
from tui.model import ACTIVE_STATUSES, RunStatus
from tui.model.search import Term, parse_when, split_list, split_terms

DEFAULT_SEARCH = RunFilter(statuses=ACTIVE_STATUSES)
"""What the runs pane lists before any search, and after `:clear`: active runs of the last 7 days."""
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def run_search(current: RunFilter, text: str, now: datetime) -> RunFilter:
    """`current` narrowed by a search line such as `:task send-email :window 2h`; raises ValueError."""
    return apply_terms(current, split_terms(text, now=now), now)


def apply_terms(current: RunFilter, terms: Sequence[Term], now: datetime) -> RunFilter:
    """Each term in turn (a later one wins; `:clear` starts again from the default); raises ValueError when
    the result would be a range that ends before it starts. Relative times become absolute here."""
    result = current
    for term in terms:
        result = _apply(result, term, now)
    start, end = result.created_from, result.created_to
    if start is not None and end is not None and start >= end:
        raise ValueError(
            f"the range starts ({start.strftime(TIME_FORMAT)}) after it ends ({end.strftime(TIME_FORMAT)})"
        )
    return result


def _apply(f: RunFilter, term: Term, now: datetime) -> RunFilter:
    value, items = term.value, split_list(term.value)
    match term.name:
        case "clear":
            return DEFAULT_SEARCH
        case "status":
            return replace(f, statuses=tuple(RunStatus[s.upper()] for s in items))
        case "window":
            # A window is a period; the server lets a period override from/to, so it replaces them.
            return replace(f, period=value or None, created_from=None, created_to=None)
        case "from":
            return replace(f, created_from=parse_when(value, now) if value else None, period=None)
        case "to":
            return replace(f, created_to=parse_when(value, now) if value else None, period=None)
        case "task":
            return replace(f, tasks=items)
        case "tag":
            return replace(f, tags=items)
        case "version":
            return replace(f, versions=items)
        case "batch":
            return replace(f, batch=value or None)
    raise ValueError(f"unknown search term :{term.name}")


def search_words(f: RunFilter) -> str:
    """The criteria beyond statuses and window, as the filter bar writes them (empty when none)."""
    return " · ".join(f.criteria())


def window_words(f: RunFilter) -> str:
    """The time criterion in the pane header's words: `2h`, `7d` (the server's default) or a range."""
    if f.period:
        return f.period
    if f.created_from is None and f.created_to is None:
        return "7d"
    start = f.created_from.strftime(TIME_FORMAT) if f.created_from else "…"
    end = f.created_to.strftime(TIME_FORMAT) if f.created_to else "now"
    return f"{start} to {end}"
