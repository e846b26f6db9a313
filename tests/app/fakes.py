"""An in-memory EngineClient for the console's Pilot tests: the calls the panes make, failures on demand."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.api.budget import BurstTally
from tui.api.client import ClientStats, ConnectionState, QueuePage
from tui.api.errors import ApiError, ConnectionFailed, NotFound, Unauthorized
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import (
    EnvironmentInfo,
    Page,
    Queue,
    QueueMetrics,
    QueueType,
    Run,
    RunStatus,
    Span,
    SpanDetail,
    TokenStatus,
    Trace,
    WaitpointToken,
)

NOW = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
HOSTILE_NAMES = (
    "[red]x[/]",
    "\x1b[31mred\x1b[0m",
    "[link=http://evil]click[/link]",
    "naïve-ünïcödé-日本語-🚀",
    "a" * 300,
)


def frozen_clock() -> datetime:
    return NOW


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


def settings(refresh: float = 0.05, **kwargs: Any) -> Settings:
    fields: dict[str, Any] = {"profile": "test", "url": "http://fake.invalid", "secret_key": "tr_dev_secret"}
    fields.update(kwargs)
    return Settings(refresh_seconds=refresh, **fields)


def queue(
    name: str,
    *,
    queued: int = 0,
    running: int = 0,
    limit: int | None = 10,
    paused: bool = False,
    type_: QueueType = QueueType.TASK,
    override: int | None = None,
) -> Queue:
    return Queue(
        id=f"queue_{abs(hash(name)) % 10**8}",
        name=name,
        type=type_,
        running=running,
        queued=queued,
        paused=paused,
        concurrency_limit=override if override is not None else limit,
        base_limit=limit if override is not None else None,
        override_limit=override,
    )


def metrics(
    name: str,
    *,
    started: int = 10,
    trend: Sequence[int] = (0, 1, 2, 3, 5, 8, 5, 3, 2, 1, 0, 0),
    p95: float | None = 1200.0,
) -> QueueMetrics:
    return QueueMetrics(
        queue=name,
        period="15m",
        window_from=ago(minutes=15),
        window_to=NOW,
        wait_p50_ms=p95 / 2 if p95 else None,
        wait_p95_ms=p95,
        peak_queued=max(trend),
        started_count=started,
        started_per_min=round(started / 15, 2),
        throttled_count=0,
        bucket_interval_ms=75_000,
        depth_trend=tuple(trend),
    )


def run(
    run_id: str,
    status: RunStatus,
    *,
    task: str = "agent-turn",
    minutes: float = 1,
    created: float = 5,
    tags: tuple[str, ...] = (),
    version: str | None = "20261128.1",
) -> Run:
    started = ago(minutes=minutes) if status not in (RunStatus.QUEUED, RunStatus.DELAYED) else None
    return Run(
        id=run_id,
        status=status,
        task_identifier=task,
        created_at=ago(minutes=created),
        updated_at=ago(minutes=minutes),
        started_at=started,
        version=version,
        tags=tags,
    )


def token(
    token_id: str,
    *,
    status: TokenStatus = TokenStatus.WAITING,
    minutes: float = 30,
    timeout: float | None = None,
    tags: tuple[str, ...] = ("approval",),
    key: str | None = None,
) -> WaitpointToken:
    return WaitpointToken(
        id=token_id,
        url=f"http://fake.invalid/api/v1/waitpoints/tokens/{token_id}/callback/abc",
        status=status,
        created_at=ago(minutes=minutes),
        timeout_at=NOW + timedelta(minutes=timeout) if timeout is not None else None,
        idempotency_key=key,
        tags=tags,
    )


def incident() -> FakeClient:
    """A small incident: one stalled queue, one at cap, one paused, a stuck run, a token nobody resumes."""
    client = FakeClient()
    client.queues = [
        queue("agent-turn", queued=40, running=0, limit=10),
        queue("send-email", queued=5, running=10, limit=10),
        queue("billing", queued=3, paused=True),
        queue("shared-crm", queued=0, running=2, limit=None, type_=QueueType.CUSTOM),
        queue("nightly-report"),
    ]
    client.metrics = {
        "task/agent-turn": metrics(
            "task/agent-turn", started=0, trend=(0, 5, 10, 15, 20, 25, 30, 35, 40, 40, 40, 40)
        ),
        # At its cap with runs waiting ten minutes and a flat backlog: AT CAP, not BUSY or RECOVERING.
        "task/send-email": metrics("task/send-email", started=30, trend=(5,) * 12, p95=600_000.0),
        "shared-crm": metrics("shared-crm", started=4, trend=(0,) * 12),
    }
    client.runs = [
        run(
            "run_stuck0000000000000001", RunStatus.EXECUTING, minutes=42, created=45, tags=("customer:acme",)
        ),
        run("run_deq00000000000000002", RunStatus.DEQUEUED, task="send-email", minutes=7, created=8),
        run("run_exec0000000000000003", RunStatus.EXECUTING, minutes=1, created=2),
        run("run_wait0000000000000004", RunStatus.WAITING, task="approve-refund", minutes=30, created=31),
        run("run_queued00000000000005", RunStatus.QUEUED, minutes=3, created=3),
    ]
    client.tokens = [
        token("waitpoint_approval000001", minutes=30, key="refund-42"),
        token("waitpoint_timed00000002", minutes=5, timeout=10, tags=("ops",)),
        token("waitpoint_done000000003", status=TokenStatus.COMPLETED, minutes=90),
    ]
    client.wait_spans = {"run_wait0000000000000004": "waitpoint_approval000001"}
    return client


BURSTS: ContextVar[tuple[BurstTally, ...]] = ContextVar("fake-bursts", default=())


class FakeClient:
    """Duck-types EngineClient for the read calls; `fail_with` makes every call raise until cleared."""

    def __init__(self) -> None:
        self.clock_skew: float | None = None
        self.queues: list[Queue] = []
        self.runs: list[Run] = []
        self.tokens: list[WaitpointToken] = []
        self.metrics: dict[str, QueueMetrics] = {}
        self.wait_spans: dict[str, str] = {}
        self.env = EnvironmentInfo(
            id="env_1", slug="dev", type="DEVELOPMENT", paused=False, concurrency_limit=50
        )
        self.fail_with: ApiError | None = None
        self.calls: Counter[str] = Counter()
        self.run_calls: list[dict[str, Any]] = []
        self.guard = WriteGuard(read_only=True)
        self.state = ConnectionState.CONNECTED
        self.last_error: str | None = None
        self.closed = False

    @asynccontextmanager
    async def burst(self) -> AsyncIterator[BurstTally]:
        """Like EngineClient.burst: the tally counts the calls made inside (and in tasks started inside)."""
        tally = BurstTally()
        token = BURSTS.set((*BURSTS.get(), tally))
        try:
            yield tally
        finally:
            BURSTS.reset(token)

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        for tally in BURSTS.get():
            tally.requests += 1
        if self.fail_with is not None:
            if isinstance(self.fail_with, Unauthorized):
                self.state = ConnectionState.UNAUTHORIZED
            elif isinstance(self.fail_with, ConnectionFailed):
                self.state = ConnectionState.DISCONNECTED
            else:
                self.state = ConnectionState.RETRYING
            self.last_error = str(self.fail_with)
            raise self.fail_with
        self.state = ConnectionState.CONNECTED

    def __getattr__(self, name: str) -> Any:
        """Calls the console never makes in these tests (run detail, mutations) answer 404."""
        if name.startswith("_"):
            raise AttributeError(name)

        async def missing(*args: Any, **kwargs: Any) -> Any:
            self._call(name)
            raise NotFound(f"{name}: not in the fake")

        return missing

    def stats(self) -> ClientStats:
        return ClientStats(
            state=self.state,
            requests_per_second=0.4,
            budget_per_second=2.0,
            last_error=self.last_error,
            ratelimit_remaining=None,
            ratelimit_limit=None,
        )

    async def aclose(self) -> None:
        self.closed = True

    async def environment(self) -> EnvironmentInfo:
        self._call("environment")
        return self.env

    async def list_queues(self) -> list[Queue]:
        self._call("list_queues")
        return list(self.queues)

    async def queue_pages(self) -> AsyncIterator[QueuePage]:
        # One page, through list_queues so a test that patches it (to slow it down) patches this too.
        yield QueuePage(await self.list_queues(), 1, 1, True)

    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics:
        self._call("queue_metrics")
        found = self.metrics.get(queue.stored_name)
        return found if found is not None else metrics(queue.stored_name, started=0, trend=(0,) * 12)

    async def list_runs(
        self,
        *,
        statuses: Sequence[RunStatus] = (),
        queue: tuple[str, QueueType] | None = None,
        created_to: datetime | None = None,
        page_size: int = 100,
        after: str | None = None,
        **kwargs: Any,
    ) -> Page[Run]:
        self._call("list_runs")
        self.run_calls.append(
            {"statuses": tuple(statuses), "queue": queue, "created_to": created_to, "after": after, **kwargs}
        )
        items = sorted(self.runs, key=lambda r: r.created_at, reverse=True)
        if statuses:
            items = [r for r in items if r.status in statuses]
        if created_to is not None:
            items = [r for r in items if r.created_at <= created_to]
        if queue is not None:
            items = [replace(r, queue=f"task/{queue[0]}") for r in items if r.task_identifier == queue[0]]
        start = int(after) if after else 0
        page = items[start : start + page_size]
        more = start + page_size < len(items)
        return Page(items=tuple(page), next=str(start + page_size) if more else None)

    async def list_tokens(
        self,
        *,
        statuses: Sequence[TokenStatus] = (),
        tags: Sequence[str] = (),
        page_size: int = 100,
        after: str | None = None,
        **kwargs: Any,
    ) -> Page[WaitpointToken]:
        self._call("list_tokens")
        items = [
            t
            for t in self.tokens
            if (not statuses or t.status in statuses) and (not tags or set(tags) & set(t.tags))
        ]
        start = int(after) if after else 0
        more = start + page_size < len(items)
        return Page(
            items=tuple(items[start : start + page_size]), next=str(start + page_size) if more else None
        )

    async def run_trace(self, run_id: str) -> Trace:
        self._call("run_trace")
        children: tuple[Span, ...] = ()
        if run_id in self.wait_spans:
            children = (
                Span(
                    id="span_wait",
                    run_id=run_id,
                    message="wait.forToken()",
                    start_time=ago(minutes=30),
                    duration_ms=0,
                    is_partial=True,
                    parent_id="span_root",
                ),
            )
        root = Span(
            id="span_root",
            run_id=run_id,
            message="agent-turn",
            start_time=ago(minutes=31),
            duration_ms=0,
            is_partial=True,
            children=children,
        )
        return Trace(trace_id="trace_1", root=root)

    async def span_detail(self, run_id: str, span_id: str) -> SpanDetail:
        self._call("span_detail")
        token_id = self.wait_spans.get(run_id)
        return SpanDetail(
            span_id=span_id,
            run_id=run_id,
            message="wait.forToken()",
            start_time=ago(minutes=30),
            duration_ms=0,
            is_partial=True,
            entity_type="waitpoint",
            properties={"id": token_id} if token_id else None,
        )
