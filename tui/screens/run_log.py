"""The run's log: every log record and span event of its trace in time order, by level, searchable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static

from tui.model.span_log import LEVEL_FILTERS, LogLine, keep_levels, run_log, spans_in_order
from tui.model.text import clean
from tui.model.trace import Span
from tui.screens.bar import refresh_top_bar
from tui.screens.run_detail_data import RunDetailData
from tui.screens.span_inspector import SpanInspectorScreen
from tui.widgets.footer import KeyFooter
from tui.widgets.run_summary import clock_time
from tui.widgets.table import Cell, Column, FastTable, Row
from tui.widgets.topbar import TopBar

LOG_SPAN_FETCHES = 40
"""Span details read for one log (a few at a time): a larger trace shows the rest from the trace's own events."""
COLUMNS = (
    Column("time", "TIME", 15),
    Column("level", "LEVEL", 5),
    Column("span", "SPAN", 18, priority=1, flex=1, max_width=32),
    Column("message", "MESSAGE", 30, flex=3),
)
TONES = ("error", "warning", "", "muted")


def _first_to_read(spans: list[Span]) -> list[str]:
    """Errored and event-bearing spans first, then open ones, then the rest, each in trace order."""
    return [s.id for s in sorted(spans, key=lambda s: (not s.is_error, not s.events, not s.is_partial))]


class RunLogScreen(Screen[None]):
    """A table of the run's log lines; `enter` opens the span a line came from in the inspector."""

    DEFAULT_CSS = """
    RunLogScreen #log-title { padding: 0 1; background: $panel; }
    RunLogScreen #log-note { padding: 0 1; color: $text-muted; }
    RunLogScreen #log-search-line { height: 1; display: none; }
    RunLogScreen #log-search-line > Static { width: auto; padding: 0 1; }
    RunLogScreen #log-search { border: none; height: 1; padding: 0; width: 1fr; }
    """
    AUTO_FOCUS = "#log"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="run_log.back", tooltip="Clear the search, or back to the run"),
        Binding("l", "next_level", "Level", id="run_log.level", tooltip="Everything, info, warnings, errors only"),
        Binding("slash", "search", "Search", id="run_log.search", tooltip="Show only lines with this text"),
        Binding("ctrl+r", "reload", "Reload", id="run_log.reload", tooltip="Read the span details again"),
    ]

    def __init__(self, data: RunDetailData, *, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self._data = data
        self._clock = clock
        self._worst = len(LEVEL_FILTERS) - 1
        self._lines: list[LogLine] = []
        self._note = ""

    @property
    def lines(self) -> list[LogLine]:
        """The lines shown now, level filter applied (the text search is the table's)."""
        return keep_levels(self._lines, self._worst)

    @property
    def table(self) -> FastTable:
        return self.query_one("#log", FastTable)

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(Content(""), id="log-title")
        yield Static(Content(""), id="log-note")
        yield FastTable(COLUMNS, empty_message="nothing logged at this level", id="log")
        with Horizontal(id="log-search-line"):
            yield Static("/")
            yield Input(placeholder="text to find", id="log-search")
        yield KeyFooter()

    def on_mount(self) -> None:
        refresh_top_bar(self)
        self.set_interval(1.0, lambda: refresh_top_bar(self))
        self._draw()
        self._gather()

    def action_back(self) -> None:
        line = self.query_one("#log-search-line")
        if line.display:
            self.query_one("#log-search", Input).value = ""
            self.table.set_filter("")
            line.display = False
            self.table.focus()
            self._render_title()
            return
        self.dismiss()

    def action_next_level(self) -> None:
        self._worst = (self._worst - 1) % len(LEVEL_FILTERS)
        self._draw()

    def action_search(self) -> None:
        self.query_one("#log-search-line").display = True
        field = self.query_one("#log-search", Input)
        field.value = self.table.filter
        field.focus()

    def action_reload(self) -> None:
        for span_id in list(self._data.span_details):
            self._data.forget(span_id)
        self._gather()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self._render_title()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    @on(FastTable.Selected)
    def _open_span(self, event: FastTable.Selected) -> None:
        line = next((line for line in self._lines if line.key == event.key), None)
        if line is not None:
            self.app.push_screen(SpanInspectorScreen(self._data, line.span_id, clock=self._clock))

    @work(exclusive=True, group="run-log-gather")
    async def _gather(self) -> None:
        trace = self._data.trace
        if trace is None:
            return
        spans = spans_in_order(trace)
        self._note = f"reading the details of up to {min(len(spans), LOG_SPAN_FETCHES)} spans…"
        self._draw()
        left, failures = await self._data.gather_details(_first_to_read(spans), LOG_SPAN_FETCHES)
        notes = []
        if left:
            notes.append(
                f"{left} of {len(spans)} spans not read in detail (a log reads at most {LOG_SPAN_FETCHES}): "
                "their events are the trace's own"
            )
        if failures:
            notes.append(f"{len(failures)} span details failed ({failures[0]}; ctrl+r retries)")
        if trace.truncated:
            notes.append("the server truncated the trace: its latest spans are missing")
        self._note = "; ".join(notes)
        self._draw()

    def _draw(self) -> None:
        trace = self._data.trace
        self._lines = run_log(trace, self._data.span_details) if trace is not None else []
        rows = [
            Row(
                line.key,
                (
                    clock_time(line.time),
                    Cell(clean(line.level, 5), TONES[line.rank]),
                    clean(line.span_message, 60),
                    clean(line.message, 400),
                ),
            )
            for line in self.lines
        ]
        self.table.set_rows(rows)
        self._render_title()

    def _render_title(self) -> None:
        shown, total = self.table.row_count, len(self._lines)
        search = self.table.filter
        parts: list[str | tuple[str, str]] = [
            ("Log ", "bold"),
            f"of run {clean(self._data.run_id, 60)}: {shown} of {total} lines",
            ("  level ", "$text-muted"),
            LEVEL_FILTERS[self._worst],
        ]
        if search:
            parts += [("  matching ", "$text-muted"), clean(search, 40)]
        if self._data.trace is None:
            parts.append(("  (no trace loaded yet)", "$warning"))
        self.query_one("#log-title", Static).update(Content.assemble(*parts))
        self.query_one("#log-note", Static).update(Content(self._note))
