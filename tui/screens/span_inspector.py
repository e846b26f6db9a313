"""The span inspector: one span of a run's trace in full, and `[` / `]` to the span before or after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from tui.api.errors import ApiError
from tui.model.span_log import span_lines, spans_in_order
from tui.model.text import clean
from tui.model.trace import Span
from tui.screens.bar import refresh_top_bar
from tui.screens.run_detail_data import RunDetailData, reason
from tui.widgets.footer import KeyFooter
from tui.widgets.span_view import (
    ai_content,
    attributes_content,
    entity_content,
    error_content,
    header_content,
    io_content,
    log_content,
    triggered_content,
)
from tui.widgets.topbar import TopBar
from tui.widgets.trace_tree import token_id_for

FETCH_GROUP = "span-inspector-fetch"


class SpanInspectorScreen(Screen[None]):
    """Attributes, entity, input/output, error and log lines of one span; details are fetched once and cached."""

    DEFAULT_CSS = """
    SpanInspectorScreen #inspector-title { padding: 0 1; background: $panel; }
    SpanInspectorScreen #inspector-error { padding: 0 1; color: $error; text-style: bold; }
    SpanInspectorScreen #inspector-body { height: 1fr; padding: 0 1; }
    """
    AUTO_FOCUS = "#inspector-body"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="span_inspector.back", tooltip="Back to the run"),
        Binding("left_square_bracket", "step(-1)", "Prev span", id="span_inspector.prev", tooltip="Span before"),
        Binding("right_square_bracket", "step(1)", "Next span", id="span_inspector.next", tooltip="Span after"),
        Binding("ctrl+r", "reload", "Reload", id="span_inspector.reload", tooltip="Fetch this span's detail again"),
    ]

    def __init__(self, data: RunDetailData, span_id: str, *, clock: Callable[[], datetime]) -> None:
        """`data` is the run detail's cache: details fetched here are there for the run and its log too."""
        super().__init__()
        self._data = data
        self._clock = clock
        self._spans: list[Span] = spans_in_order(data.trace) if data.trace is not None else []
        self._index = next((i for i, span in enumerate(self._spans) if span.id == span_id), 0)
        self._failed: dict[str, str] = {}

    @property
    def span(self) -> Span | None:
        """The span shown now."""
        return self._spans[self._index] if self._spans else None

    @property
    def error_line(self) -> str:
        """The one-line fetch error shown now ("" when none)."""
        span = self.span
        return "" if span is None else self._failed.get(span.id, "")

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(Content(""), id="inspector-title")
        yield Static(Content(""), id="inspector-error")
        with VerticalScroll(id="inspector-body"):
            yield Static(Content("loading…"), id="inspector-content")
        yield KeyFooter()

    def on_mount(self) -> None:
        refresh_top_bar(self)
        self.set_interval(1.0, lambda: refresh_top_bar(self))
        self._show()

    def action_back(self) -> None:
        self.dismiss()

    def action_step(self, delta: int) -> None:
        index = self._index + delta
        if not 0 <= index < len(self._spans):
            self.notify("first span of the trace" if delta < 0 else "last span of the trace", timeout=2)
            return
        self._index = index
        self.query_one("#inspector-body", VerticalScroll).scroll_home(animate=False)
        self._show()

    def action_reload(self) -> None:
        span = self.span
        if span is not None:
            self._data.forget(span.id)
            self._failed.pop(span.id, None)
            self._show()

    def _show(self) -> None:
        """Draw the span now from what is known, and fetch its detail when it is not cached yet."""
        self._draw()
        span = self.span
        if span is not None and self._data.wants_detail(span.id) and span.id not in self._failed:
            self._fetch(span.id)

    @work(exclusive=True, group=FETCH_GROUP)
    async def _fetch(self, span_id: str) -> None:
        try:
            await self._data.fetch_span_detail(span_id)
        except ApiError as error:
            self._failed[span_id] = reason(error)
        span = self.span
        if span is not None and span.id == span_id:
            self._draw()

    def _draw(self) -> None:
        title = self.query_one("#inspector-title", Static)
        body = self.query_one("#inspector-content", Static)
        error = self.query_one("#inspector-error", Static)
        span, trace = self.span, self._data.trace
        if span is None or trace is None:
            title.update(Content.assemble(("Span inspector", "bold"), f"  run {clean(self._data.run_id, 60)}"))
            body.update(Content("No trace loaded for this run yet."))
            error.display = False
            return
        title.update(
            Content.assemble(
                ("Span ", "bold"),
                f"{self._index + 1} of {len(self._spans)}",
                ("  in the trace of run ", "$text-muted"),
                clean(self._data.run_id, 60),
            )
        )
        failed = self._failed.get(span.id)
        error.display = failed is not None
        if failed is not None:
            error.update(Content(f"span detail failed: {failed} (ctrl+r retries)"))
        body.update(self._content(span, failed))

    def _content(self, span: Span, failed: str | None) -> Content:
        data, now = self._data, self._clock()
        assert data.trace is not None
        detail = data.span_details.get(span.id)
        token_id = token_id_for(span, detail)
        token = data.tokens.get(token_id) if token_id is not None else None
        lines = span_lines(span, detail)
        sections = [
            header_content(span, detail, data.trace.root.start_time, now),
            entity_content(span, detail, token, now),
            io_content(span, detail),
            error_content(span, detail),
            Content.assemble((f"Log ({len(lines)})", "bold"), "\n", log_content(lines)),
            Content.assemble(
                ("Attributes", "bold"),
                "\n",
                attributes_content(span, detail, missing=data.is_missing(span.id), failed=failed),
            ),
            triggered_content(detail),
            ai_content(detail),
        ]
        return Content("\n\n").join(section for section in sections if section is not None)
