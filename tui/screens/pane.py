"""The base of the four panes: one poll loop that never overlaps, stops while hidden, never blanks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from tui.api.errors import ApiError
from tui.screens.bar import bar_state, covered_by_modal
from tui.screens.session import Session
from tui.widgets.footer import KeyFooter
from tui.widgets.pane_header import PaneHeader, PaneHeaderState
from tui.widgets.table import Column, FastTable
from tui.widgets.topbar import TopBar, TopBarState

MAX_BACKOFF_SECONDS = 30.0
TICK_SECONDS = 1.0
"""The bars and the ages on screen move on once a second."""
TICK_SLACK = 0.1
"""A full poll due this close after a tick starts on it (the tick timer fires a little late or early)."""
FIRST_DATA_WAIT = 0.1
"""How long a pane's first frame waits for its first data: a server that answers within it is drawn at once,
without a "Loading…" frame first (drawing that one delays the frame with the data by as long again)."""
QUICK_POLL = 0.25
"""A poll that took at most this long redraws soon enough to stand in for the tick that started it."""
NOUNS = {"queues": "queue", "runs": "run", "waitpoints": "token", "triage": "finding"}
"""What one row of each pane is, for the empty-filter message."""


class PaneScreen(Screen[None]):
    """A pane: top bar, pane header, one FastTable, filter line, footer. Subclasses fetch and render."""

    PANE: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[Column]] = ()
    EMPTY: ClassVar[str] = "Nothing to show"
    MARKS: ClassVar[bool] = False
    """Whether rows can be marked (`space`, which such a pane binds to `mark`) and show a mark gutter."""

    def __init__(self, session: Session) -> None:
        super().__init__(name=self.PANE, id=f"pane-{self.PANE}")
        self.session = session
        self.table = FastTable(self.COLUMNS, empty_message="Loading…", show_marks=self.MARKS, id="table")
        self.top_bar = TopBar(id="topbar")
        self.header = PaneHeader(id="pane-header")
        self._wake = asyncio.Event()
        self._full = True
        self._ticker: Timer | None = None
        self._generation = session.generation
        self._last_full = 0.0
        self._interval = session.settings.refresh_seconds
        self._took = 0.0
        """How long the last full poll took, waits on the request budget included."""
        self._polling_since: float | None = None
        """When the poll in flight started (None between polls)."""
        self._notified: str | None = None
        self._loaded = False
        self._footer = False
        self._first_data = asyncio.Event()
        self.marks_left = 0
        """Marks dropped because their rows left the list, since the operator last marked a row."""

    def compose(self) -> ComposeResult:
        yield self.top_bar
        yield self.header
        yield self.table
        with Horizontal(id="filter-line"):
            yield Static("/", id="filter-prompt")
            yield Input(placeholder="filter (substring; ! inverts)", id="filter")
            yield Static("", id="filter-count")
        # The footer is mounted after the first poll: it costs a few dozen ms to build, and the first
        # frame with data matters more (issue 4, startup target).

    async def on_mount(self) -> None:
        self.query_one("#filter-line").display = False
        self._ticker = self.set_interval(TICK_SECONDS, self._tick, pause=True)
        self.update_bars()
        if self.is_current:
            self.on_screen_resume()
            # The screen draws its first frame once this returns; the poll runs meanwhile.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FIRST_DATA_WAIT):
                    await self._first_data.wait()

    # ----- lifecycle: poll only while shown -------------------------------------------------------------

    def on_screen_resume(self) -> None:
        if self._ticker is None:
            return  # not mounted yet: on_mount starts polling
        self._ticker.resume()
        # Mounting the current pane and switching to it both resume it. When the loop is already polling, leave
        # it be: a second loop would cancel its poll halfway, and a wake would queue a second full poll at once.
        if not any(w.group == "poll" and w.is_running and not w.is_cancelled for w in self.workers):
            self._full = not self._loaded or time.monotonic() - self._last_full >= self._interval
            self._wake.set()
            self._poll_loop()
        self.table.focus()

    def on_screen_suspend(self) -> None:
        if covered_by_modal(self):
            return  # still on screen under a dialog: keep the data fresh, so closing it shows no false STALE
        if self._ticker is not None:
            self._ticker.pause()
        self.workers.cancel_group(self, "poll")

    def _tick(self) -> None:
        """Each second the bars and ages move on. A full poll that is due starts on the tick, so the two share one
        wake-up of the process, and a quick poll's own redraw stands in for the tick's. (Polls more often than
        ticks keep their own timer.)"""
        if (
            self._on_ticks()
            and not self.session.paused
            and self._polling_since is None
            and time.monotonic() >= self._last_full + self._interval - TICK_SLACK
        ):
            self._full = True
            self._wake.set()
            if self._took <= QUICK_POLL:
                return
        self.update_bars()

    def _on_ticks(self) -> bool:
        return self._interval >= TICK_SECONDS

    def refresh_now(self) -> None:
        """ctrl+r: a full refresh at once (the loop picks it up; it never runs two polls at a time)."""
        self._full = True
        self._wake.set()

    def nudge(self) -> None:
        """The view changed (scroll, filter): fetch what the new view needs without re-reading everything."""
        self._wake.set()

    @work(exclusive=True, group="poll")
    async def _poll_loop(self) -> None:
        while True:
            woken = self._wake.is_set()
            self._wake.clear()  # before polling, so a ctrl+r pressed during this poll is not lost
            if woken or not self.session.paused:
                await self._poll_once()
            # Paused, only a wake (ctrl+r, resuming) polls: waking every 50 ms to find it still paused cost 0.6%
            # of a core. Otherwise the tick starts the next full poll; this timeout is for a tick that never comes.
            due = max(0.05, self._interval - (time.monotonic() - self._last_full))
            timeout = None if self.session.paused else due + (TICK_SECONDS + TICK_SLACK if self._on_ticks() else 0)
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                self._full = True

    async def _poll_once(self) -> None:
        session = self.session
        status = session.pane(self.PANE)
        if self._generation != session.generation:
            self._generation = session.generation
            self._loaded = False
            self.reset()
            self._full = True
        full, self._full = self._full, False
        if full:
            self._last_full = time.monotonic()
        started = self._polling_since = time.monotonic()
        try:
            await self.poll(full=full)
        except ApiError as error:
            self._failed(str(error) or type(error).__name__)
        except Exception as error:  # a bug must not take the console down during an incident
            self.log.error(f"poll failed in {self.PANE}: {error!r}")
            self._failed(f"internal error ({type(error).__name__})")
        else:
            if full:
                status.succeeded(session.clock())
                self._loaded = True
                self.table.empty_message = self.loaded_message()
                if self._notified is not None:
                    self.notify(f"{self.PANE}: data is fresh again", title="Recovered")
                    self._notified = None
        finally:
            self._polling_since = None  # also when the poll is cancelled (the pane was hidden)
        if full:
            self._took = time.monotonic() - started
        session.note_connection()
        self._pace()
        self.update_bars()
        self.announce_data()
        if not self._footer:
            self._footer = True
            self.call_after_refresh(self._mount_footer)

    async def _mount_footer(self) -> None:
        await self.mount(KeyFooter())
        self.refresh_bindings()  # the Footer draws its keys when the bindings are announced

    def _failed(self, reason: str) -> None:
        self.session.pane(self.PANE).failed(reason)
        if reason != self._notified:
            # Say it once per distinct reason; the top bar keeps showing it while it lasts.
            self._notified = reason
            kept = "Showing the last good data." if self._loaded else "No data to show yet."
            self.notify(
                f"{self.PANE}: {reason}. {kept}",
                title="Refresh failed",
                severity="warning",
            )
        if not self._loaded:
            self.table.empty_message = f"No data yet: {reason}"
            self.table.refresh()

    def _pace(self) -> None:
        """Back off while the server fails or says its bucket is low; otherwise rest as long as the last poll took.

        The budget already caps the rate. Resting as long as a full poll took (1,000 queues are 10 pages, 5 s
        at 2 req/s) keeps half of the budget free for actions and other clients, and the data stays fresh.
        The interval runs from the start of one full poll to the start of the next, hence twice the time taken.
        """
        base = self.session.settings.refresh_seconds
        stats = self.session.client.stats()
        status = self.session.pane(self.PANE)
        if status.failures:
            # Gently: when the server comes back, fresh data must follow within two intervals.
            self._interval = base * (2 if status.failures > 1 else 1)
        elif getattr(stats, "slowed_down", False):
            self._interval = min(MAX_BACKOFF_SECONDS, self._interval * 1.5)
        else:
            self._interval = min(MAX_BACKOFF_SECONDS, max(base, 2 * self._took))

    # ----- subclass hooks -------------------------------------------------------------------------------

    async def poll(self, *, full: bool) -> None:
        """Fetch (all when `full`, else only what the view lacks) and render. May raise ApiError."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget data from a previous profile."""

    def summary(self) -> str:
        return ""

    def warning(self) -> str:
        return ""

    def filter_in_summary(self) -> bool:
        """Whether `summary()` already names the `/` filter (the header then does not add it again)."""
        return False

    def selected_value(self) -> str | None:
        """What `y` copies."""
        return self.table.cursor_key

    def run_command(self, name: str, argument: str) -> bool:
        """Pane-specific `:` commands; return False when `name` is not one of them."""
        return False

    def back(self) -> bool:
        """`esc`: undo the last narrowing (filter, scope); return False when there is nothing to undo."""
        if self.table.filter:
            self.set_filter("")
            return True
        return False

    # ----- bars and filter ------------------------------------------------------------------------------

    def fresh_interval(self) -> float:
        """How often this pane refreshes while the server answers (no backoff): the unit of staleness."""
        return max(self.session.settings.refresh_seconds, 2 * self._took)

    def bar_state(self) -> TopBarState:
        status = self.session.pane(self.PANE)
        # A failed poll counts against the configured interval; a slow one in flight against the measured one.
        trying = self._polling_since is not None
        base = self.session.settings.refresh_seconds
        stale = status.stale(base) or status.stale(self.fresh_interval(), trying=trying)
        return bar_state(self.session, updated_at=status.updated_at, stale=stale, error=status.error)

    def update_bars(self) -> None:
        top_bar, header = self.top_bar, self.header
        if not (top_bar.is_attached and header.is_attached):
            return  # mounting or shutting down: nothing to update
        top_bar.state = self.bar_state()
        summary = self.summary()
        if self.table.filter and not self.filter_in_summary():
            summary += f" · filter: {self.table.filter}"
        if self.table.marked or self.marks_left:
            summary += f" · {len(self.table.marked)} marked"
        if self.marks_left:
            summary += f" · {self.marks_left} unmarked (left the list)"
        header.state = PaneHeaderState(self.PANE, summary, self.warning())
        self._say_why_empty()
        self._count_matches()

    def _say_why_empty(self) -> None:
        """An empty table names the filter that emptied it; without one, the pane's own reason stands."""
        if not self._loaded:
            return
        text = self.table.filter
        noun = NOUNS.get(self.PANE, "row")
        if text and text != "!":
            message = f"no {noun} matches `{text}` (esc clears the filter)"
        elif self.table.empty_message.startswith(f"no {noun} matches `"):
            message = self.loaded_message()  # the filter is gone; a "Loading…" set meanwhile is left alone
        else:
            return
        if message != self.table.empty_message:
            self.table.empty_message = message
            if not self.table.row_count:
                self.table.refresh()

    def open_filter(self) -> None:
        self.query_one("#filter-line").display = True
        field = self.query_one("#filter", Input)
        field.value = self.table.filter
        field.focus()
        self._count_matches()

    def set_filter(self, text: str) -> None:
        self.table.set_filter(text)
        if not text:
            self.query_one("#filter-line").display = False
            self.table.focus()
        self.update_bars()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.update_bars()

    def _count_matches(self) -> None:
        """`8 of 231 match`, live as the operator types and as rows arrive."""
        try:
            count = self.query_one("#filter-count", Static)
        except NoMatches:
            return
        if count.parent is not None and count.parent.display:
            count.update(f"{self.table.row_count} of {self.table.total_count} match")

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
        if event.value:
            self.table.focus()

    @on(FastTable.MarksDropped)
    def _marks_dropped(self, event: FastTable.MarksDropped) -> None:
        self.marks_left += len(event.keys)
        self.update_bars()

    def action_mark(self) -> None:
        """`space`, where a pane binds it: mark or unmark the row under the cursor."""
        key = self.table.cursor_key
        if key is not None:
            self.toggle_mark(key)

    def toggle_mark(self, key: str) -> None:
        """`space`: mark or unmark a row; the count of marks that left the list starts again."""
        self.table.toggle_mark(key)
        self.marks_left = 0
        self.update_bars()

    def render_rows(self) -> None:
        """Subclasses rebuild their rows from their data here (also after a sort or scope change)."""

    def announce_data(self) -> None:
        """The pane has rows to show, or its poll ended without any: its first frame need not wait."""
        if self.table.total_count or self._polling_since is None:
            self._first_data.set()

    def rows_updated(self) -> None:
        """After a rebuild, the bars: a poll in flight draws them once it knows how it ended, not twice."""
        if self._polling_since is None:
            self.update_bars()

    def loaded_message(self) -> str:
        """What the table says when the data loaded and nothing matched."""
        return self.EMPTY
