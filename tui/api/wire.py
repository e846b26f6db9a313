"""JSON bodies to model objects (API.md §4-§10): unknown fields ignored, absent optionals tolerated.

Runs, traces, queues and tokens live here; the rest in wire_env, re-exported so callers use one module.
"""

from __future__ import annotations

import json
from typing import Any

from tui.api.errors import InvalidResponse
from tui.api.reader import Obj, as_datetime, cursor_page
from tui.api.wire_env import (
    parse_bulk_action,
    parse_claims_subject,
    parse_deployment,
    parse_deployment_page,
    parse_engine_report,
    parse_environment,
    parse_promotion,
    parse_repair_report,
)
from tui.model import (
    LEGACY_STATUS_ALIASES,
    Page,
    Queue,
    QueueMetrics,
    QueueType,
    RelatedRuns,
    Run,
    RunDetail,
    RunError,
    RunStatus,
    Span,
    SpanDetail,
    SpanEvent,
    TokenDetail,
    TokenStatus,
    Trace,
    TriggeredRun,
    WaitpointToken,
)

# runs -------------------------------------------------------------------------------------------------


def parse_run(o: Obj) -> Run:
    env = o.opt_child("env")
    return Run(
        id=o.text("id"),
        status=o.choice("status", RunStatus, LEGACY_STATUS_ALIASES),
        task_identifier=o.text("taskIdentifier"),
        created_at=o.when("createdAt"),
        updated_at=o.when("updatedAt"),
        started_at=o.opt_when("startedAt"),
        finished_at=o.opt_when("finishedAt"),
        delayed_until=o.opt_when("delayedUntil"),
        expired_at=o.opt_when("expiredAt"),
        ttl=o.opt_text("ttl"),
        version=o.opt_text("version"),
        idempotency_key=o.opt_text("idempotencyKey"),
        tags=o.texts("tags"),
        metadata=o.opt_mapping("metadata"),
        is_test=o.flag("isTest", False),
        duration_ms=o.number("durationMs", 0.0),
        cost_in_cents=o.number("costInCents", 0.0),
        depth=o.opt_integer("depth") or 0,
        env_id=env.opt_text("id") if env else None,
        env_name=env.opt_text("name") if env else None,
        region=o.opt_text("region"),
    )


def parse_run_page(body: object) -> Page[Run]:
    return cursor_page(body, "runs", parse_run)


def parse_run_detail(body: object) -> RunDetail:
    o = Obj(body, "run")
    error = o.opt_child("error")
    related = o.opt_child("relatedRuns")
    return RunDetail(
        run=parse_run(o),
        trigger_function=o.opt_text("triggerFunction"),
        batch_id=o.opt_text("batchId"),
        schedule_id=schedule.opt_text("id") if (schedule := o.opt_child("schedule")) is not None else None,
        payload=o.raw("payload"),
        has_payload=o.has("payload"),
        payload_presigned_url=o.opt_text("payloadPresignedUrl"),
        output=o.raw("output"),
        has_output=o.has("output"),
        output_presigned_url=o.opt_text("outputPresignedUrl"),
        error=(
            RunError(
                message=error.text("message"),
                name=error.opt_text("name"),
                stack_trace=error.opt_text("stackTrace"),
            )
            if error
            else None
        ),
        attempt_count=o.opt_integer("attemptCount") or 0,
        related=_related(related) if related else RelatedRuns(),
    )


def _related(o: Obj) -> RelatedRuns:
    root, parent = o.opt_child("root"), o.opt_child("parent")
    return RelatedRuns(
        root=parse_run(root) if root else None,
        parent=parse_run(parent) if parent else None,
        children=tuple(parse_run(child) for child in o.objects("children")),
    )


def parse_id(body: object, label: str) -> str:
    """`{"id": "..."}` answers of cancel, replay, bulk create and abort."""
    return Obj(body, label).text("id")


# traces -----------------------------------------------------------------------------------------------


