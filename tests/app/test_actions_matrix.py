"""Every recovery action, driven by keys against the simulator, through the same five paths (issue 5):

the happy path (sent once, verified, one complete audit line), a cancelled confirmation, read-only refusal (the
counting transport proves nothing was sent), a server error during the action, and a second press while the
first is in flight (still one request).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.app.actions_sim import Rig, rig, runs_pane, wait_note
from tests.app.harness import polled, wait_for
from tests.app.rollback_sim import bad_deploy_finding
from tui.actions import read_entries
from tui.config import Plugin
from tui.screens.bulk import BulkProgressScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.screens.queues import QueuesScreen
from tui.screens.repair import RepairScreen
from tui.screens.run_detail import RunDetailScreen
from tui.screens.runs import RunsScreen
from tui.screens.token_editor import TokenEditorScreen
from tui.screens.waitpoints import WaitpointsScreen

Step = Callable[[Rig], Awaitable[object]]
MODALS = (ConfirmScreen, PromptScreen, TokenEditorScreen, RepairScreen)


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


# ----- steps: how an operator reaches each target and answers each question ---------------------------------


async def nothing(r: Rig) -> None:
    return None


def press(*keys: str) -> Step:
    async def step(r: Rig) -> None:
        await r.pilot.press(*keys)

    return step


def command(text: str) -> Step:
    async def step(r: Rig) -> None:
        await r.app.run_command(text)

    return step


async def run_detail(r: Rig) -> None:
    await runs_pane(r)
    screen = r.app.screen
    assert isinstance(screen, RunsScreen)
    run = screen.selected_run()
    assert run is not None
    r.app.open_run(run.id)
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunDetailScreen) and r.app.screen.detail is not None)


def queue(name: str) -> Step:
    async def step(r: Rig) -> None:
        screen = r.app.screen
        assert isinstance(screen, QueuesScreen)
        await wait_for(r.pilot, lambda: screen.select_queue(name))

    return step


def overridden(name: str) -> Step:
    """The queue with its limit overridden (through the engine, as another operator would have)."""

    async def step(r: Rig) -> None:
        r.engine.override(r.engine.queues[f"task/{name}"], 9, None)
        screen = r.app.screen
        assert isinstance(screen, QueuesScreen)
        screen.refresh_now()

        def shown() -> bool:
            selected = screen.selected_queue() if screen.select_queue(name) else None
            return selected is not None and selected.concurrency_limit == 9

        await wait_for(r.pilot, shown)

    return step


async def waitpoints_pane(r: Rig) -> None:
    await r.pilot.press("3")
    await wait_for(
        r.pilot, lambda: isinstance(r.app.screen, WaitpointsScreen) and r.app.screen.selected_token() is not None
    )


async def waiting_run_detail(r: Rig) -> None:
    """The run blocked on the orphan token, with the trace cursor on its wait.forToken() span."""
    await waitpoints_pane(r)
    screen = r.app.screen
    assert isinstance(screen, WaitpointsScreen)

    def blocked() -> list[str]:
        found = (screen.blocked_run(key) for key in screen.table.keys)
        return [run_id for run_id in found if run_id is not None and run_id.startswith("run_")]

    await wait_for(r.pilot, polled(screen, lambda: bool(blocked())))
    run_id = blocked()[0]
    r.app.open_run(run_id)
    await wait_for(
        r.pilot, lambda: isinstance(r.app.screen, RunDetailScreen) and r.app.screen.selected_token_id is not None
    )


async def send_editor(r: Rig) -> None:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, TokenEditorScreen))
    await r.pilot.press("ctrl+s")  # the prefilled {} is a valid body


async def limit_seven(r: Rig) -> None:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, PromptScreen))
    await r.pilot.press("ctrl+a", "ctrl+k", "7", "enter")


async def apply_dry_run(r: Rig) -> None:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, RepairScreen))
    await r.pilot.press("a")


async def plugin_argument(r: Rig) -> None:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, PromptScreen))
    await r.pilot.press(*"run-1", "enter")


async def confirm(r: Rig) -> None:
    """Answer the confirmation as the operator must: `y`, or the typed count or environment name."""
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
    screen = r.app.screen
    assert isinstance(screen, ConfirmScreen)
    expected = screen.confirmation.expected_text
    await r.pilot.press(*((*expected, "enter") if expected else ("y",)))


async def bulk_running(r: Rig) -> None:
    """A bulk cancel of the runs pane's filter, confirmed and started, its progress on screen."""
    guard = r.app.session.guard if r.app.session else None
    elevated = guard is not None and not guard.allows_writes()
    if elevated:  # read-only case: start the bulk in write mode, then let the elevation lapse
        assert guard is not None
        guard.elevate(600, "start a bulk cancel to abort")
    await runs_pane(r)
    await r.app.run_command(":cancel-matching")
    await confirm(r)
    await wait_for(
        r.pilot, lambda: isinstance(r.app.screen, BulkProgressScreen) and r.app.screen.bulk is not None
    )
    if elevated:
        assert guard is not None
        guard.drop()


