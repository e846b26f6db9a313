"""`:env` / `5`: every profile at once (connection, stuck runs, worst finding, last seen); `enter` switches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui.config import Settings
from tui.diagnosis.fleet import PROFILE_SECONDS, LoadSettings, MakeClient, ProfileTriage, triage_profile
from tui.screens.bar import BarModal
from tui.widgets.format import short_duration
from tui.widgets.table import Cell, Column, FastTable, Row

REFRESH_SECONDS = 60.0
"""Each profile is triaged this often while the list is open (a triage is tens of requests per profile)."""
COLUMNS = (
    Column("profile", "Profile", 10, flex=1, max_width=24),
    Column("environment", "Environment", 14, flex=1, max_width=30),
    Column("connection", "Connection", 12),
    Column("stuck", "Stuck", 5, align="right"),
    Column("worst", "Worst finding", 20, flex=4),
    Column("seen", "Seen", 10, align="right"),
)
TONES = {"CONNECTED": "success", "RETRYING": "warning", "DISCONNECTED": "error", "UNAUTHORIZED": "error"}


class EnvironmentsScreen(BarModal[None]):
    """Each profile triaged concurrently with its own client and request budget; a dead one says why in its row
    and never holds up the others. `switch(settings)` is how `enter` points the console at another profile."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="env.close"),
        Binding("ctrl+r", "refresh_now", "Refresh", id="env.refresh"),
    ]

    def __init__(
        self,
        profiles: Sequence[tuple[str, LoadSettings]],
        make_client: MakeClient,
        switch: Callable[[Settings], object],
        *,
        current: str,
        timeout: float = PROFILE_SECONDS,
    ) -> None:
        super().__init__()
        self.profiles = list(profiles)
        self.current = current
        self._make_client = make_client
        self._switch = switch
        self._timeout = timeout
        self._wake = asyncio.Event()
        self.latest: dict[str, ProfileTriage] = {}
        self.good: dict[str, ProfileTriage] = {}
        """Each profile's last successful triage: its numbers stay in view (with the error) while it fails."""
        self.checking: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="env-box"):
            yield Static("Every environment  (enter switches · ctrl+r refreshes · esc closes)", id="env-title")
            yield FastTable(COLUMNS, empty_message="No profiles configured", id="env-table")

    def on_mount(self) -> None:
        self.query_one(FastTable).focus()
        self.render_rows()
        self.set_interval(1.0, self.render_rows)  # the Seen column ages
        self._poll_loop()

    @work(exclusive=True, group="env-poll")
    async def _poll_loop(self) -> None:
        while True:
            self._wake.clear()
            await self._poll_once()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_SECONDS):
                    await self._wake.wait()

    async def _poll_once(self) -> None:
        self.checking = {name for name, _ in self.profiles}
        self.render_rows()
        tasks = [
            asyncio.ensure_future(triage_profile(name, load, self._make_client, timeout=self._timeout))
            for name, load in self.profiles
        ]
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done  # each row fills in as its profile answers
                self.latest[result.profile] = result
                if result.error is None:
                    self.good[result.profile] = result
                self.checking.discard(result.profile)
                self.render_rows()
        finally:
            for task in tasks:
                task.cancel()  # the screen closed: its triages stop with it

    def render_rows(self) -> None:
        self.query_one(FastTable).set_rows([self._row(name) for name, _ in self.profiles])

    def _row(self, name: str) -> Row:
        latest, good = self.latest.get(name), self.good.get(name)
        shown = latest or good
        title = f"{name} (this console)" if name == self.current else name
        if shown is None:
            return Row(name, (title, "", Cell("checking…", "muted"), "", "", "never"))
        environment: str | Cell = shown.environment or shown.env_type
        if shown.production:
            environment = Cell(f"{shown.environment} · PRODUCTION", "error")
        connection = "checking…" if name in self.checking else shown.connection
        if latest is not None and latest.error is not None:
            worst: str | Cell = Cell(f"error: {latest.error}", "error")
        elif good is not None and good.worst is not None:
            worst = Cell(good.worst.summary, "warning")
        else:
            worst = Cell("nothing stuck", "success")
        stuck = str(good.stuck_runs) if good is not None else "—"
        seen = "never"
        if good is not None and good.seen_monotonic is not None:
            seen = f"{short_duration(time.monotonic() - good.seen_monotonic)} ago"
        return Row(name, (title, environment, Cell(connection, TONES.get(connection, "muted")), stuck, worst, seen))

    @on(FastTable.Selected)
    def _selected(self, event: FastTable.Selected) -> None:
        event.stop()
        name = event.key
        if name == self.current:
            self.notify(f"{name} is the profile this console shows", timeout=2)
            return
        settings = next((r.settings for r in (self.latest.get(name), self.good.get(name)) if r and r.settings), None)
        if settings is None:
            reason = self.latest[name].error if name in self.latest else "still checking"
            self.notify(f"cannot switch to {name}: {reason}", severity="warning")
            return
        self.dismiss(None)
        self._switch(settings)

    def action_refresh_now(self) -> None:
        self._wake.set()

    def action_close(self) -> None:
        self.dismiss(None)
