"""Run traces: spans, open spans, and the waits and tool calls inside them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WAIT_FOR_TOKEN = "wait.forToken()"


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """An event recorded on a span (exceptions, attempt markers, cancellation)."""

    name: str
    time: datetime | None
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Span:
    """One span of a run's trace. Durations are normalised to milliseconds by the wire layer."""

    id: str
    run_id: str
    message: str
    start_time: datetime
    duration_ms: float
    is_partial: bool
    is_error: bool = False
    is_cancelled: bool = False
    level: str = "TRACE"
    parent_id: str | None = None
    attempt_number: int | None = None
    properties: Mapping[str, Any] | None = None
    events: tuple[SpanEvent, ...] = ()
    children: tuple[Span, ...] = ()

    def walk(self) -> Iterator[tuple[int, Span]]:
        """Depth-first (depth, span) pairs, this span first."""
        stack: list[tuple[int, Span]] = [(0, self)]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            stack.extend((depth + 1, child) for child in reversed(span.children))


@dataclass(frozen=True, slots=True)
class Trace:
    """A run's trace, rooted at the run's own span (API.md §4.7)."""

    trace_id: str
    root: Span
    truncated: bool = False

    def open_spans(self) -> list[Span]:
        """Spans still in progress (`isPartial`), deepest last."""
        return [span for _, span in self.root.walk() if span.is_partial]


@dataclass(frozen=True, slots=True)
class TriggeredRun:
    """A run started from a span (span detail `triggeredRuns`)."""

    run_id: str
    task_identifier: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SpanDetail:
    """Span detail with its public attributes (API.md §4.8)."""

    span_id: str
    run_id: str
    message: str
    start_time: datetime
    duration_ms: float
    is_partial: bool
    is_error: bool = False
    is_cancelled: bool = False
    level: str = "TRACE"
    parent_id: str | None = None
    properties: Mapping[str, Any] | None = None
    events: tuple[SpanEvent, ...] = ()
    entity_type: str | None = None
    triggered_runs: tuple[TriggeredRun, ...] = ()
    ai: Mapping[str, Any] | None = None
    """LLM usage of the span (model, provider, tokens, costs), when it made such a call."""

    @property
    def waitpoint_id(self) -> str | None:
        """The token a `wait.forToken()` span waits on (API.md §7.6), if this is one."""
        if self.properties is None:
            return None
        value = self.properties.get("id")
        return value if isinstance(value, str) and value.startswith("waitpoint_") else None