def _has_properties(span: Any) -> bool:
    """True if any span of the raw tree has `data.properties` (the legacy Postgres store: ms durations)."""
    stack = [span]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        data = node.get("data")
        if isinstance(data, dict) and "properties" in data:
            return True
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(children)
    return False


def _event(o: Obj) -> SpanEvent:
    # Event times are informational; an unreadable one is dropped rather than failing the whole trace.
    raw_time = o.raw("time")
    try:
        when = as_datetime(raw_time, o.at("time")) if raw_time is not None else None
    except InvalidResponse:
        when = None
    return SpanEvent(name=o.opt_text("name") or "", time=when, properties=o.opt_mapping("properties") or {})


def _loose_events(o: Obj) -> tuple[SpanEvent, ...]:
    """Span detail events are untyped (`z.any()` in the SDK): keep the readable ones, skip the rest."""
    events: list[SpanEvent] = []
    for path, item in o.array("events"):
        try:
            events.append(_event(Obj(item, path)))
        except InvalidResponse:
            continue
    return tuple(events)


def _span(o: Obj, scale: float, children: tuple[Span, ...]) -> Span:
    data = o.child("data")
    return Span(
        id=o.text("id"),
        run_id=o.text("runId"),
        message=data.text("message"),
        start_time=data.when("startTime"),
        duration_ms=data.number("duration", 0.0) * scale,
        is_partial=data.flag("isPartial", False),
        is_error=data.flag("isError", False),
        is_cancelled=data.flag("isCancelled", False),
        level=data.opt_text("level") or "TRACE",
        parent_id=o.opt_text("parentId"),
        attempt_number=data.opt_integer("attemptNumber"),
        properties=data.opt_mapping("properties"),
        events=tuple(_event(event) for event in data.objects("events")),
        children=children,
    )


def _span_tree(root: Obj, scale: float) -> Span:
    """Build the span tree without recursion, so its depth is bounded by the JSON limit, not by the stack."""
    order: list[tuple[Obj, int]] = []  # every span in pre-order, with the index of its parent (-1: none)
    stack = [(root, -1)]
    while stack:
        node, parent = stack.pop()
        order.append((node, parent))
        stack.extend((child, len(order) - 1) for child in reversed(list(node.objects("children"))))
    # Children come after their parent in pre-order, so building from the end finds them all ready.
    built: list[list[Span]] = [[] for _ in order]
    for index in range(len(order) - 1, 0, -1):
        node, parent = order[index]
        built[parent].append(_span(node, scale, tuple(reversed(built[index]))))
    return _span(root, scale, tuple(reversed(built[0])))


def parse_trace(body: object) -> Trace:
    trace = Obj(body, "").child("trace")
    raw_root = trace.raw("rootSpan")
    # ClickHouse sends nanoseconds and no properties; the Postgres store sends properties and milliseconds.
    scale = 1.0 if _has_properties(raw_root) else 1e-6
    return Trace(
        trace_id=trace.text("traceId"),
        root=_span_tree(trace.child("rootSpan"), scale),
        truncated=trace.flag("isTruncated", False),
    )


def parse_span_detail(body: object) -> SpanDetail:
    o = Obj(body, "span")
    return SpanDetail(
        span_id=o.text("spanId"),
        run_id=o.text("runId"),
        message=o.text("message"),
        start_time=o.when("startTime"),
        duration_ms=o.number("durationMs", 0.0),
        is_partial=o.flag("isPartial", False),
        is_error=o.flag("isError", False),
        is_cancelled=o.flag("isCancelled", False),
        level=o.opt_text("level") or "TRACE",
        parent_id=o.opt_text("parentId"),
        properties=o.opt_mapping("properties"),
        events=_loose_events(o),
        entity_type=o.opt_text("entityType"),
        triggered_runs=tuple(
            TriggeredRun(
                run_id=t.text("runId"),
                task_identifier=t.text("taskIdentifier"),
                status=t.text("status"),
                created_at=t.when("createdAt"),
            )
            for t in o.objects("triggeredRuns")
        ),
        ai=o.opt_mapping("ai"),
    )


