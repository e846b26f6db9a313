"""Hand-built facts for the diagnosis tests: every number is set here, nothing comes from a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.diagnosis.facts import EnvFacts, OpenSpan, QueueFacts, RunFacts, RunTrace
from tui.model import (
    EnvironmentInfo,
    Queue,
    QueueMetrics,
    QueueType,
    Repair,
    RepairReport,
    RepairResult,
    Run,
    RunDetail,
    RunStatus,
    TokenDetail,
    TokenStatus,
    WaitpointToken,
)

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def run(
    run_id: str,
    status: RunStatus = RunStatus.QUEUED,
    *,
    task: str = "agent-turn",
    age: float = 60,
    in_status: float | None = None,
    queue: str | None = None,
) -> Run:
    """A run created `age` seconds ago; DEQUEUED/EXECUTING ones started `in_status` seconds ago."""
    in_status = age if in_status is None else in_status
    started = ago(in_status) if status in (RunStatus.DEQUEUED, RunStatus.EXECUTING) else None
    updated = ago(in_status)
    return Run(run_id, status, task, created_at=ago(age), updated_at=updated, started_at=started, queue=queue)


def queue(
    name: str = "agent-turn",
    *,
    type_: QueueType = QueueType.TASK,
    running: int = 0,
    queued: int = 0,
    limit: int | None = 10,
    paused: bool = False,
) -> Queue:
    return Queue(f"queue_{name}", name, type_, running, queued, paused, limit)


def metrics(q: Queue, started: int, *, trend: tuple[int, ...] = (0, 0, 0), throttled: int = 0) -> QueueMetrics:
    return QueueMetrics(
        queue=q.stored_name,
        period="15m",
        window_from=ago(900),
        window_to=NOW,
        wait_p50_ms=None,
        wait_p95_ms=None,
        peak_queued=max(trend, default=0),
        started_count=started,
        started_per_min=round(started / 15, 2),
        throttled_count=throttled,
        bucket_interval_ms=75_000,
        depth_trend=trend,
    )


def qf(q: Queue, started: int | None = None, **kw: object) -> QueueFacts:
    """QueueFacts with metrics when `started` is given."""
    m = metrics(q, started) if started is not None else None
    return QueueFacts(q, m, **kw)  # type: ignore[arg-type]


def env(
    *queues: QueueFacts,
    limit: int | None = 100,
    paused: bool = False,
    **kw: object,
) -> EnvFacts:
    info = EnvironmentInfo("env_1", "prod", "PRODUCTION", paused, limit)
    return EnvFacts(NOW, "15m", tuple(queues), environment=info, **kw)  # type: ignore[arg-type]


def token(
    token_id: str, *, age: float, timeout_in: float | None = None, status: TokenStatus = TokenStatus.WAITING
) -> TokenDetail:
    timeout = NOW + timedelta(seconds=timeout_in) if timeout_in is not None else None
    return TokenDetail(WaitpointToken(token_id, f"https://x/{token_id}", status, ago(age), timeout_at=timeout))


def tool_span(entity: str, age: float) -> OpenSpan:
    return OpenSpan(f"span_{entity}", f"tool {entity}.lookup", ago(age), entity=entity)


def wait_span(token_id: str, age: float) -> OpenSpan:
    return OpenSpan(f"span_{token_id}", "wait.forToken()", ago(age), token_id=token_id)


def trace(r: Run, *spans: OpenSpan, tokens: tuple[TokenDetail, ...] = ()) -> RunTrace:
    return RunTrace(r, spans, tokens)


def facts(r: Run, e: EnvFacts, *, queue_name: str | None = "task/agent-turn", tr: RunTrace | None = None) -> RunFacts:
    return RunFacts(NOW, RunDetail(r), e, queue_name=queue_name, queue_how="test", trace=tr)


def leak(run_id: str, status: str = "FINISHED") -> Repair:
    return Repair("repairSnapshot", run_id, status, f"snap_{run_id}")


def repair(
    queue_leaks: dict[str, tuple[Repair, ...]] | None = None, env_leaks: tuple[Repair, ...] = ()
) -> RepairReport:
    queues = tuple(
        (name, RepairResult(rs, 0, True)) for name, rs in (queue_leaks or {}).items()
    )
    return RepairReport(RepairResult(env_leaks, 0, True), queues)
