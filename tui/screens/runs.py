"""Pane 2, runs: active runs, stuck ones first; pages read within the request budget."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from heapq import heapify, heappop, heappush
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widget import Widget

# The search is a RunFilter from the start: the pane is built on first show, after the first frame.
from tui.actions.inputs import RunFilter
from tui.actions.search import DEFAULT_SEARCH, run_search, search_words, window_words
from tui.diagnosis.stuck import State, assess
from tui.model import (
    ACTIVE_STATUSES,
    Page,
    QueueType,
    Run,
    RunStatus,
)
from tui.model.search import TERMS, period_seconds
from tui.model.text import clean
from tui.screens.messages import OpenRun
from tui.screens.pane import PaneScreen
from tui.screens.session import Session, TriageResult
from tui.widgets.format import seconds_until_change, short_duration
from tui.widgets.ordered_rows import OrderedRows
from tui.widgets.search_bar import SearchBar
from tui.widgets.table import Cell, Column, FastTable, Row

PAGE_SIZE = 100
FILL_PAGES = 3
"""Pages read at most for one segment while they come back short with `next` set (API.md §4.2)."""
TRIAGE_EVERY_SECONDS = 60.0
"""While runs look overdue, the pane asks for a triage this often: it decides which of them are really stuck."""
OLDER_PAGES_EVERY = 5
"""Full ticks between re-reads of one older page (round robin): the rest is polled at a slower cadence."""

STATUS_SETS: tuple[tuple[str, tuple[RunStatus, ...]], ...] = (
    ("active", ACTIVE_STATUSES),
    ("dequeued+executing", (RunStatus.DEQUEUED, RunStatus.EXECUTING)),
    (
        "failed",
        (
            RunStatus.FAILED,
            RunStatus.CRASHED,
            RunStatus.SYSTEM_FAILURE,
            RunStatus.TIMED_OUT,
            RunStatus.EXPIRED,
        ),
    ),
    ("all", ()),
)
WINDOWS: tuple[str | None, ...] = (None, "1h", "24h", "30d")
STATUS_TONE = {
    RunStatus.EXECUTING: "accent",
    RunStatus.DEQUEUED: "accent",
    RunStatus.WAITING: "muted",
    RunStatus.QUEUED: "",
    RunStatus.COMPLETED: "success",
    RunStatus.FAILED: "error",
    RunStatus.CRASHED: "error",
    RunStatus.SYSTEM_FAILURE: "error",
    RunStatus.TIMED_OUT: "error",
}

STUCK_FLAG, SLOW_FLAG = Cell("STUCK", "error"), Cell("slow", "warning")
STATUS_CELLS = {status: Cell(status.value, STATUS_TONE.get(status, "muted")) for status in RunStatus}
STUCK_STATUS = {status: Cell(status.value, "error") for status in RunStatus}
"""The cells every row shares, built once: a refresh builds only each changed row's age."""


@dataclass(slots=True)
class _RowEntry:
    """A run's row and what it was built from; reused until the run changes or `valid_until` passes."""

    run: Run
    row: Row
    stuck: bool
    order: tuple[bool, float, float, int]
    valid_until: float
    """When the verdict is judged again: its window crossing, or for a run judged by its trace its age's next minute
    (the trace's story ages); infinite when only a change to the run or a new triage can change it."""
    scope: str | None
    basis: TriageResult | None
    """The triage whose context judged the run (a new triage re-judges it when it may judge it differently)."""


AGE_COLUMN = 4
"""Where `_row_for` puts the time in status: a live age the table draws by the clock, so it ticks on its own."""


def _same_row(old: Row, new: Row) -> bool:
    """Whether `new` draws as `old` does: their live ages count from the same moment (only the text each was built
    with may differ)."""
    a, b = old.cells, new.cells
    age_a, age_b = a[AGE_COLUMN], b[AGE_COLUMN]
    return (
        a[:AGE_COLUMN] == b[:AGE_COLUMN]
        and a[AGE_COLUMN + 1 :] == b[AGE_COLUMN + 1 :]
        and isinstance(age_a, Cell)
        and isinstance(age_b, Cell)
        and (age_a.since, age_a.tone) == (age_b.since, age_b.tone)
        and old.tone == new.tone
    )


