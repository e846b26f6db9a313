"""What the span inspector shows of one span, as literal content: header, entity, input/output, error, log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from textual.content import Content

from tui.model import SpanDetail, TokenDetail
from tui.model.span_log import LogLine, level_rank, other_attributes, span_error, tool_io
from tui.model.text import clean, clean_multiline
from tui.model.trace import Span
from tui.widgets.format import duration
from tui.widgets.json_view import highlight_json, prepare_json
from tui.widgets.run_summary import clock_time, token_content
from tui.widgets.trace_tree import entity_name, token_id_for

MAX_STACK_CHARS = 8_000
JSON_LIMIT_BYTES = 8_000
LEVEL_STYLES = ("bold $error", "$warning", "", "$text-muted")
"""Style of a level by its rank (error, warning, info, debug and the rest)."""

Part = str | tuple[str, str] | Content


def level_style(level: str) -> str:
    return LEVEL_STYLES[level_rank(level)]


def _label(text: str) -> tuple[str, str]:
    return (f"{text:<11}", "$text-muted")


def _json(value: Any) -> Content:
    preview = prepare_json(value, JSON_LIMIT_BYTES)
    body = highlight_json(preview.text)
    return body if preview.marker is None else body + Content.styled(f"\n{preview.marker}", "$warning")


def _section(title: str, body: Content | str) -> Content:
    text = body if isinstance(body, Content) else Content(body)
    return Content.assemble((title, "bold"), "\n", text)


def header_content(span: Span, detail: SpanDetail | None, root_start: datetime, now: datetime) -> Content:
    """Name, state, ids, start and duration; the state says open (with its age), error, cancelled or done."""
    if span.is_partial:
        state: tuple[str, str] = (f"● open for {duration(max(timedelta(0), now - span.start_time))}", "$warning")
        took = "still open"
    else:
        took = duration(span.duration_ms / 1000)
        if span.is_error:
            state = ("✗ error", "bold $error")
        elif span.is_cancelled:
            state = ("⊘ cancelled", "$text-muted")
        else:
            state = ("✓ done", "$success")
    parts: list[Part] = [
        (clean(span.message, 100), "bold"),
        "  ",
        state,
        "\n",
        _label("Span"),
        clean(span.id, 40),
        ("  parent ", "$text-muted"),
        clean(span.parent_id or "none (the run's own span)", 40),
        ("  level ", "$text-muted"),
        clean(detail.level if detail is not None else span.level, 12),
    ]
    if span.attempt_number is not None:
        parts += [("  attempt ", "$text-muted"), str(span.attempt_number)]
    parts += [
        "\n",
        _label("Started"),
        f"{clock_time(span.start_time)}  (@+{duration(span.start_time - root_start)} into the run)",
        "\n",
        _label("Duration"),
        took,
    ]
    return Content.assemble(*parts)


def entity_content(span: Span, detail: SpanDetail | None, token: TokenDetail | None, now: datetime) -> Content | None:
    """The entity the span is about: a tool call's backend, a wait's token (with its state when known)."""
    properties = detail.properties if detail is not None else span.properties
    entity_type = detail.entity_type if detail is not None else None
    token_id = token_id_for(span, detail)
    name = token_id or entity_name(properties)
    if name is None and entity_type is None:
        return None
    parts: list[Part] = [_label("Entity"), clean(name or "(id not public)", 80)]
    if entity_type:
        parts += [("  type ", "$text-muted"), clean(entity_type, 40)]
    body = Content.assemble(*parts)
    if token is not None:
        body += Content("\n") + token_content(token, now)
    return body


def io_content(span: Span, detail: SpanDetail | None) -> Content | None:
    """A tool call's input and output as JSON (an open call has no output yet)."""
    properties = detail.properties if detail is not None else span.properties
    (has_input, given), (has_output, answer) = tool_io(properties)
    if not has_input and not has_output:
        return None
    sections: list[Content] = []
    if has_input:
        sections.append(_section("Input", _json(given)))
    if has_output:
        sections.append(_section("Output", _json(answer)))
    elif span.is_partial:
        sections.append(_section("Output", Content.styled("none yet: the call is still open", "$warning")))
    return Content("\n").join(sections)


def error_content(span: Span, detail: SpanDetail | None) -> Content | None:
    events = detail.events if detail is not None else span.events
    error = span_error(events, span.is_error or (detail is not None and detail.is_error))
    if error is None:
        return None
    head = f"{error.type}: {error.message}" if error.type else error.message
    body = Content.styled(clean(head, 400), "bold $error")
    if error.stack:
        body += Content("\n") + Content(clean_multiline(error.stack[:MAX_STACK_CHARS]))
    return _section("Error", body)


def log_content(lines: Sequence[LogLine], *, span_column: bool = False) -> Content:
    """Log lines with their time and level; literal text, one line each."""
    if not lines:
        return Content.styled("nothing logged", "$text-muted")
    rows: list[Content] = []
    for line in lines:
        parts: list[Part] = [
            (clock_time(line.time), "$text-muted"),
            "  ",
            (f"{clean(line.level, 5):<5}", level_style(line.level)),
        ]
        if span_column:
            parts += ["  ", (clean(line.span_message, 30), "$accent")]
        parts += ["  ", clean(line.message, 300)]
        rows.append(Content.assemble(*parts))
    return Content("\n").join(rows)


def attributes_content(
    span: Span, detail: SpanDetail | None, *, missing: bool = False, failed: str | None = None
) -> Content:
    """The public attributes not shown above, or why there are none to show."""
    if detail is None:
        if failed is not None:
            why = f"not fetched: {failed} (ctrl+r retries)"
        elif missing:
            why = "the server has no detail for this span (404)"
        else:
            why = "loading…"
        extra = other_attributes(span.properties)  # the legacy store carries them in the trace itself
        return _json(extra) if extra else Content.styled(why, "$text-muted")
    extra = other_attributes(detail.properties)
    return _json(extra) if extra else Content.styled("none", "$text-muted")


def triggered_content(detail: SpanDetail | None) -> Content | None:
    if detail is None or not detail.triggered_runs:
        return None
    rows = [
        Content.assemble(
            clean(run.run_id, 60), "  ", clean(run.task_identifier, 40), "  ", (clean(run.status, 30), "$text-muted")
        )
        for run in detail.triggered_runs
    ]
    return _section(f"Triggered runs ({len(rows)})", Content("\n").join(rows))


def ai_content(detail: SpanDetail | None) -> Content | None:
    if detail is None or not detail.ai:
        return None
    return _section("LLM usage", _json(dict(detail.ai)))
