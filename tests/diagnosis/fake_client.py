"""An in-memory stand-in for EngineClient (the read calls diagnosis makes), counting every call."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from tui.api.budget import BurstTally
from tui.api.errors import ConfigurationError, NotFound, ServerError
from tui.model import (
    Deployment,
    EnvironmentInfo,
    Page,
    Queue,
    QueueMetrics,
    QueueType,
    Run,
    RunDetail,
    RunStatus,
    Span,
    SpanDetail,
    TokenDetail,
    TokenStatus,
    Trace,
    WaitpointToken,
    stored_queue_name,
)

from .factories import NOW, metrics


@dataclass
class FakeClient:
    queues: list[Queue]
    runs: list[Run]
    """Every run, with `queue` set to its stored queue name (the fake filters on it)."""
    started: dict[str, int] = field(default_factory=dict)
    traces: dict[str, Trace] = field(default_factory=dict)
    spans: dict[tuple[str, str], SpanDetail] = field(default_factory=dict)
    tokens: dict[str, TokenDetail] = field(default_factory=dict)
    env: EnvironmentInfo = field(default_factory=lambda: EnvironmentInfo("env_1", "prod", "PRODUCTION", False, 100))
    fail_metrics: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    clock_skew: float | None = None

    @asynccontextmanager
    async def burst(self) -> AsyncIterator[BurstTally]:
        """Like EngineClient.burst: the tally counts the calls made inside."""
        tally, before = BurstTally(), sum(self.calls.values())
        try:
            yield tally
        finally:
            tally.requests = sum(self.calls.values()) - before

    async def retrieve_run(self, run_id: str) -> RunDetail:
        self.calls["retrieve_run"] += 1
        for r in self.runs:
            if r.id == run_id:
                return RunDetail(replace(r, queue=None))
        raise NotFound("run not found", status=404)

    async def list_runs(
        self,
        *,
        statuses: Sequence[RunStatus] = (),
        queue: tuple[str, QueueType] | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        period: str | None = None,
        page_size: int = 100,
        after: str | None = None,
        versions: Sequence[str] = (),
        **_: object,
    ) -> Page[Run]:
        self.calls["list_runs"] += 1
        found = [
            r
            for r in self.runs
            if (not statuses or r.status in statuses)
            and (not versions or r.version in versions)
            and (queue is None or r.queue == stored_queue_name(*queue))
            and (created_from is None or r.created_at >= created_from)
            and (created_to is None or r.created_at <= created_to)
        ]
        start = int(after or 0)
        chunk = found[start : start + page_size]
        more = start + page_size < len(found)
        items = tuple(r if queue is not None else replace(r, queue=None) for r in chunk)
        return Page(items, next=str(start + page_size) if more else None)

    async def list_queues(self) -> list[Queue]:
        self.calls["list_queues"] += 1
        return list(self.queues)

    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics:
        self.calls["queue_metrics"] += 1
        if queue.stored_name in self.fail_metrics:
            raise ServerError("Queue metrics are unavailable right now.", status=503)
        return metrics(queue, self.started.get(queue.stored_name, 0))

    async def run_trace(self, run_id: str) -> Trace:
        self.calls["run_trace"] += 1
        if run_id not in self.traces:
            raise NotFound("Trace not found", status=404)
        return self.traces[run_id]

    async def span_detail(self, run_id: str, span_id: str) -> SpanDetail:
        self.calls["span_detail"] += 1
        return self.spans[(run_id, span_id)]

    async def retrieve_token(self, token_id: str, *, once: bool = False) -> TokenDetail:
        self.calls["retrieve_token"] += 1
        return self.tokens[token_id]

    async def list_tokens(self, *, statuses: Sequence[TokenStatus] = (), **_: object) -> Page[WaitpointToken]:
        self.calls["list_tokens"] += 1
        return Page(tuple(t.token for t in self.tokens.values() if not statuses or t.token.status in statuses))

    async def current_deployment(self) -> Deployment | None:
        self.calls["current_deployment"] += 1
        return Deployment("dep_1", "abc", "20261128.1", "DEPLOYED", NOW)

    async def list_deployments(self, **_: object) -> Page[Deployment]:
        self.calls["list_deployments"] += 1
        return Page((Deployment("dep_1", "abc", "20261128.1", "DEPLOYED", NOW),))

    async def environment(self) -> EnvironmentInfo:
        self.calls["environment"] += 1
        return self.env

    async def engine_report(self) -> object:
        self.calls["engine_report"] += 1
        raise ConfigurationError("no admin token configured")

    async def repair_queues(self, *args: object, **kwargs: object) -> object:
        self.calls["repair_queues"] += 1
        raise ConfigurationError("no admin token configured")


def open_trace(run: Run, leaf_message: str, leaf_start: datetime, leaf_id: str = "leaf") -> Trace:
    """A ClickHouse-shaped trace: the run's span, an open attempt, and one open leaf (no properties)."""
    leaf = Span(leaf_id, run.id, leaf_message, leaf_start, 0.0, True)
    attempt = Span("attempt", run.id, "Attempt 1", run.started_at or run.created_at, 0.0, True, children=(leaf,))
    root = Span("root", run.id, run.task_identifier, run.created_at, 0.0, True, children=(attempt,))
    return Trace("trace_1", root)


def span_detail(run: Run, span_id: str, message: str, start: datetime, **kw: object) -> SpanDetail:
    return SpanDetail(span_id, run.id, message, start, 0.0, True, **kw)  # type: ignore[arg-type]
