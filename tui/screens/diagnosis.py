"""The diagnosis of one run: the runbook path, the cause, the recovery keys, and a verify checklist that ticks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from tui.api.errors import ApiError
from tui.diagnosis import Finding, Observation, RunFacts, VerifyResult, diagnose, evaluate_all
from tui.diagnosis.fmt import dur
from tui.diagnosis.gather import gather_run_facts
from tui.diagnosis.observe import observe
from tui.diagnosis.verify import merge
from tui.model.text import clean
from tui.screens.bar import bar_state, covered_by_modal, refresh_top_bar
from tui.screens.finding_view import (
    cause_content,
    evidence_items,
    path_items,
    recovery_items,
    verify_items,
    verify_title,
)
from tui.screens.recovery import RecoveryRunner
from tui.screens.session import PaneStatus, Session
from tui.widgets.checklist import Checklist, FindingSection
from tui.widgets.footer import KeyFooter
from tui.widgets.topbar import TopBar, TopBarState

VERIFY_GROUP = "diagnosis-verify"
VERIFY_EVERY = 2
"""Re-observe the checks every this many refresh intervals (an observation can cost ~10 requests)."""


class DiagnosisScreen(Screen[None]):
    """Gathers the run's facts in a worker, shows the finding, then re-observes its verify checks."""

    CSS_PATH = str(Path(__file__).parent.parent / "styles" / "diagnosis.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="diagnosis.back", tooltip="Return to where you were"),
        Binding(
            "ctrl+r",
            "refresh_now",
            "Re-diagnose",
            id="diagnosis.refresh",
            tooltip="Gather the facts again and re-run the runbook",
        ),
        Binding("c", "recover('cancel')", "Cancel run", id="diagnosis.cancel"),
        Binding("p", "recover('resume_queue')", "Resume queue", id="diagnosis.resume"),
        Binding("r", "recover('complete_token')", "Complete token", id="diagnosis.complete"),
        Binding("R", "recover('repair_queues')", "Repair queues", id="diagnosis.repair"),
        Binding("o", "recover('override_concurrency')", "Override limit", id="diagnosis.override"),
        Binding(
            "C",
            "recover('cancel_matching')",
            "Bulk cancel",
            id="diagnosis.cancel_matching",
            tooltip="Cancel every run the finding's filter matches (server-side bulk cancel; count and confirm first)",
        ),
        Binding(
            "b",
            "recover('rollback')",
            "Roll back",
            id="diagnosis.rollback",
            tooltip="Promote the previous deployed version again (dry run and confirmation first)",
        ),
        Binding(
            "x",
            "recover('plugin')",
            "Run plugin",
            id="diagnosis.plugin",
            tooltip="Run the profile plugin the recovery names (e.g. scale-workers)",
        ),
    ]

    def __init__(self, session: Session, run_id: str) -> None:
        super().__init__()
        self.session = session
        self._run_id = run_id
        self.facts: RunFacts | None = None
        self.finding: Finding | None = None
        self.results: tuple[VerifyResult, ...] = ()
        self.error: str | None = None
        self._observation = Observation()
        self._wake = asyncio.Event()
        self._started = 0.0
        self._ticker: Timer | None = None
        self._verify_note = ""
        self.recovery = RecoveryRunner(self, session)
        self.freshness = PaneStatus()

    @property
    def run_id(self) -> str:
        """What `y` copies."""
        return self._run_id

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(Content(f"Diagnosis of run {clean(self._run_id, 80)}"), id="diagnosis-title")
        yield Static(Content("starting…"), id="diagnosis-state")
        yield FindingSection(id="diagnosis-cause")
        with Horizontal(id="diagnosis-body"):
            with VerticalScroll(id="diagnosis-left"):
                yield Checklist(id="diagnosis-path")
                yield Checklist(id="diagnosis-evidence")
                yield Checklist(id="diagnosis-notes")
            with VerticalScroll(id="diagnosis-right"):
                yield Checklist(id="diagnosis-recovery")
                yield Checklist(id="diagnosis-verify")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._ticker = self.set_interval(1.0, self._tick_progress)
        refresh_top_bar(self)
        self._diagnose()

    def bar_state(self) -> TopBarState:
        """Fresh as the last gather or verify observation; stale when those failed for three of its intervals."""
        status = self.freshness
        interval = VERIFY_EVERY * self.session.settings.refresh_seconds
        stale = status.stale(interval, trying=self.finding is None and self.error is None)
        return bar_state(self.session, updated_at=status.updated_at, stale=stale, error=status.error)

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, VERIFY_GROUP)

    # ----- keys -----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "recover":
            return True
        if parameters[0] == "plugin":
            return self.finding is not None  # `x` says why when no plugin fits the finding
        return self.finding is not None and self.recovery.offers(self.finding, str(parameters[0]))

    def action_back(self) -> None:
        self.dismiss()

    def action_refresh_now(self) -> None:
        self._diagnose()

    def action_recover(self, what: str) -> None:
        if self.finding is not None:
            self.recovery.start(self.finding, what, self.facts)

    def recovered(self) -> None:
        """An action finished: look at the verify checks again now rather than at the next tick."""
        self._wake.set()

    # ----- gathering ------------------------------------------------------------------------------------

    def _tick_progress(self) -> None:
        refresh_top_bar(self)
        if self.finding is None and self.error is None:
            waited = int(time.monotonic() - self._started)
            self._state(f"⠿ gathering facts for {clean(self._run_id, 60)}… {waited} s (run, queues, metrics, trace)")

    def _state(self, text: str, style: str = "") -> None:
        with contextlib.suppress(Exception):  # the screen may be closing
            self.query_one("#diagnosis-state", Static).update(Content.styled(text, style))

    @work(exclusive=True, group="diagnosis-gather")
    async def _diagnose(self) -> None:
        self._started = time.monotonic()
        self.error = None
        self._tick_progress()
        settings = self.session.settings
        try:
            facts = await gather_run_facts(self.session.client, self._run_id, settings.thresholds, self.session.clock())
            finding = diagnose(facts, settings.thresholds)
        except ApiError as error:
            self._failed(str(error) or type(error).__name__)
            return
        except Exception as error:  # a bug in a rule must not take the console down during an incident
            self.log.error(f"diagnosis of {self._run_id} failed: {error!r}")
            self._failed(f"internal error ({type(error).__name__}: {clean(str(error), 120)})")
            return
        self.facts, self.finding = facts, finding
        self.freshness.succeeded(self.session.clock())
        self._observation = Observation()
        self.results = ()
        try:
            await self._render_finding()
        except NoMatches:
            return  # the screen closed while the facts were gathered
        self.refresh_bindings()
        self._verify_loop()

    def _failed(self, reason: str) -> None:
        self.error = reason
        self.freshness.failed(reason)
        kept = " Showing the last diagnosis." if self.finding is not None else ""
        self._state(
            f"✗ Could not diagnose run {clean(self._run_id, 60)}: {clean(reason, 200)}.{kept} ctrl+r tries again.",
            "bold $error",
        )
        self.notify(f"Diagnosis failed: {clean(reason, 120)}", title="Diagnosis", severity="error")

    async def _render_finding(self) -> None:
        finding = self.finding
        if finding is None:
            return
        plugins = self.recovery.plugin_names
        if self.facts is not None:
            run = self.facts.run
            title = (
                f"Diagnosis of run {clean(run.id, 60)} · {clean(run.task_identifier, 40)} · "
                f"{run.status.value} for {dur(self.facts.time_in_status())}"
            )
            self.query_one("#diagnosis-title", Static).update(Content(title))
        self.query_one("#diagnosis-cause", FindingSection).update(cause_content(finding))
        await self.query_one("#diagnosis-path", Checklist).show("Runbook path", path_items(finding.path))
        await self.query_one("#diagnosis-evidence", Checklist).show("Evidence", evidence_items(finding.evidence))
        notes = self.facts.env.notes if self.facts is not None else ()
        notes_list = self.query_one("#diagnosis-notes", Checklist)
        notes_list.display = bool(notes)
        await notes_list.show("Not checked", evidence_items(notes))
        recovery = self.query_one("#diagnosis-recovery", Checklist)
        await recovery.show("Recovery", recovery_items(finding.recovery, plugins), "nothing to do")
        await self._render_verify()
        self._state(f"diagnosed at {self.session.clock():%H:%M:%S} · ctrl+r re-diagnoses · esc back")

    async def _render_verify(self) -> None:
        finding = self.finding
        if finding is None:
            return
        results = self.results or None
        await self.query_one("#diagnosis-verify", Checklist).show(
            verify_title(finding.verify, results, self._verify_note),
            verify_items(finding.verify, results),
            "nothing to verify",
        )

    # ----- verify ---------------------------------------------------------------------------------------

    @work(exclusive=True, group=VERIFY_GROUP)
    async def _verify_loop(self) -> None:
        """Re-observe what the checks name, every refresh interval while shown, and at once after an action."""
        while True:
            woken = self._wake.is_set()  # after an action: look even while polling is paused
            self._wake.clear()
            finding = self.finding
            if finding is not None and finding.verify and (woken or not self.session.paused):
                await self.observe_once(finding)
            interval = max(0.05, VERIFY_EVERY * self.session.settings.refresh_seconds)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()

    async def observe_once(self, finding: Finding) -> None:
        window = self.facts.env.window if self.facts is not None else "15m"
        try:
            fresh = await observe(self.session.client, finding.verify, window=window)
        except ApiError as error:
            self._verify_note = f"stale: {clean(str(error), 80)}"
            self.freshness.failed(str(error))
        except Exception as error:  # keep the checklist on screen whatever happens
            self._verify_note = f"stale: internal error ({type(error).__name__})"
        else:
            if not (fresh.queues or fresh.metrics or fresh.runs or fresh.tokens):
                # observe() swallows failed calls (they stay unobserved): an empty answer means none got through.
                why = self.session.client.stats().last_error or "nothing could be read"
                self._verify_note = f"stale: {clean(str(why), 80)}"
                self.freshness.failed(str(why))
            else:
                self._observation = merge(self._observation, fresh)
                self.results = evaluate_all(finding.verify, self._observation)
                self._verify_note = f"seen {self.session.clock():%H:%M:%S}"
                self.freshness.succeeded(self.session.clock())
        if finding is self.finding:
            with contextlib.suppress(NoMatches):  # the screen is closing
                await self._render_verify()

    def on_screen_suspend(self) -> None:
        if covered_by_modal(self):
            return  # a confirmation over the diagnosis: the checklist keeps ticking
        self.workers.cancel_group(self, VERIFY_GROUP)

    def on_screen_resume(self) -> None:
        if self.finding is not None:
            self._verify_loop()

    def describe(self) -> dict[str, Any]:
        """What the screen concluded, for tests and the help panel."""
        return {"finding": self.finding, "results": self.results, "error": self.error}
