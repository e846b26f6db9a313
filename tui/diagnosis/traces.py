"""Read a run's trace into facts: its open leaves (a tool call's entity, a token wait), when it last moved, and
how its calls ended; and sample other runs' traces to judge an entity by all its calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tui.api.client import EngineClient
from tui.config import Thresholds
from tui.diagnosis.facts import Call, OpenSpan, RunTrace
from tui.diagnosis.fetching import Notes, bounded
from tui.model import WAIT_FOR_TOKEN, Run, RunStatus, Span, TokenDetail, Trace, TriggeredRun
from tui.model.span_log import is_log_record

ENTITY_KEYS = ("entity", "entity.name", "entityName", "entity_name", "tool.entity", "platos.entity")
"""Span attributes that name the entity backend a tool call talks to."""
MAX_CALLS = 40
"""Ended spans kept per trace to judge entities by their calls."""
MAX_SAMPLED_TASKS = 3
SAMPLE_RUNS = 3
"""Runs traced per task whose calls hang, to see whether the entity answers other calls."""
SAMPLE_SINCE = timedelta(hours=1)
"""Runs created up to this long before a hung call began can still have finished after it was overdue."""
SAMPLED = (RunStatus.COMPLETED,)
FINAL_DB = frozenset(
    {
        "COMPLETED_SUCCESSFULLY",
        "CANCELED",
        "COMPLETED_WITH_ERRORS",
        "INTERRUPTED",
        "CRASHED",
        "SYSTEM_FAILURE",
        "EXPIRED",
        "TIMED_OUT",
    }
)
"""Raw DB statuses (span detail `triggeredRuns`) of a child run that has finished."""
MAX_CHILD_LOOKUPS = 5
"""Finished children read per waiting run to learn when the last one finished."""
"""Runs that finished well are the ones that show whether the entity answers."""


def entity_of(properties: Any) -> str | None:
    if not properties:
        return None
    for key in ENTITY_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _open_leaves(trace: Trace) -> list[Span]:
    """Open spans with no open child, below the run's own span: what the run is doing right now."""
    leaves = []
    for depth, span in trace.root.walk():
        if depth == 0 or not span.is_partial or any(c.is_partial for c in span.children):
            continue
        leaves.append(span)
    return leaves[:3]


def _ended(span: Span) -> datetime:
    return span.start_time + timedelta(milliseconds=max(0.0, span.duration_ms))


def _movement(
    trace: Trace, leaves: Sequence[Span], calling: frozenset[str] = frozenset()
) -> tuple[datetime | None, datetime | None, tuple[Call, ...]]:
    """When the run last moved (leaving out its own span and the open leaves), last (re)started, and its calls.

    What an open call to an entity logged (its retries while the backend does not answer) is that call waiting,
    not the run moving; what any other open span logs ("frame 40 of 90") is work, and counts. A log record is
    never a call, and a span holding only log records is still a leaf. `calling`: the ids of the open leaves
    found to be calls to an entity.
    """
    waiting = [leaf for leaf in leaves if leaf.id in calling]
    skip = {id(leaf) for leaf in leaves} | {id(child) for leaf in waiting for child in leaf.children}
    marks: list[datetime] = []
    resumed: list[datetime] = []
    calls: list[Call] = []
    for depth, span in trace.root.walk():
        if depth == 0 or id(span) in skip:
            continue
        marks.append(span.start_time)
        if is_log_record(span):
            continue
        marks.extend(e.time for e in span.events if e.time is not None)
        if span.attempt_number is not None or span.message.startswith("Attempt"):
            resumed.append(span.start_time)
        if span.is_partial:
            continue
        end = _ended(span)
        marks.append(end)
        if span.message == WAIT_FOR_TOKEN or span.message.startswith("wait."):
            resumed.append(end)
        if all(is_log_record(child) for child in span.children):
            ok = not (span.is_error or span.is_cancelled)
            calls.append(Call(span.message, span.start_time, end, ok, entity_of(span.properties), _error(span)))
    calls.sort(key=lambda c: c.ended_at)
    return max(marks, default=None), max(resumed, default=None), tuple(calls[-MAX_CALLS:])


def _error(span: Span) -> str | None:
    """The message of the span's exception event, if it ended in error with one."""
    if not span.is_error:
        return None
    for event in span.events:
        message = event.properties.get("message") if event.name == "exception" else None
        if isinstance(message, str) and message:
            return message
    return None