# queues -----------------------------------------------------------------------------------------------


def parse_queue(body: object, label: str = "queue") -> Queue:
    o = Obj(body, label)
    concurrency = o.opt_child("concurrency")
    return Queue(
        id=o.text("id"),
        name=o.text("name"),
        type=o.choice("type", QueueType),
        running=o.count("running"),
        queued=o.count("queued"),
        paused=o.flag("paused"),
        concurrency_limit=o.opt_count("concurrencyLimit"),
        base_limit=concurrency.opt_count("base") if concurrency else None,
        override_limit=concurrency.opt_count("override") if concurrency else None,
        overridden_at=concurrency.opt_when("overriddenAt") if concurrency else None,
        overridden_by=concurrency.opt_text("overriddenBy") if concurrency else None,
        override_percent=o.opt_amount("concurrencyLimitOverridePercent"),
    )


def parse_queue_page(body: object) -> tuple[tuple[Queue, ...], int]:
    """One offset page of queues and the server's `totalPages`."""
    root = Obj(body, "queues")
    queues = tuple(parse_queue(item, path) for path, item in root.array("data", required=True))
    pagination = root.opt_child("pagination")
    total_pages = pagination.opt_count("totalPages") if pagination else None
    return queues, total_pages if total_pages is not None else 1


def parse_queue_metrics(body: object) -> QueueMetrics:
    o = Obj(body, "metrics")
    wait = o.opt_child("waitMs")
    return QueueMetrics(
        queue=o.text("queue"),
        period=o.text("period"),
        window_from=o.when("from"),
        window_to=o.when("to"),
        wait_p50_ms=wait.opt_amount("p50") if wait else None,
        wait_p95_ms=wait.opt_amount("p95") if wait else None,
        peak_queued=o.count("peakQueued"),
        started_count=o.count("startedCount"),
        started_per_min=o.amount("startedPerMin"),
        throttled_count=o.count("throttledCount"),
        bucket_interval_ms=o.count("bucketIntervalMs"),
        depth_trend=o.counts("depthTrend"),
    )


# waitpoints -------------------------------------------------------------------------------------------


def parse_token(o: Obj) -> WaitpointToken:
    return WaitpointToken(
        id=o.text("id"),
        url=o.opt_text("url") or "",
        status=o.choice("status", TokenStatus),
        created_at=o.when("createdAt"),
        completed_at=o.opt_when("completedAt"),
        timeout_at=o.opt_when("timeoutAt"),
        idempotency_key=o.opt_text("idempotencyKey"),
        idempotency_key_expires_at=o.opt_when("idempotencyKeyExpiresAt"),
        tags=o.texts("tags"),
    )


def parse_token_page(body: object) -> Page[WaitpointToken]:
    return cursor_page(body, "tokens", parse_token)


def parse_token_detail(body: object) -> TokenDetail:
    o = Obj(body, "token")
    output = o.raw("output")
    if output is not None and not isinstance(output, str):
        # The server sends the output serialised; keep whatever arrived as JSON text rather than fail.
        output = json.dumps(output)
    return TokenDetail(
        token=parse_token(o),
        output=output,
        output_type=o.opt_text("outputType"),
        output_is_error=o.flag("outputIsError", False),
    )


__all__ = [
    "parse_bulk_action",
    "parse_claims_subject",
    "parse_deployment",
    "parse_deployment_page",
    "parse_engine_report",
    "parse_environment",
    "parse_id",
    "parse_promotion",
    "parse_queue",
    "parse_queue_metrics",
    "parse_queue_page",
    "parse_repair_report",
    "parse_run",
    "parse_run_detail",
    "parse_run_page",
    "parse_span_detail",
    "parse_token",
    "parse_token_detail",
    "parse_token_page",
    "parse_trace",
]
