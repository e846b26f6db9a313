"""Queue recoveries from the keyboard: resume a paused queue, override/reset the limit, repair queues (admin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.actions_sim import Rig, rig, wait_note
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.actions import read_entries
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.screens.queues import QueuesScreen
from tui.screens.repair import RepairScreen


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def select(r: Rig, name: str) -> QueuesScreen:
    screen = r.app.screen
    assert isinstance(screen, QueuesScreen)
    await wait_for(r.pilot, lambda: screen.select_queue(name))
    return screen


async def confirm(r: Rig) -> str:
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
    text = screen_text(r.app)
    await r.pilot.press("y")
    return text


async def test_p_resumes_the_paused_queue_and_verifies_it_flows(state_dir: Path) -> None:
    async with rig("queue-paused") as r:
        await select(r, "process-video")
        await r.pilot.press("p")
        text = await confirm(r)
        assert "Resume queue process-video" in text and "queued" in text and "running" in text
        await wait_note(r, "verified")
        assert r.engine.queues["task/process-video"].paused is False
        assert r.transport.posts("/pause") == ["/api/v1/queues/process-video/pause"]
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert entry.action == "resume_queue" and entry.complete and entry.verification


async def test_override_validates_a_positive_integer_then_reset_restores() -> None:
    async with rig("queue-paused") as r:
        await select(r, "process-video")
        await r.pilot.press("o")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, PromptScreen))
        await r.pilot.press("ctrl+a", "ctrl+k", "0", "enter")
        await wait_for_text(r.pilot, "at least 1")
        assert isinstance(r.app.screen, PromptScreen)
        await r.pilot.press("backspace", "7", "enter")
        text = await confirm(r)
        assert "to 7" in text
        await wait_note(r, "verified")
        assert r.engine.queues["task/process-video"].limit == 7
        await r.pilot.press("O")
        await confirm(r)
        await wait_for(r.pilot, lambda: len(r.transport.posts("/concurrency/reset")) == 1)
        await wait_for(r.pilot, lambda: r.engine.queues["task/process-video"].limit != 7)


async def test_repair_dry_run_table_apply_and_clean_second_dry_run(state_dir: Path) -> None:
    async with rig("queue-drift") as r:
        await r.pilot.press("R")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RepairScreen))
        await wait_for_text(r.pilot, "repairSnapshot")
        text = screen_text(r.app)
        assert "leaked slot(s) would be repaired" in text
        assert text.index("repairSnapshot") < text.index("ignore") if "ignore" in text else True  # repairs first
        # The preview is a dry run (a background triage may send one too); nothing is applied before `a`.
        assert r.transport.posts("/repair-queues", '"dryRun"') and not r.transport.posts("/repair-queues")
        await r.pilot.press("a")
        await confirm(r)
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RepairScreen), timeout=8)
        await wait_for_text(r.pilot, "nothing to repair")
        await wait_note(r, "verified")
    actions = [e.action for e in read_entries(state_dir / "audit.jsonl")]
    assert actions == ["repair_dry_run", "apply_repair"]


async def test_repair_without_admin_token_explains_how_to_configure() -> None:
    async with rig("queue-drift", admin=False) as r:
        await r.pilot.press("R")
        await wait_note(r, "admin_token_env")
        assert r.transport.posts() == []
