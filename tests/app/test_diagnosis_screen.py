"""The diagnosis screen on the simulator: cause and evidence, recovery keys into the flows, a ticking checklist."""

from __future__ import annotations

import re

import pytest

from tests.app.diagnosis_sim import RecordingFlows, sim_console
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.diagnosis import Cause, VerifyKind
from tui.model import RunStatus
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.run_detail import RunDetailScreen
from tui.screens.runs import RunsScreen
from tui.widgets.checklist import Checklist

CASES = {
    "worker-pool-zero": (Cause.WORKER_POOL_EMPTY, "STALLED"),
    "queue-paused": (Cause.QUEUE_PAUSED, "PAUSED"),
    "entity-offline": (Cause.ENTITY_BACKEND_UNREACHABLE, "HUNG"),
    "orphan-waitpoint": (Cause.WAITPOINT_WITHOUT_RESUMER, "WAITING"),
}


def section_text(screen: DiagnosisScreen) -> str:
    return "\n".join(c.text for c in screen.query(Checklist))


async def open_diagnosis(console: object, run_id: str) -> DiagnosisScreen:
    app, pilot = console.app, console.pilot  # type: ignore[attr-defined]
    assert app.session is not None
    screen = DiagnosisScreen(app.session, run_id)
    await app.push_screen(screen)
    await wait_for(pilot, lambda: screen.finding is not None or screen.error is not None, timeout=10)
    assert screen.error is None, screen.error
    await wait_for_text(pilot, "diagnosed at")
    return screen


@pytest.mark.parametrize("scenario", sorted(CASES))
async def test_shows_cause_path_and_evidence(scenario: str) -> None:
    cause, label = CASES[scenario]
    async with sim_console(scenario) as sim:
        run_id = await sim.stuck_run()
        screen = await open_diagnosis(sim, run_id)
        assert screen.finding is not None and screen.finding.cause is cause
        await wait_for_text(sim.pilot, "Verify (")
        text = screen_text(sim.app)
        assert f" {label} " in text and cause.value in text
        assert screen.finding.summary[:60] in text
        assert "Runbook path" in text and "✓ yes" in text and "✗ no" in text
        assert "Recovery" in text and "Verify (" in text
        sections = section_text(screen)
        assert "Evidence" in sections
        # evidence cites numbers from the simulator
        numbered = [e for e in screen.finding.evidence if re.search(r"\d", e)]
        assert numbered and all(e[:80] in sections for e in numbered)


async def test_worker_pool_recovery_offers_the_plugin_and_runs_it() -> None:
    async with sim_console("worker-pool-zero") as sim:
        screen = await open_diagnosis(sim, await sim.stuck_run())
        assert "[x] plugin scale-workers" in section_text(screen)
        await sim.pilot.press("x")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("run_plugin", "scale-workers")]


async def test_recovery_key_starts_the_flow_with_the_live_queue() -> None:
    async with sim_console("queue-paused") as sim:
        screen = await open_diagnosis(sim, await sim.stuck_run())
        assert screen.finding is not None
        [queue] = screen.finding.queues
        await sim.pilot.press("p")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("toggle_pause", queue)]
        await sim.pilot.press("c")  # not offered for a paused queue: nothing happens
        await sim.pilot.pause(0.1)
        assert len(flows.calls) == 1


async def test_waitpoint_key_completes_the_token_of_the_blocked_run() -> None:
    async with sim_console("orphan-waitpoint") as sim:
        run_id = await sim.stuck_run()
        screen = await open_diagnosis(sim, run_id)
        assert screen.finding is not None
        token = next(r.target for r in screen.finding.recovery if r.key == "r")
        await sim.pilot.press("r")
        flows = sim.app.session.flows  # type: ignore[union-attr]
        await wait_for(sim.pilot, lambda: flows.calls != [])
        assert flows.calls == [("complete_token", (token, run_id))]


async def test_without_flows_the_key_says_actions_are_not_available() -> None:
    async with sim_console("queue-paused", flows=False) as sim:
        await open_diagnosis(sim, await sim.stuck_run())
        await sim.pilot.press("p")
        await wait_for(sim.pilot, lambda: any("not available" in n.message for n in sim.app._notifications))