async def trace_run(client: EngineClient, run: Run, notes: Notes, tokens: dict[str, TokenDetail | None]) -> RunTrace:
    """The run's open leaf spans (entity or token resolved through span detail), its tokens, and its movement."""
    trace = await notes.attempt(f"trace of {run.id}", client.run_trace(run.id))
    if trace is None:
        return RunTrace(run, note="trace unavailable")
    spans: list[OpenSpan] = []
    missing: list[str] = []
    leaves = _open_leaves(trace)
    for leaf in leaves:
        props = leaf.properties
        entity_type = None
        triggered: tuple[TriggeredRun, ...] = ()
        if props is None and leaf.attempt_number is None and not leaf.message.startswith("Attempt"):
            detail = await notes.attempt(f"span {leaf.id} of {run.id}", client.span_detail(run.id, leaf.id))
            if detail is not None:
                props, entity_type, triggered = detail.properties, detail.entity_type, detail.triggered_runs
            else:
                missing.append(leaf.id)
        token_id = None
        if leaf.message == WAIT_FOR_TOKEN or entity_type == "waitpoint":
            value = (props or {}).get("id")
            token_id = value if isinstance(value, str) and value.startswith("waitpoint_") else None
        entity = None if token_id is not None or entity_type == "waitpoint" else entity_of(props)
        spans.append(
            OpenSpan(leaf.id, leaf.message, leaf.start_time, entity=entity, token_id=token_id, triggered=triggered)
        )
    found: list[TokenDetail] = []
    for span in spans:
        if span.token_id is None:
            continue
        if span.token_id not in tokens:
            # One try: an id read from a span may name no token, and that is a 500 on the real server.
            lookup = client.retrieve_token(span.token_id, once=True)
            tokens[span.token_id] = await notes.attempt(f"token {span.token_id}", lookup)
        token = tokens[span.token_id]
        if token is not None:
            found.append(token)
    note = f"span detail failed for {', '.join(missing)}" if missing else None
    if trace.truncated:
        note = "trace truncated by the server" + (f"; {note}" if note else "")
    calling = frozenset(span.span_id for span in spans if span.entity is not None)
    moved, resumed, calls = _movement(trace, leaves, calling)
    return RunTrace(run, tuple(spans), tuple(found), note, last_activity=moved, resumed_at=resumed, calls=calls)


async def sample_calls(
    client: EngineClient,
    traces: Sequence[RunTrace],
    th: Thresholds,
    now: datetime,
    notes: Notes,
    tokens: dict[str, TokenDetail | None],
) -> tuple[RunTrace, ...]:
    """Traces of the latest runs that completed, of the tasks whose calls stay open: did the entity answer them?

    An entity is judged by all its calls: one slow call while other calls to the same entity finish is that
    call's problem, not the entity's.
    """
    limit = timedelta(seconds=th.tool_call_seconds)
    opened: dict[str, datetime] = {}
    for t in traces:
        for span in t.open_spans:
            if span.entity is not None and span.age(now) > limit:
                task = t.run.task_identifier
                opened[task] = min(opened.get(task, span.started_at), span.started_at)
    known = {t.run.id for t in traces}
    tasks = sorted(opened, key=lambda task: opened[task])[:MAX_SAMPLED_TASKS]
    pages = await bounded(
        tasks,
        lambda task: notes.attempt(
            f"recent runs of {task}",
            client.list_runs(
                tasks=[task],
                statuses=SAMPLED,
                created_from=opened[task] - SAMPLE_SINCE,
                page_size=SAMPLE_RUNS,
                fill=2,  # a short page is not the end (API.md §4.2)
            ),
        ),
    )
    picked = [r for page in pages if page is not None for r in page.items if r.id not in known]
    runs = list({r.id: r for r in picked}.values())[: SAMPLE_RUNS * len(tasks)]
    return tuple(await bounded(runs, lambda r: trace_run(client, r, notes, tokens)))


def finished_children(trace: RunTrace) -> tuple[TriggeredRun, ...] | None:
    """The child runs an open wait span of a WAITING run waits on, when every one has finished."""
    if trace.run.status is not RunStatus.WAITING:
        return None
    for span in trace.open_spans:
        if span.triggered and all(c.status in FINAL_DB for c in span.triggered):
            return span.triggered
    return None


async def with_children_done(client: EngineClient, traces: Sequence[RunTrace], notes: Notes) -> tuple[RunTrace, ...]:
    """The traces, with when the children of a finished child wait finished (a few run lookups each)."""
    out = []
    for trace in traces:
        children = finished_children(trace)
        if children is None or len(children) > MAX_CHILD_LOOKUPS:
            out.append(trace)
            continue
        found = await bounded(
            list(children), lambda c: notes.attempt(f"child run {c.run_id}", client.retrieve_run(c.run_id))
        )
        ends = [d.run.finished_at for d in found if d is not None and d.run.finished_at is not None]
        out.append(replace(trace, children_done_at=max(ends)) if len(ends) == len(children) else trace)
    return tuple(out)
