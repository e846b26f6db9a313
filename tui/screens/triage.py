"""Pane 4, triage (placeholder until tui/diagnosis lands): stalled/paused queues and stuck runs."""

from __future__ import annotations

from datetime import timedelta

from textual import on

from tui.model import (
    HEALTH_SEVERITY,
    Queue,
    QueueHealth,
    Run,
    RunStatus,
    is_stuck,
    queue_health,
    time_in_status,
)
from tui.screens.messages import OpenRun, OpenRuns
from tui.screens.pane import PaneScreen
from tui.screens.session import Session
from tui.widgets.format import short_duration
from tui.widgets.table import Cell, Column, FastTable, Row

METRICS_PER_POLL = 4
SHOWN = frozenset({QueueHealth.PAUSED, QueueHealth.STALLED, QueueHealth.AT_CAP})


class TriageScreen(PaneScreen):
    """Worst first: STALLED and PAUSED queues, AT CAP queues, then stuck runs (longest first)."""

    PANE = "triage"
    EMPTY = "Nothing stalled, paused or stuck right now"
    COLUMNS = (
        Column("verdict", "Verdict", 10),
        Column("kind", "Kind", 5),
        Column("what", "Queue / run", 20, flex=2, max_width=40),
        Column("detail", "Detail", 20, flex=3),
    )

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._queues: list[Queue] = []
        self._stuck: list[Run] = []

    def reset(self) -> None:
        self._queues, self._stuck = [], []
        self.table.set_rows([])

    async def poll(self, *, full: bool) -> None:
        if not full and self._queues:
            return
        client = self.session.client
        now = self.session.clock()
        self._queues = await client.list_queues()
        if self.session.environment is None:
            self.session.environment = await client.environment()
        backlogged = sorted((q for q in self._queues if q.queued and not q.paused), key=lambda q: -q.queued)
        due = [q for q in backlogged if self.session.metrics_due(q.stored_name, now)]
        for queue in due[:METRICS_PER_POLL]:
            metrics = await client.queue_metrics(queue, "15m")
            expires = now + timedelta(milliseconds=max(10_000, metrics.bucket_interval_ms))
            self.session.metrics[queue.stored_name] = (expires, metrics)
        thresholds = self.session.settings.thresholds.stuck()
        page = await client.list_runs(
            statuses=(RunStatus.DEQUEUED, RunStatus.EXECUTING),
            created_to=now - min(thresholds.dequeued, thresholds.executing),
            page_size=100,
        )
        self._stuck = [run for run in page.items if is_stuck(run, now, thresholds)]
        self.render_rows()

    def render_rows(self) -> None:
        now = self.session.clock()
        env = self.session.environment
        env_limit = env.concurrency_limit if env is not None else None
        queue_rows = []
        for queue in self._queues:
            metrics = self.session.cached_metrics(queue.stored_name, now)
            health = queue_health(queue, metrics, env_limit)
            if health not in SHOWN:
                continue
            rate = f", {metrics.started_per_min:.1f}/min dequeued" if metrics is not None else ""
            detail = f"{queue.queued} queued, {queue.running} running{rate}"
            tone = "error" if health is QueueHealth.STALLED else "warning"
            queue_rows.append(
                (
                    HEALTH_SEVERITY[health],
                    -queue.queued,
                    Row(
                        f"queue:{queue.stored_name}", (Cell(health.value, tone), "queue", queue.name, detail)
                    ),
                )
            )
        queue_rows.sort(key=lambda r: (r[0], r[1]))
        stuck = sorted(self._stuck, key=lambda run: -time_in_status(run, now).total_seconds())
        run_rows = [
            Row(
                f"run:{run.id}",
                (
                    Cell("STUCK", "error"),
                    "run",
                    run.id,
                    f"{run.status.value} for {short_duration(time_in_status(run, now).total_seconds())}"
                    f" · {run.task_identifier}",
                ),
            )
            for run in stuck
        ]
        self.table.set_rows([row for _, _, row in queue_rows] + run_rows)
        self.update_bars()

    def summary(self) -> str:
        return f"{self.table.total_count} findings · enter opens the queue's runs or the run"

    def selected_value(self) -> str | None:
        key = self.table.cursor_key
        return key.partition(":")[2] if key else None

    @on(FastTable.Selected)
    def _open(self, event: FastTable.Selected) -> None:
        kind, _, ident = event.key.partition(":")
        if kind == "run":
            self.post_message(OpenRun(ident))
            return
        for queue in self._queues:
            if queue.stored_name == ident:
                self.post_message(OpenRuns((queue.name, queue.type), origin=self.PANE))
