"""Pane 1, queues: health verdict in words, counters, dequeue rate and depth trend, problems first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType

from tui.api.errors import ApiError
from tui.model import (
    HEALTH_SEVERITY,
    EnvironmentInfo,
    Queue,
    QueueHealth,
    QueueMetrics,
    effective_limit,
    queue_health,
)
from tui.screens.messages import OpenRuns
from tui.screens.pane import PaneScreen
from tui.screens.session import Session
from tui.widgets.format import millis, rate, sparkline
from tui.widgets.ordered_rows import OrderedRows
from tui.widgets.table import Cell, Column, FastTable, Row

METRICS_PERIOD = "15m"
METRICS_PER_POLL = 8
ENVIRONMENT_EVERY = timedelta(seconds=60)

HEALTH_TONE = {
    QueueHealth.PAUSED: "warning",
    QueueHealth.STALLED: "error",
    QueueHealth.AT_CAP: "warning",
    QueueHealth.BACKLOGGED: "accent",
    QueueHealth.RECOVERING: "accent",
    QueueHealth.BUSY: "success",
    QueueHealth.ACTIVE: "success",
    QueueHealth.IDLE: "muted",
}
PROBLEMS = frozenset({QueueHealth.PAUSED, QueueHealth.STALLED, QueueHealth.AT_CAP})

QueueView = tuple[Queue, QueueHealth, QueueMetrics | None]
SORTS: tuple[tuple[str, Callable[[QueueView], tuple[Any, ...]]], ...] = (
    ("health", lambda v: (HEALTH_SEVERITY[v[1]], -v[0].queued, v[0].name)),
    ("name", lambda v: (v[0].name,)),
    ("type", lambda v: (v[0].type.value, v[0].name)),
    ("queued", lambda v: (-v[0].queued, v[0].name)),
    ("running", lambda v: (-v[0].running, v[0].name)),
    ("dequeue", lambda v: (v[2].started_per_min if v[2] else -1.0, v[0].name)),
    ("wait p95", lambda v: (-(v[2].wait_p95_ms or 0.0) if v[2] else 0.0, v[0].name)),
)

SORT_COLUMNS: dict[str, tuple[str, bool]] = {
    "health": ("health", True),
    "name": ("name", False),
    "type": ("type", False),
    "queued": ("queued", True),
    "running": ("running", True),
    "dequeue": ("dequeue", False),
    "wait p95": ("wait", True),
}
"""The column each sort orders by, and whether its natural order is descending (the header's ▼)."""


class QueuesScreen(PaneScreen):
    """Queues with their verdicts; metrics are read only for the rows on screen, once per metrics bucket."""

    PANE = "queues"
    MARKS = True
    EMPTY = "No queues in this environment"
    COLUMNS = (
        Column("health", "Health", 10),
        Column("name", "Queue", 16, flex=3, max_width=48),
        Column("type", "Type", 6, priority=4),
        Column("queued", "Queued", 7, align="right"),
        Column("running", "Run/Lim", 8, align="right"),
        Column("paused", "Paused", 6, priority=5),
        Column("dequeue", "Deq/min", 7, priority=1, align="right"),
        Column("wait", "Wait p95", 8, priority=2, align="right"),
        Column("trend", "Depth 15m", 12, priority=2),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "next_sort", "Sort", id="queues.sort"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="queues.reverse"),
        Binding("space", "mark", "Mark", show=False, id="queues.mark", tooltip="Mark queues for R"),
        Binding("p", "pause", "Pause/resume", id="queues.pause", tooltip="Pause the queue, or resume it"),
        Binding("o", "override", "Override limit", id="queues.override", tooltip="Set the queue's concurrency limit"),
        Binding("O", "reset", "Reset limit", show=False, id="queues.reset", tooltip="Back to the queue's base limit"),
        Binding("R", "repair", "Repair", id="queues.repair", tooltip="Admin repair-queues (dry run first)"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._queues: list[Queue] = []
        self._by_key: dict[str, Queue] = {}
        self._env_read: datetime | None = None
        self._sort = 0
        self._reverse = False
        self._rows: dict[str, tuple[Queue, QueueHealth, QueueMetrics | None, int | None]] = {}
        """What each queue's row was built from."""
        self._ordered = OrderedRows()
        self._ordered_by: tuple[int, float] | None = None
        """The sort and staleness threshold `_ordered` was built for; a change rebuilds it."""
        self._problems = 0
        self._pending_select: str | None = None
        self._loading: tuple[int, int] | None = None
        """(page read, pages in all) while the queue list is being read page by page."""

    def reset(self) -> None:
        self._queues, self._by_key, self._rows, self._env_read = [], {}, {}, None
        self._ordered, self._ordered_by, self._loading = OrderedRows(), None, None
        self.table.set_rows([])

    # ----- data -----------------------------------------------------------------------------------------

    async def poll(self, *, full: bool) -> None:
        now = self.session.clock()
        if full or not self._queues:
            try:
                await self._read_queues(now)
            finally:
                self._loading = None  # also when the read fails or the pane is hidden halfway
        if await self._read_visible_metrics(now):
            self.render_rows()

    async def _read_queues(self, now: datetime) -> None:
        """Draw each page as it arrives (10,000 queues are 100 pages, 50 s at the polling budget).

        A refresh updates the rows it re-reads in place and keeps the others until the last page says they
        are gone, so the table never empties or flickers while the pages trickle in.
        """
        seen: set[str] = set()
        async for page in self.session.client.queue_pages():
            for queue in page.items:
                self._by_key[queue.stored_name] = queue
                seen.add(queue.stored_name)
            self._loading = None if page.last else (page.number, page.total)
            if page.last:
                for gone in self._by_key.keys() - seen:
                    del self._by_key[gone]
            self._queues = list(self._by_key.values())
            self.render_rows()
            self.announce_data()  # page 1 is on screen: paint it without waiting for the rest of the poll
            if page.last:
                self._pending_select = None  # `:queue NAME` for a queue that is not listed: nothing to select
            if page.number == 1 and (self._env_read is None or now - self._env_read >= ENVIRONMENT_EVERY):
                # After page 1, not the last: the environment's limit decides which queues are AT CAP.
                await self._read_environment(now)
                self.render_rows()

    async def _read_environment(self, now: datetime) -> None:
        try:
            self.session.environment = await self.session.client.environment()
            self._env_read = now
        except ApiError as error:
            # The environment line is a nicety; the queues themselves still count as fresh.
            self.log.warning(f"environment: {error}")

    async def _read_visible_metrics(self, now: datetime) -> bool:
        top = round(self.table.scroll_y)
        visible = self.table.keys[top : top + max(1, self.table.size.height)]
        due = [key for key in visible if key in self._by_key and self.session.metrics_due(key, now)]
        # Backlogged queues first: their dequeue rate decides STALLED.
        due.sort(key=lambda key: -self._by_key[key].queued)
        for key in due[:METRICS_PER_POLL]:
            metrics = await self.session.client.queue_metrics(self._by_key[key], METRICS_PERIOD)
            expires = now + timedelta(milliseconds=max(10_000, metrics.bucket_interval_ms))
            self.session.metrics[key] = (expires, metrics)
        return bool(due)

    @on(FastTable.CursorMoved)
    def _view_moved(self) -> None:
        now = self.session.clock()
        top = round(self.table.scroll_y)
        visible = self.table.keys[top : top + max(1, self.table.size.height)]
        if any(self.session.metrics_due(key, now) for key in visible):
            self.nudge()

    # ----- rendering ------------------------------------------------------------------------------------

    @property
    def env_limit(self) -> int | None:
        env = self.session.environment
        return env.concurrency_limit if env is not None else None

    def render_rows(self) -> None:
        """Rebuild only the rows whose queue, metrics or environment limit changed, and move only those.

        With 10,000 queues arriving 100 at a time, re-sorting everything for every page would block the UI.
        """
        now = self.session.clock()
        env_limit = self.env_limit
        fresh_ms = 1000 * self.session.settings.thresholds.dequeued_seconds
        name, sort_key = SORTS[self._sort]
        if self._ordered_by != (self._sort, fresh_ms):
            self._ordered, self._ordered_by, self._rows = OrderedRows(), (self._sort, fresh_ms), {}
        ordered, known_views, metrics_of = self._ordered, self._rows, self.session.cached_metrics
        problems = 0
        for key, queue in self._by_key.items():
            metrics = metrics_of(key, now)
            known = known_views.get(key)
            # Every refresh parses new Queue objects: equal ones keep their row.
            if known is None or not (
                (known[0] is queue or known[0] == queue) and known[2] is metrics and known[3] == env_limit
            ):
                health = queue_health(queue, metrics, env_limit, fresh_ms)
                known = known_views[key] = (queue, health, metrics, env_limit)
                ordered.put(sort_key((queue, health, metrics)), self._row(queue, health, metrics, env_limit))
            problems += known[1] in PROBLEMS
        if len(ordered) != len(self._by_key):
            for gone in ordered.keys() - self._by_key.keys():
                ordered.remove(gone)
                known_views.pop(gone, None)
        self._problems = problems
        column, descending = SORT_COLUMNS[name]
        self.table.set_sort(column, descending=descending != self._reverse)
        self.table.set_rows(ordered.rows(reverse=self._reverse))
        if self._pending_select is not None and self.select_queue(self._pending_select):
            self._pending_select = None
        self.update_bars()

    def _row(self, queue: Queue, health: QueueHealth, metrics: QueueMetrics | None, env_limit: int | None) -> Row:
        limit = effective_limit(queue, env_limit)
        running = f"{queue.running}/{limit if limit is not None else '∞'}{'*' if queue.overridden else ''}"
        at_cap = limit is not None and queue.running >= limit
        return Row(
            queue.stored_name,
            (
                Cell(health.value, HEALTH_TONE[health]),
                queue.name,
                queue.type.value,
                Cell(str(queue.queued), "warning" if queue.queued and health in PROBLEMS else ""),
                Cell(running, "warning" if at_cap else ""),
                Cell("PAUSED", "warning") if queue.paused else "",
                Cell(rate(metrics.started_per_min), "error" if queue.queued else "")
                if metrics is not None and metrics.started_count == 0
                else rate(metrics.started_per_min if metrics else None),
                millis(metrics.wait_p95_ms) if metrics is not None else "…",
                sparkline(metrics.depth_trend) if metrics is not None else "",
            ),
        )

    def summary(self) -> str:
        env: EnvironmentInfo | None = self.session.environment
        in_use = sum(queue.running for queue in self._queues)
        problems = self._problems
        parts = []
        if env is not None and env.concurrency_limit is not None:
            burst = f" ×{env.burst_factor:g} burst" if env.burst_factor != 1 else ""
            parts.append(f"env {in_use}/{env.concurrency_limit} in use{burst}")
        else:
            parts.append(f"env {in_use} in use")
        if self._loading is not None:
            page, pages = self._loading
            parts.append(f"{len(self._queues)} queues so far, page {page}/{pages}")
        else:
            parts.append(f"{len(self._queues)} queues")
        if problems:
            parts.append(f"{problems} need attention")
        sort = SORTS[self._sort][0] + (" ▲" if self._reverse else "")
        parts.append(f"sort: {sort}")
        return " · ".join(parts)  # the marks are counted by the pane header, once

    def warning(self) -> str:
        env = self.session.environment
        return "ENVIRONMENT PAUSED" if env is not None and env.paused else ""

    # ----- actions --------------------------------------------------------------------------------------

    def action_next_sort(self) -> None:
        self._sort = (self._sort + 1) % len(SORTS)
        self.render_rows()

    def action_reverse_sort(self) -> None:
        self._reverse = not self._reverse
        self.render_rows()

    def action_pause(self) -> None:
        """`p`: pause the queue under the cursor, or resume it."""
        queue, flows = self.selected_queue(), self.session.flows
        if queue is not None and flows is not None:
            flows.start(flows.toggle_pause(queue))

    def action_override(self) -> None:
        queue, flows = self.selected_queue(), self.session.flows
        if queue is not None and flows is not None:
            flows.start(flows.override(queue))

    def action_reset(self) -> None:
        queue, flows = self.selected_queue(), self.session.flows
        if queue is not None and flows is not None:
            flows.start(flows.reset(queue))

    def action_repair(self) -> None:
        """`R`: repair the marked queues, or every queue when none is marked (a dry run first)."""
        flows = self.session.flows
        if flows is not None:
            flows.start(flows.repair(self.marked_queues()))

    def selected_queue(self) -> Queue | None:
        key = self.table.cursor_key
        return self._by_key.get(key) if key is not None else None

    def marked_queues(self) -> list[Queue]:
        """The marked queues (`R` repairs these, or every queue when none is marked)."""
        return [queue for key, queue in self._by_key.items() if key in self.table.marked]

    def selected_value(self) -> str | None:
        queue = self.selected_queue()
        return queue.name if queue is not None else None

    def select_queue(self, name: str) -> bool:
        """`:queue NAME`: put the cursor on that queue, now or as soon as the queues have loaded."""
        if not self._queues:
            self._pending_select = name
            return True
        for queue in self._queues:
            if name in (queue.name, queue.stored_name):
                self.set_filter("")
                return self.table.move_to(queue.stored_name)
        return False

    @on(FastTable.Selected)
    def _open_runs(self, event: FastTable.Selected) -> None:
        queue = self._by_key.get(event.key)
        if queue is not None:
            self.post_message(OpenRuns((queue.name, queue.type), origin=self.PANE))