def _same(old: Run, new: Run) -> bool:
    """Whether a re-read run shows the same row: every full poll parses new objects for the same runs."""
    return old is new or (
        old.status is new.status
        and old.updated_at == new.updated_at
        and old.version == new.version
        and old.tags == new.tags
        and old.queue == new.queue
    )


@dataclass
class _Segment:
    """One page of the listing, re-read as a unit so runs that left it disappear."""

    after: str | None
    ids: list[str] = field(default_factory=list)
    next: str | None = None
    page: Page[Run] | None = None
    """The answer last stored: the same answer again (the client hands back what it read before) moves nothing."""


class RunsScreen(PaneScreen):
    """Runs, newest first, stuck runs first of all, as the server-side search lists them (`:task`, `:tag`, …);
    `f` and `w` switch its status set and time window."""

    PANE = "runs"
    MARKS = True
    EMPTY = "No runs match (f: statuses, w: window)"
    # The API never says which queue a run is in (API.md §4.1): only a list scoped to a queue shows it, so the
    # column is there only then, instead of a column of dashes.
    SCOPED_COLUMNS = (
        Column("flag", "", 5),
        Column("id", "Run", 14, flex=3, max_width=32, cut_middle=True),
        Column("task", "Task", 12, flex=3, max_width=40),
        Column("status", "Status", 9),
        Column("age", "In status", 9, align="right"),
        Column("queue", "Queue", 12, priority=3, flex=1, max_width=30),
        Column("version", "Version", 10, priority=2),
        Column("tags", "Tags", 10, priority=4, flex=2),
    )
    COLUMNS = tuple(c for c in SCOPED_COLUMNS if c.key != "queue")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "next_statuses", "Statuses", id="runs.statuses"),
        Binding("w", "next_window", "Window", id="runs.window"),
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark/unmark the run for c"),
        Binding("c", "cancel", "Cancel run", id="runs.cancel", tooltip="Cancel marked runs, or this"),
        Binding("d", "diagnose", "Diagnose", id="runs.diagnose", tooltip="Why is this run stuck? (the runbook, live)"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.table.clock = lambda: session.clock().timestamp()
        self.search: RunFilter = DEFAULT_SEARCH
        """The server-side search (without the queue scope): every page is listed with it."""
        self._scope: tuple[str, QueueType] | None = None
        self._runs: dict[str, Run] = {}
        self._head: _Segment | None = None
        self._stuck: _Segment | None = None
        self._more: list[_Segment] = []
        self._want_more = False
        self._ticks = 0
        self._rows: dict[str, _RowEntry] = {}
        self._ordered = OrderedRows()
        """Every run's row in display order, kept as rows change."""
        self._stuck_count = 0
        self._seq: dict[str, int] = {}
        self._listed = 0
        self._dirty: set[str] = set()
        """Runs stored since the last render whose row may differ (new, or changed as `_same` sees it)."""
        self._unchecked: set[str] = set()
        """Runs stored since `_ask_for_triage` last looked whether any is overdue (new, or changed)."""
        self._calm_until = -math.inf
        """Until when no run looked at is overdue by age alone (the earliest window crossing among them)."""
        self._held: dict[str, int] = {}
        """How many segments list each run: a run none lists is let go."""
        self._leaving: set[str] = set()
        """Runs a segment stopped listing since the last prune (let go unless another segment lists them)."""
        self._expiry: list[tuple[float, str]] = []
        """A heap of (valid_until, run id): when a row's verdict is due to be judged again."""
        self.search_bar = SearchBar(id="search-bar")
        self._basis: tuple[str | None, TriageResult | None] = (None, None)
        """The scope and triage the rows were judged with: a new one re-judges what it may judge differently."""

    def compose(self) -> Iterator[Widget]:
        for widget in super().compose():
            if widget is self.table:
                yield self.search_bar
            yield widget

    def reset(self) -> None:
        self._runs, self._head, self._stuck, self._more, self._rows = {}, None, None, [], {}
        self._ordered, self._stuck_count, self._seq = OrderedRows(), 0, {}
        self._dirty, self._expiry, self._basis = set(), [], (None, None)
        self._unchecked, self._calm_until = set(), -math.inf
        self._held, self._leaving = {}, set()
        self.table.set_rows([])

    def on_screen_resume(self) -> None:
        if self.session.run_queue != self._scope:
            self._scope = self.session.run_queue
            self.reset()
            self.table.set_columns(self.SCOPED_COLUMNS if self._scope else self.COLUMNS)
            self._last_full = 0.0
        super().on_screen_resume()

    # ----- data -----------------------------------------------------------------------------------------

    @property
    def statuses(self) -> tuple[RunStatus, ...]:
        return self.search.statuses

    @property
    def window(self) -> str | None:
        return self.search.period

    @property
    def status_label(self) -> str:
        """`active`, `failed`, … for the sets `f` cycles through, else the statuses themselves."""
        named = next((label for label, statuses in STATUS_SETS if statuses == self.statuses), None)
        return named or ",".join(s.value for s in self.statuses)

    @property
    def stuck_statuses(self) -> tuple[RunStatus, ...]:
        wanted = self.statuses or tuple(RunStatus)
        # QUEUED runs come with the newest pages; asked for by age they would crowd out the rare hung ones.
        return tuple(s for s in (RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING) if s in wanted)

    async def _page(
        self,
        after: str | None = None,
        *,
        statuses: tuple[RunStatus, ...] | None = None,
        created_to: datetime | None = None,
    ) -> Page[Run]:
        args = self.search.list_args()
        args["queue"] = self._scope
        if statuses is not None:
            args["statuses"] = statuses
        if created_to is not None:
            # The stuck query asks by age instead of the default window (a run stuck for 8 days is still
            # stuck), within the time the search names, if it names one.
            search = self.search
            args["period"] = None
            args["created_to"] = min(created_to, search.created_to) if search.created_to else created_to
            if search.period:
                args["created_from"] = self.session.clock() - timedelta(seconds=period_seconds(search.period))
            start, end = args.get("created_from"), args["created_to"]
            if start is not None and end is not None and start >= end:
                return Page(items=())  # the search's runs are all younger than the shortest stuck window
        return await self.session.client.list_runs(
            **args,
            page_size=PAGE_SIZE,
            after=after,
            # A short page is not the end of the list (it is re-filtered after paging): the stuck scan and the
            # newest runs keep reading a few pages rather than stopping at an empty one.
            fill=FILL_PAGES,
        )

    def _store(self, segment: _Segment, page: Page[Run]) -> _Segment:
        if page == segment.page:
            return segment
        segment.page = page
        ids = [run.id for run in page.items]
        self._hold(segment.ids, ids)
        segment.ids = ids
        segment.next = page.next
        for run in page.items:
            known = self._runs.get(run.id)
            if known is None:
                # Ties in the order go to the order the runs were first listed in, as the endpoint gave them.
                self._listed += 1
                self._seq[run.id] = self._listed
            if known is None or run.updated_at >= known.updated_at:
                self.take(run)
        return segment

    def take(self, run: Run) -> None:
        """Hold `run` as the latest read of it; its row is rebuilt on the next render if it shows differently."""
        known = self._runs.get(run.id)
        self._runs[run.id] = run
        if known is None or not _same(known, run):
            self._dirty.add(run.id)
            self._unchecked.add(run.id)

    async def poll(self, *, full: bool) -> None:
        changed = False
        if full or self._head is None:
            self._ticks += 1
            self._head = self._store(self._head or _Segment(None), await self._page())
            if self.stuck_statuses:
                th = self.session.settings.thresholds
                shortest = min(th.dequeued_seconds, th.executing_seconds, th.waitpoint_seconds)
                created_to = self.session.clock() - timedelta(seconds=shortest)
                page = await self._page(statuses=self.stuck_statuses, created_to=created_to)
                self._stuck = self._store(self._stuck or _Segment(None), page)
            elif self._stuck is not None:
                self._hold(self._stuck.ids, [])
                self._stuck = None
            if self._more and self._ticks % OLDER_PAGES_EVERY == 0:
                segment = self._more[(self._ticks // OLDER_PAGES_EVERY) % len(self._more)]
                self._store(segment, await self._page(segment.after))
            changed = True
        if self._want_more:
            self._want_more = False
            last = self._more[-1] if self._more else self._head
            if last is not None and last.next is not None:
                self._more.append(self._store(_Segment(last.next), await self._page(last.next)))
                changed = True
        if changed:
            self._prune()
            self.render_rows()
            self._ask_for_triage()

    def _ask_for_triage(self) -> None:
        """Runs past their window by age alone: a triage (shared with the triage pane) says which are stuck."""
        triaged = self.session.triaged
        if triaged is not None and time.monotonic() - triaged.finished < TRIAGE_EVERY_SECONDS:
            return
        now = self.session.clock()
        now_ts = now.timestamp()
        th = self.session.settings.thresholds
        # Only the runs stored since the last look, while none of the others can have crossed its window yet: a
        # healthy pane of 10,000 runs is not judged again on every poll.
        calm = self._calm_until > now_ts
        ids = self._unchecked if calm else self._runs.keys()
        earliest = self._calm_until if calm else math.inf
        self._unchecked = set()
        for run_id in ids:
            run = self._runs.get(run_id)
            if run is None:
                continue
            verdict = assess(run, now, th)
            if verdict.state is not State.OK:
                self._calm_until = -math.inf  # look at every run again next time
                self.run_worker(self._triage(), group="runs-triage", exclusive=True, exit_on_error=False)
                return
            if verdict.window is not None:
                earliest = min(earliest, now_ts + (verdict.window - verdict.age).total_seconds())
        self._calm_until = earliest

    async def _triage(self) -> None:
        await self.session.triage(max_age=TRIAGE_EVERY_SECONDS)
        self.render_rows()

    def _hold(self, before: list[str], after: list[str]) -> None:
        """A segment now lists `after` instead of `before`: count which segments list each run."""
        held = self._held
        for run_id in after:
            held[run_id] = held.get(run_id, 0) + 1
        for run_id in before:
            count = held.get(run_id, 0) - 1
            if count > 0:
                held[run_id] = count
            else:
                held.pop(run_id, None)
                self._leaving.add(run_id)

    def _prune(self) -> None:
        """Let go of the runs no segment lists any more (counted as segments change, not by a walk of them all)."""
        leaving, self._leaving = self._leaving, set()
        for run_id in leaving:
            if run_id in self._held or run_id not in self._runs:
                continue
            del self._runs[run_id]
            self._seq.pop(run_id, None)
            entry = self._rows.pop(run_id, None)
            if entry is not None:
                self._ordered.remove(run_id)
                self._stuck_count -= entry.stuck

    @on(FastTable.NearEnd)
    def _load_more(self) -> None:
        last = self._more[-1] if self._more else self._head
        if last is not None and last.next is not None:
            self._want_more = True
            self.nudge()

    # ----- rendering ------------------------------------------------------------------------------------

    def render_rows(self) -> None:
        """Rows for the loaded runs; a run is judged again only when it changed, its verdict is due (the expiry
        heap says which) or a new triage may judge it differently, and only rows that read differently move: 500
        changed runs of 10,000 cost 500 verdicts and binary-search inserts, not a walk or a sort of all 10,000.
        Ages are live cells: the table counts them on screen without a new row."""
        now = self.session.clock()
        now_ts = now.timestamp()
        scope_name = self._scope[0] if self._scope else None
        triaged = self.session.triaged
        ordered, known, runs, expiry = self._ordered, self._rows, self._runs, self._expiry
        due = self._dirty
        if self._basis[0] != scope_name or self._basis[1] is not triaged:
            due = self._rejudged(triaged, scope_name)
            self._basis = (scope_name, triaged)
        while expiry and expiry[0][0] <= now_ts:
            due.add(heappop(expiry)[1])
        self._dirty = set()
        rebuilt: dict[str, Row] | None = {}
        for run_id in due:
            run = runs.get(run_id)
            if run is None:
                continue  # pruned since
            entry = known.get(run_id)
            current = (
                entry is not None and entry.basis is triaged and entry.scope == scope_name and _same(entry.run, run)
            )
            if entry is not None and current and now_ts < entry.valid_until:
                continue  # a stale expiry: the row was rebuilt since
            fresh = self._row_for(run, now, now_ts, scope_name)
            if fresh.valid_until != math.inf:
                heappush(expiry, (fresh.valid_until, run_id))
            if entry is not None and _same_row(entry.row, fresh.row):
                # The verdict holds and the age ticks by itself: the row, its place and the table stay as they are.
                fresh.row = entry.row
                known[run_id] = fresh
                continue
            known[run_id] = fresh
            if entry is None:
                rebuilt = None  # a new row: the table compares them all
            elif rebuilt is not None:
                rebuilt[run_id] = fresh.row
            # Stuck first (longest in status first), then newest first, as the list endpoint orders them.
            ordered.put(fresh.order, fresh.row)
            self._stuck_count += fresh.stuck - (entry.stuck if entry is not None else False)
        if len(expiry) > 4 * len(known) + 64:
            # Rebuilt rows leave their old due times behind: drop them now and then.
            self._expiry = [(e.valid_until, run_id) for run_id, e in known.items() if e.valid_until != math.inf]
            heapify(self._expiry)
        if len(ordered) != len(runs):
            for gone in ordered.keys() - runs.keys():
                ordered.remove(gone)
                left = known.pop(gone, None)
                self._stuck_count -= left.stuck if left is not None else False
            rebuilt = None
        self.table.set_rows(ordered.rows(), rebuilt, ordered.row_keys())
        self.rows_updated()

    def _rejudged(self, triaged: TriageResult | None, scope: str | None) -> set[str]:
        """The runs to judge again under a new triage or scope: those the new scene may judge differently (the
        rest keep their rows, now on the new triage's basis), or all of them."""
        before_scope, before = self._basis
        runs, known = self._runs, self._rows
        if before_scope != scope or before is None or triaged is None:
            return set(runs)
        changed = triaged.scene.changed_from(before.scene)
        if changed is None:
            return set(runs)
        ids, queues = changed
        due = self._dirty | (ids & runs.keys())
        if queues:
            # A run not in `ids` is in the same queue in both scenes.
            queue_name = triaged.scene.queue_name
            due |= {run_id for run_id, entry in known.items() if queue_name(entry.run) in queues}
        for run_id, entry in known.items():
            if run_id not in due:
                entry.basis = triaged
        return due

    def _row_for(self, run: Run, now: datetime, now_ts: float, scope: str | None) -> _RowEntry:
        triaged = self.session.triaged
        scene = triaged.scene if triaged is not None else None
        verdict = scene.judge(run, now) if scene is not None else assess(run, now, self.session.settings.thresholds)
        state = verdict.state
        stuck = state is State.STUCK
        seconds = verdict.age.total_seconds()
        # Whole milliseconds: the same moment judged twice must give the same row (and the same place in order).
        since = round(now_ts - seconds, 3)
        # Judged again when its time in status crosses its window; a run judged by its trace also each minute (after
        # its first) as it ages, as the trace's story does. The verdict of any other run holds until then.
        valid_until = math.inf
        if scene is not None and scene.follows(run) is not None:
            valid_until = now_ts + seconds_until_change(seconds) if seconds >= 60 else since + 60
        window = verdict.window
        if window is not None and not stuck:
            crossing = since + window.total_seconds()
            if crossing > now_ts:
                valid_until = min(valid_until, crossing)
        delayed = run.delayed_until
        if delayed is not None and delayed.timestamp() > now_ts:
            valid_until = min(valid_until, delayed.timestamp())  # a delay's end restarts a QUEUED run's age
        flag = STUCK_FLAG if stuck else (SLOW_FLAG if state is State.SLOW else "")
        row = Row(
            run.id,
            (
                flag,
                run.id,
                run.task_identifier,
                (STUCK_STATUS if stuck else STATUS_CELLS)[run.status],
                Cell(short_duration(seconds), "error" if stuck else "", since),
                *((run.queue or scope,) if scope else ()),
                run.version or "—",
                ", ".join(run.tags),
            ),
        )
        order = (not stuck, since if stuck else 0.0, -run.created_at.timestamp(), self._seq.get(run.id, 0))
        return _RowEntry(run, row, stuck, order, valid_until, scope, triaged)

    @property
    def more_below(self) -> bool:
        """Whether the listing has pages not loaded yet."""
        last = self._more[-1] if self._more else self._head
        return last is not None and last.next is not None

    def selection_words(self, *, with_search: bool = True) -> str:
        """Everything that narrows the pane, in the words of its header and filter bar; `:cancel-matching`
        confirms with them."""
        parts = [f"statuses: {self.status_label}", f"window: {window_words(self.search)}"]
        if with_search and search_words(self.search):
            parts.append(f"search: {search_words(self.search)}")
        if self._scope is not None:
            parts.append(f"queue: {self._scope[0]}")
        if self.table.filter:
            parts.append(f"filter: {self.table.filter}")
        return " · ".join(parts)

    def summary(self) -> str:
        shown = f"{self.table.row_count} of {len(self._runs)} runs" if self.table.filter else f"{len(self._runs)} runs"
        count = shown + (", more below" if self.more_below else "")
        # The search terms are on the filter bar under the header.
        return f"{count} · {self.selection_words(with_search=False)}"

    def update_bars(self) -> None:
        super().update_bars()
        self.search_bar.words = search_words(self.search)
        # Each second's tick (and each rebuild) moves the ages on screen, between polls and while polling is paused.
        self.table.refresh_live()

    def filter_in_summary(self) -> bool:
        return True

    def warning(self) -> str:
        return f"{self._stuck_count} STUCK" if self._stuck_count else ""

    # ----- actions and commands -------------------------------------------------------------------------

    def _requery(self) -> None:
        self.reset()
        self.table.empty_message = "Loading…"
        self.update_bars()
        self.refresh_now()

    def action_next_statuses(self) -> None:
        labels = [label for label, _ in STATUS_SETS]
        index = (labels.index(self.status_label) + 1) % len(STATUS_SETS) if self.status_label in labels else 0
        self.search = replace(self.search, statuses=STATUS_SETS[index][1])
        self._requery()

    def action_next_window(self) -> None:
        index = (WINDOWS.index(self.window) + 1) % len(WINDOWS) if self.window in WINDOWS else 0
        self.search = replace(self.search, period=WINDOWS[index], created_from=None, created_to=None)
        self._requery()

    def action_cancel(self) -> None:
        """`c`: cancel the marked runs, or the run under the cursor."""
        run = self.selected_run()
        runs = self.marked_runs() or ([run] if run is not None else [])
        flows = self.session.flows
        if runs and flows is not None:
            flows.start(flows.cancel_runs(runs))

    def action_diagnose(self) -> None:
        from tui.screens.diagnosis import DiagnosisScreen

        run_id = self.table.cursor_key
        if run_id is not None:
            self.app.push_screen(DiagnosisScreen(self.session, run_id))

    def cancel_matching(self) -> None:
        """`:cancel-matching`: a bulk cancel of exactly what the pane shows, confirmed with the header's words."""
        if self.table.filter and not self.table.row_count:
            words = clean(self.table.filter, 40)
            self.notify(f"no run matches the filter {words}: nothing to cancel", severity="warning")
            return
        flows = self.session.flows
        if flows is not None:
            flows.start(flows.cancel_matching(self.run_filter(), loaded=self.table.total_count))

    def run_filter(self) -> RunFilter:
        """What narrows the pane: exactly the server-side search and the queue scope, sent as the bulk filter;
        a text filter, which the API cannot express, becomes the exact run ids shown."""
        return replace(
            self.search,
            queue=self.session.run_queue,
            run_ids=tuple(sorted(self.table.keys)) if self.table.filter else (),
            words=self.selection_words(),
        )

    def run_command(self, name: str, argument: str) -> bool:
        if name == "cancel-matching":
            self.cancel_matching()
            return True
        if name in TERMS:
            self.apply_search(f":{name} {argument}")
            return True
        return False

    def apply_search(self, text: str, *, fresh: bool = False) -> bool:
        """Narrow the search by a line of terms (`fresh`: from the default, as a saved search does) and list
        again from the server; bad input says why in one line and changes nothing."""
        try:
            found = run_search(DEFAULT_SEARCH if fresh else self.search, text, self.session.clock())
        except ValueError as error:
            self.notify(clean(str(error), 240), severity="warning")
            return False
        if found != self.search:
            self.search = found
            self._requery()
        return True

    def back(self) -> bool:
        if super().back():
            return True
        if self._scope is not None:
            self.session.run_queue = None
            self._scope = None
            self.reset()  # its rows carry the queue cell the new columns lack
            self.table.set_columns(self.COLUMNS)
            self._requery()
        return False

    def selected_run(self) -> Run | None:
        key = self.table.cursor_key
        return self._runs.get(key) if key is not None else None

    def marked_runs(self) -> list[Run]:
        """The marked runs still listed, in id order (`c` cancels these instead of the cursor's run)."""
        return [run for key in sorted(self.table.marked) if (run := self._runs.get(key)) is not None]

    @on(FastTable.Selected)
    def _open_run(self, event: FastTable.Selected) -> None:
        self.post_message(OpenRun(event.key))
