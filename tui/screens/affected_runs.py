"""The runs a triage finding names: enter opens one, d diagnoses it, c cancels it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from tui.diagnosis import Action, Cause, Finding, Recovery
from tui.model import Run, time_in_status
from tui.model.text import clean
from tui.screens.bar import refresh_top_bar
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.messages import OpenRun
from tui.screens.recovery import RecoveryRunner
from tui.screens.session import Session
from tui.widgets.footer import KeyFooter
from tui.widgets.format import short_duration
from tui.widgets.table import Cell, Column, FastTable, Row
from tui.widgets.topbar import TopBar


class AffectedRunsScreen(Screen[None]):
    """A pushed list of one finding's runs, as triage last saw them."""

    CSS_PATH = str(Path(__file__).parent.parent / "styles" / "diagnosis.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="affected.back"),
        Binding("d", "diagnose", "Diagnose", id="affected.diagnose"),
        Binding("c", "cancel", "Cancel run", id="affected.cancel"),
    ]
    COLUMNS = (
        Column("id", "Run", 14, flex=3, max_width=32, cut_middle=True),
        Column("task", "Task", 12, flex=2, max_width=40),
        Column("status", "Status", 9),
        Column("age", "In status", 9, align="right"),
    )

    def __init__(self, session: Session, finding: Finding, runs: Mapping[str, Run]) -> None:
        super().__init__()
        self.session = session
        self.finding = finding
        self._runs = dict(runs)
        self.table = FastTable(self.COLUMNS, empty_message="No runs", id="affected-table")
        self.recovery = RecoveryRunner(self, session)

    @property
    def run_id(self) -> str | None:
        """What `y` copies."""
        return self.table.cursor_key

    def compose(self) -> ComposeResult:
        title = f"{self.finding.summary} · {len(self.finding.runs)} runs"
        yield TopBar(id="topbar")
        yield Static(Content(clean(title, 200)), id="affected-title")
        yield self.table
        yield KeyFooter()

    def on_mount(self) -> None:
        now = self.session.clock()
        rows = []
        for run_id in self.finding.runs:
            run = self._runs.get(run_id)
            if run is None:
                rows.append(Row(run_id, (run_id, "?", Cell("not listed", "muted"), "")))
                continue
            age = short_duration(time_in_status(run, now).total_seconds())
            rows.append(Row(run_id, (run_id, run.task_identifier, run.status.value, age)))
        self.table.set_rows(rows)
        self.table.focus()
        refresh_top_bar(self)  # what the triage pane under it says: these runs are as triage last saw them
        self.set_interval(1.0, lambda: refresh_top_bar(self))

    def action_back(self) -> None:
        self.dismiss()

    def action_diagnose(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.app.push_screen(DiagnosisScreen(self.session, key))

    def action_cancel(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            one = Finding(Cause.UNKNOWN, "", recovery=(Recovery(f"cancel run {key}", Action.CANCEL, key),))
            self.recovery.start(one, Action.CANCEL.value, runs=self._runs)

    @on(FastTable.Selected)
    def _open(self, event: FastTable.Selected) -> None:
        event.stop()
        self.post_message(OpenRun(event.key))
