"""The triage pane on the simulator: findings worst first, nothing stuck when healthy, stale but kept on errors."""

from __future__ import annotations

import re
from typing import Any

from tests.app.diagnosis_sim import sim_console
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.diagnosis import Cause
from tui.diagnosis.findings import SEVERITY
from tui.screens.affected_runs import AffectedRunsScreen
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.runs import RunsScreen
from tui.screens.triage import TRIAGE_EVERY, TriageScreen
from tui.widgets.table import FastTable


async def open_triage(sim: Any) -> TriageScreen:
    await sim.pilot.press("4")
    await wait_for(sim.pilot, lambda: isinstance(sim.app.screen, TriageScreen))
    screen: TriageScreen = sim.app.screen
    await wait_for(sim.pilot, lambda: screen.env is not None, timeout=15)
    await sim.pilot.pause(0.05)
    return screen


async def test_incident_findings_are_listed_worst_first_with_counts() -> None:
    async with sim_console("incident") as sim:
        sim.engine.advance(300)
        screen = await open_triage(sim)
        causes = [f.cause for f in screen.findings]
        assert {Cause.QUEUE_PAUSED, Cause.ENTITY_BACKEND_UNREACHABLE, Cause.WAITPOINT_WITHOUT_RESUMER} <= set(causes)
        severities = [SEVERITY[c] for c in causes]
        assert severities == sorted(severities)
        table = screen.query_one(FastTable)
        assert list(table.keys) == [f"{f.cause.value}:{f.entity or ''}" for f in screen.findings]
        text = screen_text(sim.app)
        assert "PAUSED:" in text and "HUNG:" in text and "findings," in text
        hung = next(f for f in screen.findings if f.cause is Cause.ENTITY_BACKEND_UNREACHABLE)
        pattern = r"HUNG: (\d+) runs hung calling entity `crm`.*?(?:; (\d+) more wait behind them|$)"
        counts = re.match(pattern, hung.summary)
        assert counts, hung.summary
        assert int(counts.group(1)) + int(counts.group(2) or 0) == len(hung.runs)
        # the detail area follows the cursor
        first = screen.findings[0]
        assert first.summary[:40] in text and "Evidence" in text


async def test_healthy_says_nothing_stuck() -> None:
    async with sim_console("healthy") as sim:
        screen = await open_triage(sim)
        assert screen.findings == []
        await wait_for_text(sim.pilot, "Nothing stuck")
        assert "0 findings" in screen_text(sim.app)


async def test_triage_runs_at_a_slower_cadence_than_the_panes() -> None:
    async with sim_console("healthy", refresh=0.5) as sim:
        screen = await open_triage(sim)
        assert screen._interval >= TRIAGE_EVERY * 0.5
        assert sim.app.session.triaged is not None  # the top bar says what a triage cost instead of its pace
        assert f"triage {sim.app.session.triaged.env.requests} req" in screen_text(sim.app)


async def test_an_error_keeps_the_findings_and_marks_them_stale() -> None:
    async with sim_console("queue-paused") as sim:
        screen = await open_triage(sim)
        before = list(screen.query_one(FastTable).keys)
        assert before == ["queue_paused:"]
        sim.transport.down = True
        await sim.pilot.press("ctrl+r")
        await wait_for(sim.pilot, lambda: sim.app.session.pane("triage").error is not None, timeout=10)
        await wait_for_text(sim.pilot, "STALE")
        assert list(screen.query_one(FastTable).keys) == before
        assert "PAUSED:" in screen_text(sim.app)


async def test_recovery_keys_work_from_the_triage_pane() -> None:
    async with sim_console("queue-paused") as sim:
        screen = await open_triage(sim)
        [finding] = screen.findings
        await sim.pilot.press("p")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("toggle_pause", finding.queues[0])]


async def test_plugin_key_scales_workers_from_triage() -> None:
    async with sim_console("worker-pool-zero") as sim:
        await open_triage(sim)
        await sim.pilot.press("x")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("run_plugin", "scale-workers")]


async def test_enter_on_a_one_queue_finding_opens_the_scoped_runs_pane() -> None:
    async with sim_console("queue-paused") as sim:
        screen = await open_triage(sim)
        [finding] = screen.findings
        await sim.pilot.press("enter")
        await wait_for(sim.pilot, lambda: isinstance(sim.app.screen, RunsScreen))
        scope = sim.app.session.run_queue  # type: ignore[union-attr]
        assert scope is not None and finding.queues[0].endswith(scope[0])


async def test_enter_on_a_many_run_finding_lists_them_and_d_diagnoses() -> None:
    async with sim_console("entity-offline") as sim:
        screen = await open_triage(sim)
        [finding] = screen.findings
        await sim.pilot.press("enter")
        await wait_for(sim.pilot, lambda: isinstance(sim.app.screen, AffectedRunsScreen))
        listed = sim.app.screen.query_one(FastTable)
        assert list(listed.keys) == list(finding.runs)
        await sim.pilot.press("c")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("cancel_runs", [finding.runs[0]])]
        await sim.pilot.press("d")
        await wait_for(sim.pilot, lambda: isinstance(sim.app.screen, DiagnosisScreen))
        diagnosis: DiagnosisScreen = sim.app.screen
        await wait_for(sim.pilot, lambda: diagnosis.finding is not None, timeout=10)
        assert diagnosis.finding is not None and diagnosis.finding.cause is Cause.ENTITY_BACKEND_UNREACHABLE


async def test_runs_pane_marks_exactly_what_triage_reports() -> None:
    """One definition of stuck: the runs pane's STUCK marks and the triage pane's runs agree row by row."""
    async with sim_console("incident") as sim:
        screen = await open_triage(sim)
        affected = {r for f in screen.findings for r in f.runs}
        await sim.pilot.press("2")
        await wait_for(sim.pilot, lambda: isinstance(sim.app.screen, RunsScreen))
        runs_pane: RunsScreen = sim.app.screen
        await wait_for(sim.pilot, lambda: bool(runs_pane.table.keys), timeout=10)
        await sim.pilot.pause(0.2)
        table = runs_pane.table
        marked = {key for key in table.keys if (row := table.row(key)) and getattr(row.cells[0], "text", "") == "STUCK"}
        assert marked, "nothing marked STUCK on the incident"
        assert marked <= affected, f"marked STUCK but not in triage: {sorted(marked - affected)[:5]}"
        assert set(table.keys) & affected <= marked, "in triage but not marked STUCK"