async def test_verify_checks_tick_after_the_queue_is_resumed() -> None:
    async with sim_console("queue-paused") as sim:
        sim.app.session.flows = RecordingFlows(sim.client)  # type: ignore[union-attr]
        screen = await open_diagnosis(sim, await sim.stuck_run())
        assert screen.finding is not None
        await wait_for(sim.pilot, lambda: bool(screen.results))
        flowing = [r for r in screen.results if r.check.kind is VerifyKind.RUNS_FLOWING]
        assert flowing and not flowing[0].holds
        await wait_for_text(sim.pilot, "[ ]")
        await sim.pilot.press("p")  # resumes through the client
        await wait_for(sim.pilot, lambda: sim.app.session.flows.calls != [])  # type: ignore[union-attr]
        sim.engine.advance(300)
        await wait_for(
            sim.pilot,
            lambda: any(r.holds for r in screen.results if r.check.kind is VerifyKind.RUNS_FLOWING),
            timeout=10,
        )
        await wait_for_text(sim.pilot, "[✓]")


async def test_run_status_check_ticks_after_cancel() -> None:
    async with sim_console("entity-offline") as sim:
        sim.app.session.flows = RecordingFlows(sim.client)  # type: ignore[union-attr]
        run_id = await sim.stuck_run()
        screen = await open_diagnosis(sim, run_id)
        await sim.pilot.press("c")
        await wait_for(
            sim.pilot,
            lambda: any(r.holds for r in screen.results if r.check.kind is VerifyKind.RUN_STATUS),
            timeout=10,
        )
        assert ("cancel_runs", [run_id]) in sim.app.session.flows.calls  # type: ignore[union-attr]


async def test_an_unknown_run_is_a_clear_message_not_a_crash() -> None:
    async with sim_console("healthy") as sim:
        assert sim.app.session is not None
        screen = DiagnosisScreen(sim.app.session, "run_doesnotexist0000000000")
        await sim.app.push_screen(screen)
        await wait_for(sim.pilot, lambda: screen.error is not None, timeout=10)
        await wait_for_text(sim.pilot, "Could not diagnose run")
        await sim.pilot.press("escape")
        await wait_for(sim.pilot, lambda: not isinstance(sim.app.screen, DiagnosisScreen))


async def test_server_down_keeps_the_screen_alive() -> None:
    async with sim_console("queue-paused") as sim:
        run_id = await sim.stuck_run()
        sim.transport.down = True
        assert sim.app.session is not None
        screen = DiagnosisScreen(sim.app.session, run_id)
        await sim.app.push_screen(screen)
        await wait_for(sim.pilot, lambda: screen.error is not None, timeout=10)
        assert "ctrl+r tries again" in screen_text(sim.app)
        sim.transport.down = False
        await sim.pilot.press("ctrl+r")
        await wait_for(sim.pilot, lambda: screen.finding is not None and screen.error is None, timeout=10)


async def test_d_on_the_runs_pane_and_run_detail_opens_the_diagnosis() -> None:
    async with sim_console("queue-paused") as sim:
        app, pilot = sim.app, sim.pilot
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.cursor_key is not None,
                       timeout=10)
        key = app.screen.table.cursor_key  # type: ignore[attr-defined]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiagnosisScreen))
        assert app.screen.run_id == key  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        app.open_run(key)
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiagnosisScreen))
        await wait_for(pilot, lambda: app.screen.finding is not None, timeout=10)  # type: ignore[attr-defined]


async def test_help_lists_the_recovery_keys_of_the_diagnosis() -> None:
    async with sim_console("queue-paused") as sim:
        await open_diagnosis(sim, await sim.stuck_run())
        await sim.pilot.press("question_mark")
        await wait_for_text(sim.pilot, "Resume queue")
        assert "Re-diagnose" in screen_text(sim.app)


async def test_a_finished_run_is_not_stuck() -> None:
    async with sim_console("healthy") as sim:
        page = await sim.client.list_runs(statuses=[RunStatus.COMPLETED], page_size=1)
        screen = await open_diagnosis(sim, page.items[0].id)
        assert screen.finding is not None and screen.finding.cause is Cause.NOT_STUCK
        text = screen_text(sim.app)
        assert " OK " in text and "not_stuck" in text
        assert "Cancel run" not in text  # no recovery key is offered in the footer


async def test_verify_keeps_the_checklist_and_says_stale_when_the_server_fails() -> None:
    async with sim_console("queue-paused") as sim:
        screen = await open_diagnosis(sim, await sim.stuck_run())
        await wait_for(sim.pilot, lambda: bool(screen.results))
        seen = screen.results
        sim.transport.down = True
        screen.recovered()  # look again now
        await wait_for(sim.pilot, lambda: "stale:" in section_text(screen), timeout=10)
        assert screen.results == seen and "[ ]" in section_text(screen)
