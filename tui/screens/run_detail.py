"""Run detail: status, lifecycle, queue, deployment, live trace, payload, output and related runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import OptionList, Static, TabbedContent, TabPane, Tabs, Tree
from textual.widgets.option_list import Option

from tui.api.client import EngineClient
from tui.api.errors import ApiError, NotFound
from tui.config import Settings
from tui.model import Run, RunDetail, RunStatus, Span
from tui.model.span_log import is_log_record
from tui.model.text import clean, clean_multiline
from tui.screens.bar import bar_state, client_bar_state, covered_by_modal, refresh_top_bar
from tui.screens.run_detail_data import RunDetailData, reason
from tui.screens.session import PaneStatus, Session
from tui.widgets.footer import KeyFooter
from tui.widgets.format import duration
from tui.widgets.json_view import JsonView
from tui.widgets.run_summary import (
    QueueInfo,
    RunSummary,
    clock_time,
    status_style,
    summary_content,
    token_content,
)
from tui.widgets.topbar import TopBar, TopBarState
from tui.widgets.trace_tree import (
    SpanRow,
    TraceTree,
    deepest_open_span,
    hung_span,
    span_info_content,
)

if TYPE_CHECKING:  # the flows pull in every action screen: imported when a key is pressed
    from tui.screens.flows import ActionFlows

POLL_GROUP = "run-detail-poll"
SPAN_DETAIL_DEBOUNCE_SECONDS = 0.4
MAX_ERROR_CHARS = 20_000
_TAB_FOCUS = {
    "tab-trace": "#trace",
    "tab-payload": "#payload",
    "tab-output": "#output",
    "tab-metadata": "#metadata",
    "tab-related": "#related",
}


class RunDetailScreen(Screen[None]):
    """One run, refreshed in a single non-overlapping worker until it is final or the screen is hidden."""

    CSS_PATH = str(Path(__file__).parent.parent / "styles" / "run_detail.tcss")
    AUTO_FOCUS = "#trace"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="run_detail.back", tooltip="Return to where you were"),
        Binding("ctrl+r", "refresh_now", "Refresh", id="run_detail.refresh", tooltip="Refresh this run now"),
        Binding("left_square_bracket", "switch_tab(-1)", "Prev tab", id="run_detail.prev_tab"),
        Binding("right_square_bracket", "switch_tab(1)", "Next tab", id="run_detail.next_tab"),
        Binding("c", "cancel", "Cancel run", id="run_detail.cancel", tooltip="Cancel this run"),
        Binding("r", "complete", "Complete token", id="run_detail.complete", tooltip="Token of the wait span"),
        Binding("R", "replay", "Replay", id="run_detail.replay", tooltip="Replay this run as a new run"),
        Binding("d", "diagnose", "Diagnose", id="run_detail.diagnose", tooltip="Why is this run stuck? (the runbook)"),
        Binding("L", "log", "Log", id="run_detail.log", tooltip="Every log line and span event, in time order"),
    ]
    NEEDS_SESSION: ClassVar[frozenset[str]] = frozenset({"cancel", "complete", "replay", "diagnose"})
    """Keys that act through the console's session: hidden on a run detail shown without one."""

    def __init__(
        self,
        client: EngineClient,
        settings: Settings,
        run_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
        paused: Callable[[], bool] | None = None,
        session: Session | None = None,
    ) -> None:
        """`paused` tells whether the app's global polling switch (`P`) is off; ctrl+r still refreshes.

        `session` feeds the top bar (profile, environment, connection, access); without it the bar shows what
        the screen under this one says.
        """
        super().__init__()
        self._session = session
        self._freshness = PaneStatus()
        self._in_flight = False
        self._client = client
        self._settings = settings
        self._run_id = run_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._paused = paused or (lambda: False)
        self._wake = asyncio.Event()
        self._data = RunDetailData(client, run_id)
        self._related: list[str] = []
        self._related_key: tuple[tuple[str, str, str], ...] | None = None
        self._stale: str | None = None
        self._not_found = False
        self._last_ok: datetime | None = None
        self._suspended = False
        self._token_keys: tuple[bool, bool] | None = None
        """Whether `r` had a token, and `L` a trace, when the footer last asked (None: not loaded yet)."""
        self.polls = 0
        """How many refreshes have run (for tests and the benchmark)."""

    # public surface for the app shell and the action helpers
    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def detail(self) -> RunDetail | None:
        """The last run detail that loaded, or None."""
        return self._data.detail

    @property
    def selected_token_id(self) -> str | None:
        """The token of the `wait.forToken()` span under the trace cursor (for the complete-token action)."""
        trees = self.query("#trace").results(TraceTree)
        tree = next(trees, None)  # None before the screen has composed
        return tree.selected_token_id if tree is not None else None

    @property
    def polling(self) -> bool:
        return any(w.group == POLL_GROUP and w.is_running for w in self.workers)

    def refresh_now(self) -> None:
        """Poll now: wake the loop, or run one refresh when the loop has stopped (final run)."""
        if self.polling:
            self._wake.set()
        else:
            self._poll()

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(Content(f"Run {clean(self._run_id, 80)}"), id="title")
        yield Static(Content("loading…"), id="state-line")
        with VerticalScroll(id="summary-scroll"):
            yield RunSummary(Content(""), id="summary")
        with TabbedContent(id="tabs"):
            with TabPane("Trace", id="tab-trace"), Vertical():
                yield TraceTree(id="trace")
                yield Static(id="token-panel")
                yield Static(Content(""), id="span-info")
            with TabPane("Payload", id="tab-payload"):
                yield JsonView(id="payload")
            with TabPane("Output", id="tab-output"), Vertical():
                yield Static(id="run-error")
                yield JsonView(id="output")
            with TabPane("Metadata", id="tab-metadata"):
                yield JsonView(id="metadata")
            with TabPane("Related", id="tab-related"):
                yield OptionList(id="related")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#token-panel", Static).display = False
        self.query_one("#run-error", Static).display = False
        refresh_top_bar(self)
        self.set_interval(1.0, lambda: refresh_top_bar(self))
        self._poll()

    def bar_state(self) -> TopBarState:
        status = self._freshness
        stale = status.stale(self._settings.refresh_seconds, trying=self._in_flight)
        if self._session is not None:
            return bar_state(self._session, updated_at=status.updated_at, stale=stale, error=status.error)
        return client_bar_state(
            self._settings,
            self._client,
            self._clock(),
            polling_paused=self._paused(),
            updated_at=status.updated_at,
            stale=stale,
            error=status.error,
        )

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, POLL_GROUP)

    def on_screen_suspend(self) -> None:
        if covered_by_modal(self):
            return  # a dialog over the run (confirm, editor): keep it live
        self._suspended = True
        self.workers.cancel_group(self, POLL_GROUP)

    def on_screen_resume(self) -> None:
        if self._suspended:
            self._suspended = False
            self._poll()

    def action_back(self) -> None:
        self.dismiss()

    # recovery keys: the flows run in an app worker, so closing this screen does not cut one short
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "log":
            return True if self._data.trace is not None else None  # dimmed until the trace has loaded
        if action not in self.NEEDS_SESSION:
            return True
        if self._session is None:
            return False
        if action == "diagnose":
            return True
        if self.detail is None:
            return None  # shown dimmed until the run has loaded
        return True if action != "complete" or self.selected_token_id is not None else None

    def _keys_changed(self) -> None:
        """Redraw the footer when what the keys can act on changed (the run or trace loaded, a token span)."""
        state = None if self.detail is None else (self.selected_token_id is not None, self._data.trace is not None)
        if state != self._token_keys:
            self._token_keys = state
            self.refresh_bindings()

    def _flows(self) -> ActionFlows | None:
        return self._session.flows if self._session is not None else None

    def action_cancel(self) -> None:
        flows, detail = self._flows(), self.detail
        if flows is not None and detail is not None:
            flows.start(flows.cancel_runs([detail.run]))

    def action_replay(self) -> None:
        flows, detail = self._flows(), self.detail
        if flows is not None and detail is not None:
            flows.start(flows.replay(detail.run))

    def action_complete(self) -> None:
        """`r`: complete the token of the `wait.forToken()` span under the trace cursor."""
        flows, token = self._flows(), self.selected_token_id
        if flows is not None and token is not None:
            flows.start(flows.complete_token(token, self.run_id))

    def action_diagnose(self) -> None:
        from tui.screens.diagnosis import DiagnosisScreen

        if self._session is not None:
            self.app.push_screen(DiagnosisScreen(self._session, self.run_id))

    def action_refresh_now(self) -> None:
        self.refresh_now()

    def inspect(self, span_id: str) -> None:
        """The span inspector on a span (a log line opens the span it was written in)."""
        from tui.screens.span_inspector import SpanInspectorScreen

        if self._data.trace is not None:
            self.app.push_screen(SpanInspectorScreen(self._data, self._holder(span_id), clock=self._clock))

    def action_log(self) -> None:
        from tui.screens.run_log import RunLogScreen

        if self._data.trace is not None:
            self.app.push_screen(RunLogScreen(self._data, clock=self._clock))

    def _holder(self, span_id: str) -> str:
        """The span itself, or for a log record the span it was written in."""
        assert self._data.trace is not None
        for _, span in self._data.trace.root.walk():
            if any(child.id == span_id and is_log_record(child) for child in span.children):
                return span.id
        return span_id

    def action_switch_tab(self, step: int) -> None:
        tabs = self.query_one("#tabs", TabbedContent).query_one(Tabs)
        if step > 0:
            tabs.action_next_tab()
        else:
            tabs.action_previous_tab()

    # polling
    @work(exclusive=True, group=POLL_GROUP)
    async def _poll(self) -> None:
        asked = True  # the first load, and every ctrl+r, happens even while polling is paused
        while True:
            self._wake.clear()
            try:
                if asked or not self._paused():
                    self._in_flight = True
                    try:
                        await self._refresh_once()
                    finally:
                        self._in_flight = False
                    self.polls += 1
                else:
                    self._render_state()
            except ApiError as error:
                self._mark_stale(reason(error))
            except NoMatches:
                return  # the screen is being torn down under us (app exit): nothing left to draw
            if self._finished():
                self._render_state()
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.refresh_seconds):
                    await self._wake.wait()
            # Read after the wait, not from it: a ctrl+r that lands as the wait times out is not lost.
            asked = self._wake.is_set()

    def _finished(self) -> bool:
        """Stop polling once the run is final (after a clean refresh), or when it was never found."""
        if self._data.detail is None:
            return self._not_found
        return self._data.detail.run.terminal and self._stale is None

    async def _refresh_once(self) -> None:
        try:
            problems = await self._data.load()
        except NotFound:
            self._not_found = True
            self._mark_stale("run not found (404)")
            if self._data.detail is None:
                self._show_not_found()
            return
        self._not_found = False
        self._render_all()
        if problems:
            self._mark_stale(problems[0])
        else:
            self._last_ok = self._clock()
            self._freshness.succeeded(self._last_ok)
            self._stale = None
            self._render_state()

    # rendering
    def _render_all(self) -> None:
        detail = self._data.detail
        if detail is None:
            return
        now = self._clock()
        run = detail.run
        title = Content.assemble(
            ("Run ", "bold"),
            clean(run.id, 80),
            "  ",
            clean(run.task_identifier, 60),
            "  ",
            (run.status.value, status_style(run.status)),
        )
        self.query_one("#title", Static).update(title)
        hung = None
        if self._data.trace is not None:
            hung = hung_span(self._data.trace, self._data.span_details, now, self._settings.thresholds)
        queue = self._data.queue_info or QueueInfo(f"task/{run.task_identifier}", likely=run.queue is None)
        self.query_one("#summary", RunSummary).show(
            summary_content(
                detail,
                now,
                queue=queue,
                live_version=self._data.live_version,
                deployment_known=self._data.deployment_known,
                hung=hung if not run.terminal else None,
            )
        )
        tree = self.query_one("#trace", TraceTree)
        if self._data.trace is not None:
            first = tree.node_for(self._data.trace.root.id) is None
            executing = run.status is RunStatus.EXECUTING
            tree.show_trace(
                self._data.trace, self._data.span_details, now, self._settings.thresholds, executing=executing
            )
            if first:
                self._cursor_to_hung(tree)
        else:
            tree.show_message(self._data.trace_note)
        self._render_json(detail)
        self._render_related(detail)
        self._render_waits(detail)
        self._render_span_info()
        self._keys_changed()

    def _render_waits(self, detail: RunDetail) -> None:
        """What the run waits on (its open tokens) and the batch it belongs to; hidden when neither."""
        panel = self.query_one("#token-panel", Static)
        now = self._clock()
        parts: list[Content] = []
        for token_id in self._data.waited_tokens:
            token = self._data.tokens.get(token_id)
            failed = self._data.token_failures.get(token_id)
            if token is not None:
                parts.append(token_content(token, now))
            else:
                why = f"lookup failed ({failed})" if failed is not None else "loading…"
                parts.append(Content(f"Token {clean(token_id, 80)}: {why}"))
        if detail.batch_id:
            parts.append(
                Content.assemble(("Batch ", "bold"), clean(detail.batch_id, 80), ("  (triggered in it)", "$text-muted"))
            )
        panel.display = bool(parts)
        if parts:
            panel.update(Content("\n").join(parts))

    def _cursor_to_hung(self, tree: TraceTree) -> None:
        """On first load, put the cursor on the deepest open span: that is what the operator came for."""
        assert self._data.trace is not None
        span = deepest_open_span(self._data.trace)
        if span is not None:
            tree.move_to_span(span.id)

    def _render_json(self, detail: RunDetail) -> None:
        for name, view in (("payload", "#payload"), ("output", "#output"), ("metadata", "#metadata")):
            widget = self.query_one(view, JsonView)
            preview = self._data.previews.get(name)
            if preview is not None:
                widget.show(preview)
            else:
                widget.show_note(self._json_note(name, detail))
        error_widget = self.query_one("#run-error", Static)
        error = detail.error
        error_widget.display = error is not None
        if error is not None:
            head = f"{error.name}: {error.message}" if error.name else error.message
            body = head + ("\n" + error.stack_trace if error.stack_trace else "")
            error_widget.update(Content(clean_multiline(body[:MAX_ERROR_CHARS])))

    @staticmethod
    def _json_note(name: str, detail: RunDetail) -> str:
        if name == "payload":
            if detail.payload_presigned_url:
                return "The payload was offloaded to object storage; it is not fetched here."
            return "No payload."
        if name == "output":
            if detail.output_presigned_url:
                return "The output was offloaded to object storage; it is not fetched here."
            return "No output yet." if not detail.run.terminal else "No output."
        return "No metadata."

    def _render_related(self, detail: RunDetail) -> None:
        related = detail.related
        entries: list[tuple[str, Run]] = []
        parent, root = related.parent, related.root
        same = parent is not None and root is not None and root.id == parent.id
        if related.parent is not None:
            entries.append(("parent/root" if same else "parent", related.parent))
        if related.root is not None and not same:
            entries.append(("root", related.root))
        entries += [("child", child) for child in related.children]
        key = tuple((role, run.id, run.status.value) for role, run in entries)
        if key == self._related_key:
            return
        self._related_key = key
        self._related = [run.id for _, run in entries]
        options = self.query_one("#related", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if not entries:
            options.add_option(Option(Content("No parent, root or child runs."), disabled=True))
            return
        options.add_options(
            Option(
                Content.assemble(
                    (f"{role:<12}", "$text-muted"),
                    clean(run.id, 60),
                    "  ",
                    clean(run.task_identifier, 40),
                    "  ",
                    (run.status.value, status_style(run.status)),
                )
            )
            for role, run in entries
        )
        options.highlighted = highlighted if highlighted is not None and highlighted < len(entries) else 0

    def _show_not_found(self) -> None:
        self.query_one("#summary", RunSummary).show(
            Content.assemble(
                ("Run not found. ", "bold $error"),
                f"No run {clean(self._run_id, 80)} in this environment (404). "
                "Check the id and the profile; ctrl+r tries again.",
            )
        )
        self.query_one("#trace", TraceTree).show_message("no trace: run not found")

    def _mark_stale(self, reason: str) -> None:
        self._freshness.failed(reason)
        if reason != self._stale:
            self.notify(f"Run {clean(self._run_id, 60)}: {reason}", title="Run detail", severity="warning")
        self._stale = reason
        self._render_state()

    def _render_state(self) -> None:
        refresh_top_bar(self)
        line = self.query_one("#state-line", Static)
        now = self._clock()
        line.set_class(self._stale is not None, "-stale")
        if self._stale is not None:
            since = f", data from {duration(now - self._last_ok)} ago" if self._last_ok else ""
            if self._data.detail is None:
                word = "NO DATA"  # nothing on screen is old: there is nothing yet
            elif self._freshness.stale(self._settings.refresh_seconds):
                word = "STALE"
            else:
                word = "REFRESH FAILED"  # STALE only once three refreshes' worth of time has gone by
            line.update(Content.assemble((word, "bold"), f": {self._stale}{since}  (ctrl+r retries)"))
        elif self._data.detail is not None and self._data.detail.run.terminal:
            line.update(Content(f"FINAL: polling stopped, loaded {clock_time(now)}  (ctrl+r reloads)"))
        elif self._paused():
            line.update(Content("⏸ PAUSED: polling is paused (P resumes, ctrl+r refreshes once)"))
        else:
            every = duration(self._settings.refresh_seconds)
            line.update(Content(f"● LIVE: refreshing every {every}, updated {clock_time(now)}"))

    # interaction
    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Keys go to what the tab shows, so enter and arrows work straight away."""
        target = _TAB_FOCUS.get(event.pane.id or "")
        if target is not None and not isinstance(self.focused, Tabs):
            self.query_one(target).focus()

    @on(Tree.NodeHighlighted, "#trace")
    def _span_highlighted(self) -> None:
        self._keys_changed()
        span = self._render_span_info()
        if span is not None and self._data.wants_detail(span.id):
            self._fetch_span_detail(span.id)

    def _render_span_info(self) -> Span | None:
        """Describe the span under the cursor; returns it."""
        info = self.query_one("#span-info", Static)
        node = self.query_one("#trace", TraceTree).cursor_node
        span = self._find_span(node.data.span_id) if node is not None and node.data is not None else None
        if span is None or self._data.trace is None:
            info.update(Content(""))
            return None
        detail = self._data.span_details.get(span.id)
        info.update(span_info_content(span, detail, self._data.trace.root.start_time))
        return span

    @work(exclusive=True, group="run-detail-span")
    async def _fetch_span_detail(self, span_id: str) -> None:
        """Attributes of the span the cursor rests on (debounced, so arrowing through a trace stays cheap)."""
        await asyncio.sleep(SPAN_DETAIL_DEBOUNCE_SECONDS)
        try:
            await self._data.fetch_span_detail(span_id)
        except ApiError as error:
            if self.is_attached:
                message = f"span {clean(span_id, 40)}: {reason(error)}"
                self.query_one("#span-info", Static).update(Content(message))
            return
        if self.is_attached:  # the answer can come after the screen was closed
            try:
                self._render_all()
            except NoMatches:
                return  # the screen is closing: its widgets went before it did

    @on(Tree.NodeSelected, "#trace")
    def _span_selected(self, event: Tree.NodeSelected[SpanRow]) -> None:
        """`enter` on a span (the tree's own key): open it in the inspector."""
        if event.node.data is not None:
            self.inspect(event.node.data.span_id)

    @on(OptionList.OptionSelected, "#related")
    def _related_selected(self, event: OptionList.OptionSelected) -> None:
        if 0 <= event.option_index < len(self._related):
            run_id = self._related[event.option_index]
            self.app.push_screen(
                RunDetailScreen(
                    self._client, self._settings, run_id, clock=self._clock, paused=self._paused, session=self._session
                )
            )

    def _find_span(self, span_id: str) -> Span | None:
        if self._data.trace is None:
            return None
        return next((span for _, span in self._data.trace.root.walk() if span.id == span_id), None)
