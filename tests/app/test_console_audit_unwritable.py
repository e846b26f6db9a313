"""The console with an unwritable state directory: a mutation is refused, naming the path; the console stays up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.actions_sim import rig, runs_pane, wait_note
from tests.app.harness import wait_for
from tests.app.screen_text import screen_text
from tui.config import STATE_DIR_ENV
from tui.screens.confirm import ConfirmScreen


@pytest.fixture
def blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    wall = tmp_path / "not-a-dir"
    wall.write_text("")  # a directory below a file cannot be made, even by root
    monkeypatch.setenv(STATE_DIR_ENV, str(wall / "state"))
    return wall / "state" / "audit.jsonl"


async def test_a_cancel_is_refused_before_its_confirmation_and_the_console_stays_up(blocked: Path) -> None:
    async with rig("entity-offline") as r:
        await runs_pane(r)
        await r.pilot.press("c")
        await wait_note(r, f"the audit log {blocked} is not writable")
        assert not isinstance(r.app.screen, ConfirmScreen)
        assert r.transport.posts("/cancel") == []
        assert "nothing sent" in r.notifications() and STATE_DIR_ENV in r.notifications()
        # Still a working console: the next key is served, the panes still poll.
        await r.pilot.press("1")
        await wait_for(r.pilot, lambda: "Queues" in screen_text(r.app) or "queues" in screen_text(r.app))
        assert r.app.is_running and r.app.return_code is None


async def test_write_elevation_is_refused_with_the_path(blocked: Path) -> None:
    async with rig("entity-offline", read_only=True) as r:
        await r.app.run_command(":write 15m")
        await r.pilot.pause(0.1)
        await r.pilot.press(*"INC-42")
        await r.pilot.press("enter")
        await wait_note(r, str(blocked))
        assert "WRITE" not in screen_text(r.app).splitlines()[0]
        assert r.app.is_running
