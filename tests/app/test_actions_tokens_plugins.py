"""Complete a waitpoint token through the JSON editor; run the scale-workers plugin; `:audit`; bulk cancel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.widgets import TextArea

from tests.app.actions_sim import Rig, rig, runs_pane, wait_note
from tests.app.harness import wait_for, wait_for_text
from tests.app.screen_text import screen_text
from tui.actions import Verifier, VerifyOptions, read_entries
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Plugin, Settings
from tui.screens.audit import AuditScreen, TextScreen
from tui.screens.bulk import BulkProgressScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.flows import ActionFlows
from tui.screens.prompt import PromptScreen
from tui.screens.token_editor import TokenEditorScreen
from tui.screens.waitpoints import WaitpointsScreen
from tui.sim import server


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def open_editor(r: Rig) -> tuple[str, TextArea]:
    await r.pilot.press("3")
    await wait_for(
        r.pilot, lambda: isinstance(r.app.screen, WaitpointsScreen) and r.app.screen.selected_token() is not None
    )
    screen = r.app.screen
    assert isinstance(screen, WaitpointsScreen)
    token = screen.selected_token()
    assert token is not None
    await r.pilot.press("r")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, TokenEditorScreen))
    return token.id, r.app.screen.query_one(TextArea)


async def test_complete_an_orphan_token_with_validated_json(state_dir: Path) -> None:
    async with rig("orphan-waitpoint") as r:
        token_id, area = await open_editor(r)
        assert area.text == "{}"
        area.move_cursor((0, 1))
        await r.pilot.press(*'"approved": tru')
        await wait_for_text(r.pilot, "cannot send")
        await r.pilot.press("ctrl+s")
        await r.pilot.pause(0.05)
        assert isinstance(r.app.screen, TokenEditorScreen)  # an invalid body cannot be sent
        await r.pilot.press("e")
        await wait_for_text(r.pilot, "valid JSON")
        await r.pilot.press("ctrl+s")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        assert '{"approved": true}' in screen_text(r.app)
        await r.pilot.press("y")
        await wait_note(r, "verified")
        assert r.engine.tokens[token_id.removeprefix("waitpoint_")].status == "COMPLETED"
        assert r.transport.posts("/complete") == [f"/api/v1/waitpoints/tokens/{token_id}/complete"]
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert entry.action == "complete_token" and entry.outcome == "ok"


async def test_token_editor_escape_sends_nothing() -> None:
    async with rig("orphan-waitpoint") as r:
        await open_editor(r)
        await r.pilot.press("escape")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, WaitpointsScreen))
        assert r.transport.posts() == []


async def test_audit_command_shows_the_log() -> None:
    async with rig("queue-drift", admin=False) as r:
        await r.app.run_command(":audit")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, AuditScreen))
        await wait_for_text(r.pilot, "Audit log (0 attempts)")


async def test_cancel_matching_counts_first_then_shows_progress(state_dir: Path) -> None:
    async with rig("entity-offline") as r:
        await runs_pane(r)
        await r.app.run_command(":cancel-matching")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        confirmation = r.app.screen.confirmation
        assert confirmation.expected_text is not None and int(confirmation.expected_text) > 0
        assert r.transport.posts() == []
        await r.pilot.press(*confirmation.expected_text, "enter")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, BulkProgressScreen))
        await wait_for(r.pilot, lambda: len(r.transport.posts("/bulk-actions")) == 1)
        await wait_for_text(r.pilot, "processed", timeout=8)


async def test_scale_workers_plugin_runs_without_a_shell_and_dequeue_resumes(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLATOS_SIM_TOKEN", raising=False)  # the plugin's own env must supply it
    sim = server.start_in_background(server.SimOptions(port=0, scenario="worker-pool-zero", speed=30))
    try:
        command = f"{sys.executable} -m tui.sim.control --url {sim.url} scale-workers {{replicas}}"
        plugin = Plugin("scale-workers", command, "scale", env=(("PLATOS_SIM_TOKEN", sim.admin_token),))
        settings = Settings(
            profile="t", url=sim.url, secret_key=sim.secret_key, refresh_seconds=0.2, plugins=(plugin,)
        )

        def make_client(config: Settings) -> EngineClient:
            guard = WriteGuard(read_only=False)
            return EngineClient(config.url, config.secret_key, budget_per_second=None, guard=guard)

        app = PlatosApp(settings, make_client=make_client)
        async with app.run_test(size=(140, 45)) as pilot:
            await wait_for(pilot, lambda: app.session is not None, timeout=5)
            session = app.session
            assert session is not None
            options = VerifyOptions(interval=0.2, timeout=10)
            session.flows = ActionFlows(app, session, verifier=Verifier(session.client, options))
            await app.run_command(":plugin scale-workers")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
            await pilot.press("4", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await wait_for_text(pilot, "scale-workers 4")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), timeout=15)
            await wait_for_text(pilot, "exited 0")  # the screen is pushed before its first paint
            await wait_for(pilot, lambda: any("verified" in n.message for n in app._notifications), timeout=15)
    finally:
        sim.stop()
    [entry] = read_entries(state_dir / "audit.jsonl")
    assert entry.action == "plugin:scale-workers" and entry.outcome == "ok"
    assert sim.admin_token not in (state_dir / "audit.jsonl").read_text()
