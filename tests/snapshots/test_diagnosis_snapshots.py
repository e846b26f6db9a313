"""SVG snapshot of the diagnosis screen at 120x40 on the simulator's worker-pool-zero scenario, frozen clock."""

from __future__ import annotations

from typing import Any

import httpx
from textual.pilot import Pilot

from tests.app.diagnosis_sim import SCALE, START
from tests.app.harness import wait_for
from tests.app.screen_text import screen_text
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings
from tui.diagnosis import triage
from tui.diagnosis.gather import gather_environment_facts
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.triage import TRIAGE_EVERY
from tui.sim import server


def diagnosis_app(scenario: str) -> tuple[PlatosApp, Any]:
    sim_app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=1, start=START))
    engine = sim_app.state.sim.engine
    transport = httpx.ASGITransport(app=sim_app)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY,
                        refresh_seconds=0.05, demo=True, plugins=(SCALE,))

    def make_client(config: Settings) -> EngineClient:
        # The simulator's clock is the engine's frozen one: read the bastion's clock from it too (no skew).
        client = EngineClient(config.url, config.secret_key, transport=transport, budget_per_second=None,
                              guard=WriteGuard(read_only=False), wall_clock=lambda: engine.now.timestamp())
        # The measured request rate depends on how fast this machine ran the polls: pin it for the picture.
        client._budget.measured_rate = lambda: 0.0  # type: ignore[attr-defined]
        return client

    return PlatosApp(settings, make_client=make_client, clock=lambda: engine.now), engine


def test_diagnosis_screen_worker_pool_zero(snap_compare: Any) -> None:
    app, engine = diagnosis_app("worker-pool-zero")

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        assert app.session is not None
        th = app.session.settings.thresholds
        findings = triage(await gather_environment_facts(app.session.client, th, engine.now), th)
        screen = DiagnosisScreen(app.session, findings[0].runs[0])
        await app.push_screen(screen)
        await wait_for(pilot, lambda: bool(screen.results), timeout=10)
        app.session.paused = True  # the frame must not change under the camera
        # The bar says so on the screen's next tick (each second): the picture waits for it, however busy the machine.
        await wait_for(pilot, lambda: "seen 08:00:00" in screen_text(app) and "POLLING PAUSED" in screen_text(app))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_triage_pane_incident(snap_compare: Any) -> None:
    app, engine = diagnosis_app("incident")

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        engine.advance(300)
        await pilot.press("4")
        assert app.session is not None
        await wait_for(pilot, lambda: app.session.pane("triage").updated_at is not None, timeout=10)
        app.session.paused = True
        # The pace rests as long as the triage took, which depends on this machine: pin it to the configured one.
        app.screen._interval = TRIAGE_EVERY * app.session.settings.refresh_seconds  # type: ignore[attr-defined]
        app.screen.update_bars()  # type: ignore[attr-defined]
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
