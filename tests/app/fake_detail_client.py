"""A small in-memory stand-in for EngineClient: just the calls the run detail screen makes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App

from tui.api.errors import ApiError, NotFound, ServerError
from tui.config import Settings
from tui.model import (
    Deployment,
    Queue,
    QueueType,
    RelatedRuns,
    Run,
    RunDetail,
    RunError,
    RunStatus,
    Span,
    SpanDetail,
    TokenDetail,
    TokenStatus,
    Trace,
    WaitpointToken,
)
from tui.screens.run_detail import RunDetailScreen

NOW = datetime(2026, 8, 21, 18, 20, 0, tzinfo=UTC)
HOSTILE = "[red]x[/] \x1b[31mred\x1b[0m [link=http://evil]y[/link]"


def frozen_clock() -> datetime:
    return NOW


def settings(refresh: float = 0.05) -> Settings:
    return Settings(profile="test", url="http://sim.invalid", secret_key="tr_dev_secret", refresh_seconds=refresh)


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


def make_run(run_id: str, status: RunStatus, task: str = "sync-crm", **kwargs: Any) -> Run:
    fields: dict[str, Any] = {
        "created_at": ago(minutes=25),
        "updated_at": ago(minutes=20),
        "started_at": ago(minutes=20) if status not in (RunStatus.QUEUED, RunStatus.DELAYED) else None,
        "version": "20260821.3",
    }
    fields.update(kwargs)
    return Run(id=run_id, status=status, task_identifier=task, **fields)


def span(
    span_id: str,
    message: str,
    start: datetime,
    *,
    partial: bool = False,
    ms: float = 0.0,
    children: tuple[Span, ...] = (),
    error: bool = False,
    run_id: str = "run_stuck",
    **kwargs: Any,
) -> Span:
    return Span(
        id=span_id,
        run_id=run_id,
        message=message,
        start_time=start,
        duration_ms=ms,
        is_partial=partial,
        is_error=error,
        children=children,
        **kwargs,
    )


def stuck_trace() -> Trace:
    tool = span("s-tool", "tool.call crm.lookup", ago(minutes=14), partial=True)
    fetch = span("s-fetch", "fetch-order", ago(minutes=19, seconds=50), ms=1200)
    attempt = span("s-attempt", "Attempt 1", ago(minutes=20), partial=True, children=(fetch, tool))
    return Trace(trace_id="t1", root=span("s-root", "sync-crm", ago(minutes=25), partial=True, children=(attempt,)))


def waiting_trace() -> Trace:
    wait = span("s-wait", "wait.forToken()", ago(minutes=9), partial=True, run_id="run_wait")
    attempt = span("s-att", "Attempt 1", ago(minutes=10), partial=True, children=(wait,), run_id="run_wait")
    return Trace(
        trace_id="t2",
        root=span("s-wroot", "approve-order", ago(minutes=10), partial=True, children=(attempt,), run_id="run_wait"),
    )


def done_trace() -> Trace:
    child = span("s-d1", "fetch-order", ago(minutes=4), ms=800, run_id="run_done")
    return Trace(
        trace_id="t3",
        root=span("s-droot", "sync-crm", ago(minutes=5), ms=60_000, children=(child,), run_id="run_done"),
    )


def hostile_trace() -> Trace:
    bad = span("s-bad", HOSTILE, ago(minutes=3), partial=True, run_id="run_hostile")
    return Trace(
        trace_id="t4",
        root=span("s-hroot", HOSTILE, ago(minutes=4), partial=True, children=(bad,), run_id="run_hostile"),
    )


def big_payload(megabytes: float = 5.0) -> dict[str, Any]:
    row = {"sku": "SKU-000000", "description": "x" * 60, "qty": 1, "price": 9.99}
    count = int(megabytes * 1_000_000 / 110)
    return {"items": [dict(row, sku=f"SKU-{i:06d}") for i in range(count)]}


class FakeDetailClient:
    """Answers from dicts; `fail` maps a method name to an error to raise; `calls` counts every call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, ApiError] = {}
        parent = make_run("run_parent", RunStatus.EXECUTING, task="orchestrate")
        child = make_run("run_child", RunStatus.COMPLETED, finished_at=ago(minutes=18))
        self.runs: dict[str, RunDetail] = {
            "run_stuck": RunDetail(
                run=make_run(
                    "run_stuck",
                    RunStatus.EXECUTING,
                    tags=("customer:acme", "[red]x[/]"),
                    idempotency_key="order-9921",
                    metadata={"step": "calling crm"},
                ),
                trigger_function="triggerAndWait",
                payload={"orderId": 9921, "note": "[bold]not bold[/]"},
                has_payload=True,
                attempt_count=1,
                related=RelatedRuns(root=parent, parent=parent, children=(child,)),
            ),
            "run_wait": RunDetail(
                run=make_run("run_wait", RunStatus.WAITING, task="approve-order"),
                payload={"orderId": 1},
                has_payload=True,
                attempt_count=1,
            ),
            "run_done": RunDetail(
                run=make_run("run_done", RunStatus.COMPLETED, started_at=ago(minutes=5), finished_at=ago(minutes=4)),
                payload={"orderId": 2},
                has_payload=True,
                output={"ok": True, "rows": 3},
                has_output=True,
                attempt_count=1,
            ),
            "run_failed": RunDetail(
                run=make_run("run_failed", RunStatus.FAILED, finished_at=ago(minutes=2)),
                error=RunError(message="boom \x1b[2J" + HOSTILE, name="TypeError", stack_trace="at x\nat y"),
                attempt_count=3,
            ),
            "run_hostile": RunDetail(
                run=make_run(
                    "run_hostile",
                    RunStatus.EXECUTING,
                    task=HOSTILE,
                    tags=(HOSTILE,),
                    idempotency_key=HOSTILE,
                    metadata={HOSTILE: HOSTILE},
                ),
                payload={"text": HOSTILE, "bidi": "abc\u202edef"},
                has_payload=True,
            ),
            "run_big": RunDetail(
                run=make_run("run_big", RunStatus.QUEUED, started_at=None),
                payload=big_payload(),
                has_payload=True,
            ),
            "run_parent": RunDetail(run=parent, related=RelatedRuns(children=(self_ref_child(),))),
            "run_child": RunDetail(run=child, related=RelatedRuns(root=parent, parent=parent)),
        }
        self.traces: dict[str, Trace] = {
            "run_stuck": stuck_trace(),
            "run_wait": waiting_trace(),
            "run_done": done_trace(),
            "run_hostile": hostile_trace(),
        }
        self.span_details: dict[str, SpanDetail] = {
            "s-tool": span_detail("s-tool", "tool.call crm.lookup", {"entity": "crm-backend"}),
            "s-fetch": span_detail("s-fetch", "fetch-order", {"order": 9921, "note": "[b]x[/b]"}),
            "s-wait": span_detail("s-wait", "wait.forToken()", {"id": "waitpoint_abc123"}, entity_type="waitpoint"),
        }
        self.tokens: dict[str, TokenDetail] = {
            "waitpoint_abc123": TokenDetail(
                token=WaitpointToken(
                    id="waitpoint_abc123",
                    url="https://sim.invalid/callback/hash",
                    status=TokenStatus.WAITING,
                    created_at=ago(minutes=9),
                    tags=("order:1",),
                    idempotency_key="approve-1",
                )
            )
        }
        self.queue = Queue(
            id="queue_1",
            name="sync-crm",
            type=QueueType.TASK,
            running=4,
            queued=37,
            paused=False,
            concurrency_limit=4,
        )
        self.current: Deployment | None = Deployment(
            id="dep_1", short_code="abc", version="20260821.3", status="DEPLOYED", created_at=ago(days=1)
        )

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.fail:
            raise self.fail[name]

    async def retrieve_run(self, run_id: str) -> RunDetail:
        self._enter("retrieve_run")
        if run_id not in self.runs:
            raise NotFound("Run not found", status=404)
        return self.runs[run_id]

    async def run_trace(self, run_id: str) -> Trace:
        self._enter("run_trace")
        if run_id not in self.traces:
            raise NotFound("Trace not found", status=404)
        return self.traces[run_id]

    async def span_detail(self, run_id: str, span_id: str) -> SpanDetail:
        self._enter("span_detail")
        if span_id not in self.span_details:
            raise NotFound("Span not found", status=404)
        return self.span_details[span_id]

    async def retrieve_queue(self, name: str, type_: QueueType) -> Queue:
        self._enter("retrieve_queue")
        if name != self.queue.name or type_ is not self.queue.type:
            raise NotFound("queue-not-found", status=404)
        return self.queue

    async def current_deployment(self) -> Deployment | None:
        self._enter("current_deployment")
        return self.current

    async def retrieve_token(self, token_id: str, *, once: bool = False) -> TokenDetail:
        self._enter("retrieve_token")
        if token_id not in self.tokens:
            raise ServerError("server 500", status=500)
        return self.tokens[token_id]


def self_ref_child() -> Run:
    return make_run("run_stuck", RunStatus.EXECUTING)


def span_detail(span_id: str, message: str, properties: dict[str, Any], entity_type: str | None = None) -> SpanDetail:
    return SpanDetail(
        span_id=span_id,
        run_id="run_x",
        message=message,
        start_time=ago(minutes=9),
        duration_ms=0,
        is_partial=True,
        properties=properties,
        entity_type=entity_type,
    )


class DetailHost(App[None]):
    """A tiny app that hosts one run detail screen (independent of tui/app.py)."""

    def __init__(self, client: Any, run_id: str, *, refresh: float = 0.05) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.refresh_seconds = refresh
        self.polling_paused = False
        """Stands in for the app's global `P` switch."""

    def on_mount(self) -> None:
        self.push_screen(
            RunDetailScreen(
                self.client,
                settings(self.refresh_seconds),
                self.run_id,
                clock=frozen_clock,
                paused=lambda: self.polling_paused,
            )
        )
