"""A trace read as a log: log records and span events with their level, a span's error, a tool call's input/output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui.model.trace import Span, SpanDetail, SpanEvent, Trace

LEVEL_RANK = {"FATAL": 0, "ERROR": 0, "WARN": 1, "WARNING": 1, "INFO": 2, "LOG": 2}
"""How serious a level is (lower is worse); DEBUG, TRACE and anything unknown rank 3."""
LEVEL_FILTERS = ("errors", "warnings and worse", "info and worse", "everything")
"""What each level filter (`1`..`4`) keeps: the lines whose rank is at most its index."""
INPUT_KEYS = ("input", "tool.input", "ai.toolCall.args", "gen_ai.tool.call.arguments")
OUTPUT_KEYS = ("output", "tool.output", "ai.toolCall.result", "gen_ai.tool.call.result")
"""Public attributes that carry a tool call's input and output (ours first, then the AI SDK's names)."""


def level_rank(level: str) -> int:
    return LEVEL_RANK.get(level.upper(), 3)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a run's log: a log record the task wrote, or an event recorded on a span."""

    key: str
    """Unique within one run's log (the record's span id, or the span id and the event's index)."""
    time: datetime
    level: str
    message: str
    span_id: str
    """The span the line came from (for a log record: the span it was written in)."""
    span_message: str
    properties: Mapping[str, Any]

    @property
    def rank(self) -> int:
        return level_rank(self.level)


@dataclass(frozen=True, slots=True)
class SpanError:
    """Why a span failed: the exception recorded on it, with its stack when the task sent one."""

    type: str | None
    message: str
    stack: str | None = None


def is_log_record(span: Span) -> bool:
    """A log line in the trace (level LOG/INFO/WARN/ERROR/DEBUG), not a span (level TRACE)."""
    return span.level.upper() != "TRACE"


def spans_in_order(trace: Trace) -> list[Span]:
    """The spans of the trace (log records left out) in trace order: depth first, as the tree shows them."""
    return [span for _, span in trace.root.walk() if not is_log_record(span)]


def _exception(event: SpanEvent) -> SpanError | None:
    """The exception in an event: OTel names nested or flat (`exception.message`), or plain keys."""
    if event.name != "exception":
        return None
    props = event.properties
    nested = props.get("exception")
    source: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}

    def pick(*names: str) -> str | None:
        for name in names:
            for where, key in ((source, name), (props, f"exception.{name}"), (props, name)):
                value = where.get(key)
                if isinstance(value, str) and value:
                    return value
        return None

    message = pick("message") or "(no message)"
    return SpanError(type=pick("type", "name"), message=message, stack=pick("stacktrace", "stack", "stackTrace"))


def span_error(events: Sequence[SpanEvent], is_error: bool) -> SpanError | None:
    """The first exception recorded on the span; an errored span without one still says it failed."""
    for event in events:
        found = _exception(event)
        if found is not None:
            return found
    if is_error:
        return SpanError(type=None, message="the span ended in error; no exception was recorded on it")
    return None


def event_line(event: SpanEvent, index: int, span: Span) -> LogLine:
    """A span event as a log line: exceptions are errors, a cancellation a warning, anything else info."""
    error = _exception(event)
    props = event.properties
    if error is not None:
        level, message = "ERROR", f"{error.type}: {error.message}" if error.type else error.message
    elif event.name == "cancellation":
        reason = props.get("reason")
        level, message = "WARN", f"cancelled: {reason}" if isinstance(reason, str) else "cancelled"
    else:
        declared = props.get("level")
        level = declared if isinstance(declared, str) and declared else "INFO"
        shown = {k: v for k, v in props.items() if k != "level"}
        text = json.dumps(shown, ensure_ascii=False, default=str, separators=(", ", ": ")) if shown else ""
        message = f"{event.name} {text}".strip()
    return LogLine(
        key=f"{span.id}#{index}",
        time=event.time or span.start_time,
        level=level,
        message=message,
        span_id=span.id,
        span_message=span.message,
        properties=props,
    )


def record_line(record: Span, holder: Span) -> LogLine:
    """A log record of the trace, credited to the span it was written in."""
    return LogLine(
        key=record.id,
        time=record.start_time,
        level=record.level.upper(),
        message=record.message,
        span_id=holder.id,
        span_message=holder.message,
        properties=record.properties or {},
    )


def span_lines(span: Span, detail: SpanDetail | None) -> list[LogLine]:
    """What one span logged: its log records (children) and its events (from its detail when fetched)."""
    events = detail.events if detail is not None else span.events
    lines = [record_line(child, span) for child in span.children if is_log_record(child)]
    lines += [event_line(event, index, span) for index, event in enumerate(events)]
    return sorted(lines, key=lambda line: line.time)


def run_log(trace: Trace, details: Mapping[str, SpanDetail]) -> list[LogLine]:
    """Every log record and span event of the trace, oldest first (ties keep trace order)."""
    lines = [line for span in spans_in_order(trace) for line in span_lines(span, details.get(span.id))]
    return sorted(lines, key=lambda line: line.time)


def keep_levels(lines: Iterable[LogLine], worst: int) -> list[LogLine]:
    """The lines at least as serious as rank `worst` (0 errors only ... 3 everything)."""
    return [line for line in lines if line.rank <= worst]


def _decoded(value: Any) -> Any:
    """A JSON document sent as a string attribute (OTel attributes are flat) is shown as the value it encodes."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _first(properties: Mapping[str, Any], keys: Sequence[str]) -> tuple[bool, Any]:
    for key in keys:
        if key in properties:
            return True, _decoded(properties[key])
    return False, None


def tool_io(properties: Mapping[str, Any] | None) -> tuple[tuple[bool, Any], tuple[bool, Any]]:
    """((has input, input), (has output, output)) of a tool call, from its public attributes."""
    props = properties or {}
    return _first(props, INPUT_KEYS), _first(props, OUTPUT_KEYS)


def other_attributes(properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes not already shown as the call's input or output."""
    shown = set(INPUT_KEYS) | set(OUTPUT_KEYS)
    return {key: value for key, value in (properties or {}).items() if key not in shown}
