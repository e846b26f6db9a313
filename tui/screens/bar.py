"""The top bar on every screen: what it says, built from the session, and the modal base that carries it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from textual import events, on
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen

from tui.api.client import ClientStats, EngineClient
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import EnvironmentType, clock_skew_label
from tui.screens.session import Session, triage_cost
from tui.widgets.format import short_duration
from tui.widgets.topbar import TopBar, TopBarState

ResultT = TypeVar("ResultT")


def access_label(session: Session) -> str:
    """READ-ONLY, WRITE (with the time left of an elevation), from the client's guard or the settings."""
    return access_words(session.guard, locked=session.read_only_locked)


def access_words(guard: WriteGuard, *, locked: bool = False) -> str:
    if locked:
        return "READ-ONLY (--read-only)"
    if not guard.allows_writes():
        return "READ-ONLY"
    left = guard.seconds_left()
    return f"WRITE {short_duration(left)} left" if left is not None else "WRITE"


def rate_label(stats: ClientStats) -> str:
    """`1.4/2.0 req/s`: the measured request rate against the budget in force (0 means unlimited); a triage's
    burst, which the budget does not pace, is counted apart (`1.4/2.0 req/s + 9.0 burst`), so a burst never
    reads as the budget overrun."""
    if not stats.budget_per_second:
        return f"{stats.requests_per_second:.1f} req/s"
    slowed = " slowed" if stats.slowed_down else ""
    paced = max(0.0, stats.requests_per_second - stats.burst_per_second)
    burst = f" + {stats.burst_per_second:.1f} burst" if stats.burst_per_second else ""
    return f"{paced:.1f}/{stats.budget_per_second:.1f} req/s{burst}{slowed}"


def freshness(updated_at: datetime | None, now: datetime) -> str:
    if updated_at is None:
        return "no data yet"
    ago = max(0, int((now - updated_at).total_seconds()))
    return f"updated {ago} s ago" if ago < 120 else f"updated {short_duration(ago)} ago"


def bar_state(
    session: Session, *, updated_at: datetime | None = None, stale: bool = False, error: str | None = None
) -> TopBarState:
    """The bar for a screen whose data was last read at `updated_at` (None: nothing loaded yet)."""
    state = client_bar_state(
        session.settings,
        session.client,
        session.clock(),
        access=access_label(session),
        polling_paused=session.paused,
        updated_at=updated_at,
        stale=stale,
        error=error,
    )
    return replace(state, rate=state.rate + triage_cost(session))


def branch_label(settings: Settings) -> tuple[str, bool]:
    """The top bar's branch part and whether it is missing: a preview key without a branch says how to set one."""
    if settings.branch:
        return f"branch {settings.branch}", False
    if settings.env_type is EnvironmentType.PREVIEW:
        return 'no branch: set PLATOS_BRANCH or branch = "..." in the profile', True
    return "", False


def client_bar_state(
    settings: Settings,
    client: EngineClient,
    now: datetime,
    *,
    access: str | None = None,
    polling_paused: bool = False,
    updated_at: datetime | None = None,
    stale: bool = False,
    error: str | None = None,
) -> TopBarState:
    """The same bar for a screen given only the settings and the client (a run detail opened on its own)."""
    stats = client.stats()
    branch, branch_missing = branch_label(settings)
    return TopBarState(
        profile=settings.profile,
        environment=settings.env_label,
        production=settings.production,
        demo=settings.demo,
        connection=stats.state.value,
        freshness=freshness(updated_at, now),
        stale=stale,
        rate=rate_label(stats),
        access=access or access_words(client.guard),
        polling_paused=polling_paused,
        error=error or stats.last_error,
        branch=branch,
        branch_missing=branch_missing,
        clock_skew=clock_skew_label(client.clock_skew) or "",
    )


@runtime_checkable
class BarSource(Protocol):
    """A screen that knows what its top bar says."""

    def bar_state(self) -> TopBarState | None: ...


def covered_by_modal(screen: Screen[Any]) -> bool:
    """Whether `screen` is still shown, under a modal: its polling goes on (a dialog must not make data stale)."""
    app = screen.app
    return isinstance(app.screen, ModalScreen) and screen in app.screen_stack


def state_below(screen: Screen[Any]) -> TopBarState | None:
    """What the nearest screen under `screen` would show in its bar (a modal shows the bar of what it covers)."""
    stack = screen.app.screen_stack
    below = stack[: stack.index(screen)] if screen in stack else stack
    for other in reversed(below):
        if isinstance(other, BarSource):
            state = other.bar_state()
            if state is not None:
                return state
    session = getattr(screen.app, "session", None)
    return bar_state(session) if isinstance(session, Session) else None


def refresh_top_bar(screen: Screen[Any]) -> None:
    """Show in `screen`'s `#topbar` what the screen (or, failing that, the screen under it) says."""
    state = screen.bar_state() if isinstance(screen, BarSource) else state_below(screen)
    if state is None:
        return
    try:
        screen.query_one("#topbar", TopBar).state = state
    except NoMatches:
        return  # composing or closing


class BarModal(ModalScreen[ResultT]):
    """A dialog with the console's top bar over it: profile, environment, connection and access stay in view."""

    DEFAULT_CSS = "BarModal > TopBar { dock: top; }"
    BAR_EVERY: ClassVar[float] = 1.0

    @on(events.Mount)
    async def _add_top_bar(self) -> None:
        bar = TopBar(id="topbar")
        await (self.mount(bar, before=0) if self.children else self.mount(bar))
        self.update_top_bar()
        self.set_interval(self.BAR_EVERY, self.update_top_bar)

    def bar_state(self) -> TopBarState | None:
        return state_below(self)

    def update_top_bar(self) -> None:
        refresh_top_bar(self)
