"""What counts as the run moving: a long span's log lines do; an entity call's retries while it hangs do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.diagnosis.traces import _movement, _open_leaves
from tui.model import Span, Trace

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def span(
    span_id: str,
    message: str,
    minutes_ago: float,
    *,
    children: tuple[Span, ...] = (),
    level: str = "TRACE",
    open_: bool = True,
    properties: dict[str, str] | None = None,
) -> Span:
    return Span(
        span_id,
        "run_1",
        message,
        NOW - timedelta(minutes=minutes_ago),
        0.0,
        open_,
        level=level,
        properties=properties,
        children=children,
    )


def log(span_id: str, minutes_ago: float, text: str) -> Span:
    return span(span_id, text, minutes_ago, level="WARN", open_=False)


def trace_with(open_leaf: Span) -> tuple[Trace, list[Span]]:
    attempt = span("attempt", "Attempt 1", 40, children=(open_leaf,))
    trace = Trace("trace_1", span("root", "task", 40, children=(attempt,)))
    return trace, _open_leaves(trace)


def test_a_long_span_logging_progress_is_the_run_moving() -> None:
    render = span(
        "render", "render frames", 30, children=(log("l1", 20, "frame 10 of 90"), log("l2", 0.5, "frame 80 of 90"))
    )
    trace, leaves = trace_with(render)
    assert [leaf.id for leaf in leaves] == ["render"]
    moved, _, _ = _movement(trace, leaves)
    assert moved == NOW - timedelta(minutes=0.5)


def test_a_hung_entity_calls_retries_are_not_the_run_moving() -> None:
    call = span(
        "call",
        "tool crm.upsert",
        30,
        properties={"entity": "crm"},
        children=(log("r1", 29, "retry 1/5 crm.upsert: timeout"), log("r2", 27, "retry 5/5 crm.upsert: timeout")),
    )
    trace, leaves = trace_with(call)
    moved, _, calls = _movement(trace, leaves, frozenset({"call"}))
    assert moved == NOW - timedelta(minutes=40)  # the attempt starting is the last sign of work
    assert calls == ()  # a log line is never a call
