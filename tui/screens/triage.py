"""Pane 4, triage: the whole environment diagnosed, findings grouped by cause, worst first, fix one key away."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content

from tui.diagnosis import EnvFacts, Finding
from tui.diagnosis.findings import SEVERITY
from tui.model import Run
from tui.model.text import clean
from tui.screens.affected_runs import AffectedRunsScreen
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.finding_view import finding_detail
from tui.screens.messages import OpenRuns
from tui.screens.pane import MAX_BACKOFF_SECONDS, PaneScreen
from tui.screens.recovery import RecoveryRunner
from tui.screens.session import Session
from tui.widgets.checklist import FindingSection
from tui.widgets.table import Cell, Column, FastTable, Row

TRIAGE_EVERY = 5
"""Triage at most every this many refresh intervals: one costs 15-150 requests against a budget of 2 req/s."""
TONES = {0: "error", 1: "warning", 2: "warning", 3: "success"}


def finding_key(finding: Finding) -> str:
    return f"{finding.cause.value}:{finding.entity or ''}"


class TriageScreen(PaneScreen):
    """Findings worst first; the detail area shows the selected one's evidence and recovery keys."""

    PANE = "triage"
    CSS_PATH = str(Path(__file__).parent.parent / "styles" / "diagnosis.tcss")
    EMPTY = "Nothing stuck"
    COLUMNS = (
        Column("finding", "Finding", 30, flex=4),
        Column("runs", "Runs", 5, align="right"),
        Column("queues", "Queues", 6, align="right", priority=1),
        Column("cause", "Cause", 18, priority=2, max_width=28, flex=1),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "diagnose",
            "Diagnose run",
            id="triage.diagnose",
            tooltip="Diagnose the first run of the selected finding",
        ),
        Binding("c", "recover('cancel')", "Cancel", id="triage.cancel"),
        Binding("p", "recover('resume_queue')", "Resume queue", id="triage.resume"),
        Binding("r", "recover('complete_token')", "Complete token", id="triage.complete"),
        Binding("R", "recover('repair_queues')", "Repair", id="triage.repair"),
        Binding("o", "recover('override_concurrency')", "Override", id="triage.override"),
        Binding(
            "C",
            "recover('cancel_matching')",
            "Bulk cancel",
            id="triage.cancel_matching",
            tooltip="Cancel every run the finding's filter matches (server-side bulk cancel; count and confirm first)",
        ),
        Binding(
            "b",
            "recover('rollback')",
            "Roll back",
            id="triage.rollback",
            tooltip="Promote the previous deployed version again (dry run and confirmation first)",
        ),
        Binding("x", "recover('plugin')", "Plugin", id="triage.plugin"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.findings: list[Finding] = []
        self.env: EnvFacts | None = None
        self._by_key: dict[str, Finding] = {}
        self._interval = TRIAGE_EVERY * session.settings.refresh_seconds
        self._gathering = False
        self._gather_started = 0.0
        self.recovery = RecoveryRunner(self, session)
        self.table.empty_message = "Triaging the environment… (15-150 requests: up to a minute at 2 req/s)"

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            yield widget
            if widget is self.table:
                with VerticalScroll(id="triage-detail"):
                    yield FindingSection(Content(""), id="triage-finding")

    def reset(self) -> None:
        self.findings, self.env, self._by_key = [], None, {}
        self.table.set_rows([])
        self._show_detail()

    def _pace(self) -> None:
        # Never spend more than about a third of the time triaging, however slow the budget makes one.
        base = max(TRIAGE_EVERY * self.session.settings.refresh_seconds, 2 * self._took)
        failures = self.session.pane(self.PANE).failures
        self._interval = max(base, min(MAX_BACKOFF_SECONDS, base * 2 ** min(failures, 4))) if failures else base

    # ----- data -----------------------------------------------------------------------------------------

    async def poll(self, *, full: bool) -> None:
        if not full and self.env is not None:
            return
        self._gathering = True
        self._gather_started = time.monotonic()
        self.update_bars()
        try:
            # A triage another pane has in flight is this one: one answer everywhere.
            result = await self.session.triage()
        finally:
            self._gathering = False
            self._last_full = time.monotonic()  # the next triage waits a full interval after this one ends
        self.env, self.findings = result.env, result.findings
        self._by_key = {finding_key(f): f for f in self.findings}
        self.render_rows()

    def render_rows(self) -> None:
        rows = []
        for finding in self.findings:
            tone = TONES[SEVERITY[finding.cause]]
            rows.append(
                Row(
                    finding_key(finding),
                    (
                        Cell(finding.summary, tone),
                        str(len(finding.runs)),
                        str(len(finding.queues)),
                        Cell(finding.cause.value, "muted"),
                    ),
                )
            )
        self.table.set_rows(rows)
        self._show_detail()
        self.update_bars()

    def selected(self) -> Finding | None:
        key = self.table.cursor_key
        return self._by_key.get(key) if key is not None else None

    def _show_detail(self) -> None:
        finding = self.selected()
        try:
            section = self.query_one("#triage-finding", FindingSection)
        except Exception:
            return  # not mounted yet
        if finding is not None:
            section.update(finding_detail(finding, self.recovery.plugin_names, self._enter_hint(finding)))
        elif self.env is not None and not self.findings:
            section.update(Content.styled(self.loaded_message(), "$success"))
        else:
            section.update(Content(""))
        self.refresh_bindings()

    @on(FastTable.CursorMoved)
    def _cursor_moved(self) -> None:
        self._show_detail()

    # ----- bars -----------------------------------------------------------------------------------------

    def loaded_message(self) -> str:
        env = self.env
        if env is None:
            return self.EMPTY
        return (
            f"Nothing stuck: {len(env.queues)} queues, {env.active_runs_seen} active runs, "
            f"{len(env.candidates)} traced (window {env.window})"
        )

    def summary(self) -> str:
        if self.env is None:
            return f"triaging the environment… {self._gathering_for()}" if self._gathering else "not triaged yet"
        runs = len({r for f in self.findings for r in f.runs})
        busy = f" · triaging… {self._gathering_for()}" if self._gathering else ""
        # The cadence follows how long a triage takes on this machine: the top bar says what one costs instead.
        return f"{len(self.findings)} findings, {runs} runs affected{busy}"

    def _gathering_for(self) -> str:
        # A large environment takes a minute at the request budget: show that it is moving.
        return f"{time.monotonic() - self._gather_started:.0f} s"

    def warning(self) -> str:
        status = self.session.pane(self.PANE)
        if status.error and self.env is not None:
            return f"STALE: {clean(status.error, 60)}"
        return ""

    def selected_value(self) -> str | None:
        finding = self.selected()
        return finding.runs[0] if finding is not None and finding.runs else None

    # ----- keys -----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        finding = self.selected()
        if action == "recover":
            if parameters[0] == "plugin":
                return finding is not None  # `x` says why when no plugin fits the finding
            return finding is not None and self.recovery.offers(finding, str(parameters[0]))
        if action == "diagnose":
            return finding is not None and bool(finding.runs)
        return True

    def _runs_index(self) -> dict[str, Run]:
        env = self.env
        if env is None:
            return {}
        runs: dict[str, Run] = {}
        for q in env.queues:
            runs.update({r.id: r for r in (*(q.holders or ()), *q.queued_runs)})
        runs.update({r.id: r for r in env.env_holders or ()})
        runs.update({t.run.id: t.run for t in env.candidates})
        return runs

    def _blocked(self) -> dict[str, str]:
        env = self.env
        return {d.token.id: t.run.id for t in env.candidates for d in t.tokens} if env is not None else {}

    def action_recover(self, what: str) -> None:
        finding = self.selected()
        if finding is not None:
            self.recovery.start(finding, what, runs=self._runs_index(), blocked=self._blocked())

    def recovered(self) -> None:
        self.refresh_now()

    def action_diagnose(self) -> None:
        finding = self.selected()
        if finding is not None and finding.runs:
            self.app.push_screen(DiagnosisScreen(self.session, finding.runs[0]))

    def _enter_hint(self, finding: Finding) -> str:
        if len(finding.queues) == 1:
            return f"enter: runs of queue {clean(finding.queues[0], 60)}"
        return f"enter: the {len(finding.runs)} runs" if finding.runs else ""

    @on(FastTable.Selected)
    def _open(self, event: FastTable.Selected) -> None:
        finding = self._by_key.get(event.key)
        if finding is None or self.env is None:
            return
        queues = [q.queue for q in self.env.queues if q.name in finding.queues]
        if len(finding.queues) == 1 and len(queues) == 1:
            self.post_message(OpenRuns((queues[0].name, queues[0].type), origin=self.PANE))
        elif finding.runs:
            self.app.push_screen(AffectedRunsScreen(self.session, finding, self._runs_index()))
        else:
            self.notify("This finding names no runs", timeout=3)