async def hide_progress_then_start_again(r: Rig) -> None:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, BulkProgressScreen))
    await r.pilot.press("escape")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen))
    await r.app.run_command(":cancel-matching")


# ----- the actions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    scenario: str
    open: Step
    """Go to the target and select it."""
    start: Step
    """The key (or command) that starts the action."""
    ask: Step = nothing
    """What comes between the key and the confirmation: an editor, a prompt, the dry-run review."""
    path: str = ""
    body: str = ""
    """Which POSTs are the mutation (path and body fragments)."""
    action: str = ""
    sends: int = 1
    done: str = "verified: "
    again: Step | None = None
    """The second press while in flight (defaults to `start`)."""
    ask_read_only: bool = False
    """The ask step still happens in read-only (the repair dry run is a read)."""
    rig: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("cancel", "entity-offline", runs_pane, press("c"), path="/cancel", action="cancel_run"),
    Case("cancel-in-detail", "entity-offline", run_detail, press("c"), path="/cancel", action="cancel_run"),
    Case(
        "cancel-marked",
        "entity-offline",
        runs_pane,
        press("space", "j", "space", "c"),
        path="/cancel",
        action="cancel_run",
        sends=2,
        again=press("c"),
    ),
    Case(
        "cancel-matching",
        "entity-offline",
        runs_pane,
        command(":cancel-matching"),
        path="/bulk-actions",
        action="cancel_matching",
        again=hide_progress_then_start_again,
    ),
    Case(
        "abort-bulk",
        "entity-offline",
        bulk_running,
        press("a"),
        path="/abort",
        action="abort_bulk",
        rig={"step": 0.0, "pause": 0.1},  # the bulk makes no progress for a while, so it can still be aborted
    ),
    Case("replay", "entity-offline", run_detail, press("R"), path="/replay", action="replay_run", done="replayed as"),
    Case("resume-queue", "queue-paused", queue("process-video"), press("p"), path="/pause", action="resume_queue"),
    Case("pause-queue", "queue-paused", queue("agent-turn"), press("p"), path="/pause", action="pause_queue"),
    Case(
        "override",
        "queue-paused",
        queue("process-video"),
        press("o"),
        limit_seven,
        path="/concurrency/override",
        action="override_concurrency",
    ),
    Case(
        "reset",
        "queue-paused",
        overridden("process-video"),
        press("O"),
        path="/concurrency/reset",
        action="reset_concurrency",
    ),
    Case(
        "complete-token",
        "orphan-waitpoint",
        waitpoints_pane,
        press("r"),
        send_editor,
        path="/complete",
        action="complete_token",
    ),
    Case(
        "complete-token-in-detail",
        "orphan-waitpoint",
        waiting_run_detail,
        press("r"),
        send_editor,
        path="/complete",
        action="complete_token",
    ),
    Case(
        "repair",
        "queue-drift",
        nothing,
        press("R"),
        apply_dry_run,
        path="/repair-queues",
        body='"dryRun":false',
        action="apply_repair",
        ask_read_only=True,
    ),
    Case("rollback", "bad-deploy", bad_deploy_finding, press("b"), path="/promote", action="rollback"),
]


def mutations(r: Rig, case: Case) -> list[str]:
    return r.transport.posts(case.path, case.body)


def attempts(state_dir: Path, action: str) -> list[Any]:
    path = state_dir / "audit.jsonl"
    return [e for e in read_entries(path) if e.action == action] if path.exists() else []


