"""The base of the four panes: one poll loop that never overlaps, stops while hidden, never blanks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input

from tui.api.client import ClientStats, ConnectionState
from tui.api.errors import ApiError
from tui.config import Settings
from tui.model import EnvironmentType, clock_skew_label
from tui.screens.session import Session, triage_cost
from tui.widgets.format import short_duration
from tui.widgets.pane_header import PaneHeader, PaneHeaderState
from tui.widgets.table import Column, FastTable
from tui.widgets.topbar import TopBar, TopBarState

MAX_BACKOFF_SECONDS = 30.0


def branch_label(settings: Settings) -> tuple[str, bool]:
    """The top bar's branch part and whether it is missing: a preview key without a branch says how to set one."""
    if settings.branch:
        return f"branch {settings.branch}", False
    if settings.env_type is EnvironmentType.PREVIEW:
        return 'no branch: set PLATOS_BRANCH or branch = "..." in the profile', True
    return "", False


def access_label(session: Session) -> str:
    """READ-ONLY, WRITE (with the time left of an elevation), from the client's guard or the settings."""
    guard = session.guard
    if guard is None:
        return "READ-ONLY" if session.settings.read_only else "WRITE"
    if not guard.allows_writes():
        return "READ-ONLY"
    left = guard.seconds_left()
    return f"WRITE {short_duration(left)} left" if left is not None else "WRITE"


def rate_label(stats: ClientStats) -> str:
    """`1.4/2.0 req/s`: the measured request rate against the budget in force (0 means unlimited)."""
    if not stats.budget_per_second:
        return f"{stats.requests_per_second:.1f} req/s"
    slowed = " slowed" if getattr(stats, "slowed_down", False) else ""
    return f"{stats.requests_per_second:.1f}/{stats.budget_per_second:.1f} req/s{slowed}"


class PaneScreen(Screen[None]):
    """A pane: top bar, pane header, one FastTable, filter line, footer. Subclasses fetch and render."""

    PANE: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[Column]] = ()
    EMPTY: ClassVar[str] = "Nothing to show"
    MARKS: ClassVar[bool] = False
    """Whether rows can be marked (`space`, bound by the actions work) and show a mark gutter."""

    def __init__(self, session: Session) -> None:
        super().__init__(name=self.PANE, id=f"pane-{self.PANE}")
        self.session = session
        self.table = FastTable(self.COLUMNS, empty_message="Loading…", show_marks=self.MARKS, id="table")
        self._wake = asyncio.Event()
        self._full = True
        self._ticker: Timer | None = None
        self._generation = session.generation
        self._last_full = 0.0
        self._interval = session.settings.refresh_seconds
        self._took = 0.0
        """How long the last full poll took, waits on the request budget included."""
        self._notified: str | None = None
        self._loaded = False
        self._footer = False

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield PaneHeader(id="pane-header")
        yield self.table
        yield Input(placeholder="filter (substring; ! inverts)", id="filter")
        # The Footer is mounted after the first poll: it costs a few dozen ms to build, and the first
        # frame with data matters more (issue 4, startup target).

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self._ticker = self.set_interval(1.0, self.update_bars, pause=True)
        self.update_bars()
        if self.is_current:
            self.on_screen_resume()

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
        if self._ticker is not None:
            self._ticker.pause()
        self.workers.cancel_group(self, "poll")

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
            timeout = max(0.05, self._interval - (time.monotonic() - self._last_full))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
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
        started = time.monotonic()
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
        if full:
            self._took = time.monotonic() - started
        self._pace()
        self.update_bars()
        if not self._footer:
            self._footer = True
            self.call_after_refresh(self._mount_footer)

    async def _mount_footer(self) -> None:
        await self.mount(Footer())
        self.refresh_bindings()  # the Footer draws its keys when the bindings are announced

    def _failed(self, reason: str) -> None:
        self.session.pane(self.PANE).failed(reason)
        if reason != self._notified:
            # Say it once per distinct reason; the top bar keeps showing it while it lasts.
            self._notified = reason
            self.notify(
                f"{self.PANE}: {reason}. Showing the last good data.",
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
            self._interval = min(MAX_BACKOFF_SECONDS, base * 2 ** min(status.failures, 4))
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

    def update_bars(self) -> None:
        try:
            top_bar, header = self.query_one(TopBar), self.query_one(PaneHeader)
        except NoMatches:
            return  # mounting or shutting down: nothing to update
        session = self.session
        settings = session.settings
        now = session.clock()
        status = session.pane(self.PANE)
        stats = session.client.stats()
        stale = status.stale(now, self._interval)
        if status.updated_at is None:
            freshness = "no data yet"
        else:
            ago = max(0, int((now - status.updated_at).total_seconds()))
            freshness = f"updated {ago} s ago" if ago < 120 else f"updated {short_duration(ago)} ago"
        branch, branch_missing = branch_label(settings)
        connection = stats.state.value if isinstance(stats.state, ConnectionState) else str(stats.state)
        top_bar.state = TopBarState(
            profile=settings.profile,
            environment=settings.env_label,
            production=settings.production,
            demo=settings.demo,
            connection=connection,
            freshness=freshness,
            stale=stale,
            rate=rate_label(stats) + triage_cost(session),
            access=access_label(session),
            polling_paused=session.paused,
            error=status.error or stats.last_error,
            branch=branch,
            branch_missing=branch_missing,
            clock_skew=clock_skew_label(getattr(session.client, "clock_skew", None)) or "",
        )
        summary = self.summary()
        if self.table.marked:
            summary += f" · {len(self.table.marked)} marked"
        if self.table.filter:
            summary += f" · filter: {self.table.filter}"
        header.state = PaneHeaderState(self.PANE, summary, self.warning())

    def open_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.value = self.table.filter
        field.focus()

    def set_filter(self, text: str) -> None:
        self.table.set_filter(text)
        field = self.query_one("#filter", Input)
        if not text:
            field.display = False
            self.table.focus()
        self.update_bars()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.update_bars()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
        if event.value:
            self.table.focus()

    def render_rows(self) -> None:
        """Subclasses rebuild their rows from their data here (also after a sort or scope change)."""

    def loaded_message(self) -> str:
        """What the table says when the data loaded and nothing matched."""
        return self.EMPTY