async def reach_confirmation(r: Rig, case: Case) -> None:
    await case.open(r)
    await case.start(r)
    await case.ask(r)
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_happy_path_sends_once_verifies_and_audits(case: Case, state_dir: Path) -> None:
    async with rig(case.scenario, **case.rig) as r:
        await reach_confirmation(r, case)
        await confirm(r)
        await wait_note(r, case.done, timeout=8)
        assert not [n for n in r.app._notifications if n.title == case.action and "NOT verified" in n.message]
        assert len(mutations(r, case)) == case.sends
    entries = attempts(state_dir, case.action)
    assert len(entries) == case.sends
    assert all(e.complete and e.outcome == "ok" for e in entries)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_a_cancelled_confirmation_sends_nothing(case: Case, state_dir: Path) -> None:
    async with rig(case.scenario, **case.rig) as r:
        await reach_confirmation(r, case)
        before = len(r.transport.posts())
        await r.pilot.press("escape")
        await wait_for(r.pilot, lambda: not isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.pause(0.1)
        assert mutations(r, case) == [] and len(r.transport.posts()) == before
    assert attempts(state_dir, case.action) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_read_only_explains_and_sends_nothing(case: Case, state_dir: Path) -> None:
    async with rig(case.scenario, read_only=True, **case.rig) as r:
        await case.open(r)
        before = r.transport.posts()
        await case.start(r)
        if case.ask_read_only:
            await case.ask(r)
        await wait_note(r, "read-only")
        assert not isinstance(r.app.screen, ConfirmScreen)
        assert mutations(r, case) == []
        if not case.ask_read_only:  # only the repair's dry run (a read) may go out
            assert r.transport.posts() == before
    [entry] = attempts(state_dir, case.action)
    assert entry.outcome == "refused" and "read-only" in (entry.message or "")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_a_server_error_is_reported_once_and_the_app_lives_on(case: Case, state_dir: Path) -> None:
    async with rig(case.scenario, **case.rig) as r:
        await reach_confirmation(r, case)
        r.transport.fail[case.body or case.path] = 500
        await confirm(r)
        await wait_note(r, "failed", timeout=8)
        assert len(mutations(r, case)) == case.sends
        assert r.app.is_running and not isinstance(r.app.screen, ConfirmScreen)
    entries = attempts(state_dir, case.action)
    assert len(entries) == case.sends
    assert all(e.complete and e.outcome == "failed" for e in entries)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_a_second_press_in_flight_sends_nothing_more(case: Case, state_dir: Path) -> None:
    async with rig(case.scenario, **case.rig) as r:
        await reach_confirmation(r, case)
        gate = asyncio.Event()
        r.transport.gate = gate
        await confirm(r)
        await wait_for(r.pilot, lambda: len(mutations(r, case)) >= 1)
        await (case.again or case.start)(r)
        await wait_note(r, "already in progress")
        await r.pilot.pause(0.1)
        assert not isinstance(r.app.screen, MODALS)
        gate.set()
        await wait_note(r, case.done, timeout=8)
        assert len(mutations(r, case)) == case.sends
    assert len(attempts(state_dir, case.action)) == case.sends


# ----- plugins: the "request" is a process, so the probe counts its runs ----------------------------------------


def probe_plugin(directory: Path) -> Plugin:
    probe = Path(__file__).with_name("plugin_probe.py")
    return Plugin("probe", f"{sys.executable} {probe} {directory} {{note}}", "records each run")


def runs_of(directory: Path) -> list[str]:
    path = directory / "runs"
    return path.read_text().splitlines() if path.exists() else []


async def start_plugin(r: Rig) -> None:
    await r.app.run_command(":plugin probe")


async def plugin_confirmation(r: Rig) -> None:
    await start_plugin(r)
    await plugin_argument(r)
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))


async def test_plugin_happy_path_runs_once_with_its_argument_and_audits(tmp_path: Path, state_dir: Path) -> None:
    async with rig("worker-pool-zero", plugins=(probe_plugin(tmp_path),)) as r:
        await plugin_confirmation(r)
        await confirm(r)
        await wait_note(r, "probe exited 0", timeout=10)
    assert runs_of(tmp_path) == ["run-1"]
    [entry] = attempts(state_dir, "plugin:probe")
    assert entry.complete and entry.outcome == "ok"


async def test_plugin_cancelled_confirmation_runs_nothing(tmp_path: Path, state_dir: Path) -> None:
    async with rig("worker-pool-zero", plugins=(probe_plugin(tmp_path),)) as r:
        await plugin_confirmation(r)
        await r.pilot.press("escape")
        await wait_for(r.pilot, lambda: not isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.pause(0.2)
    assert runs_of(tmp_path) == [] and attempts(state_dir, "plugin:probe") == []


async def test_plugin_read_only_explains_and_runs_nothing(tmp_path: Path, state_dir: Path) -> None:
    async with rig("worker-pool-zero", read_only=True, plugins=(probe_plugin(tmp_path),)) as r:
        await start_plugin(r)
        await wait_note(r, "read-only")
        assert not isinstance(r.app.screen, MODALS)
    assert runs_of(tmp_path) == []
    assert [e.outcome for e in attempts(state_dir, "plugin:probe")] == ["refused"]


async def test_plugin_failure_is_reported_once_with_its_exit_code(tmp_path: Path, state_dir: Path) -> None:
    (tmp_path / "fail").touch()
    async with rig("worker-pool-zero", plugins=(probe_plugin(tmp_path),)) as r:
        await plugin_confirmation(r)
        await confirm(r)
        await wait_note(r, "probe exited 3", timeout=10)
        assert r.app.is_running
    assert runs_of(tmp_path) == ["run-1"]
    [entry] = attempts(state_dir, "plugin:probe")
    assert entry.complete and entry.outcome == "failed"


async def test_plugin_second_start_while_running_runs_nothing_more(tmp_path: Path, state_dir: Path) -> None:
    hold = tmp_path / "hold"
    hold.touch()
    async with rig("worker-pool-zero", plugins=(probe_plugin(tmp_path),)) as r:
        await plugin_confirmation(r)
        await confirm(r)
        await wait_for(r.pilot, lambda: runs_of(tmp_path) == ["run-1"], timeout=10)
        await start_plugin(r)
        await wait_note(r, "already in progress")
        assert not isinstance(r.app.screen, MODALS)
        hold.unlink()
        await wait_note(r, "probe exited 0", timeout=10)
    assert runs_of(tmp_path) == ["run-1"]
    assert len(attempts(state_dir, "plugin:probe")) == 1
