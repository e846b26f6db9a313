"""The console on the simulator in-process for the diagnosis tests: frozen clock, a flows stub that records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from textual.pilot import Pilot

from tests.app.harness import wait_for
from tests.simclient import QUICK_RETRY
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Plugin, Settings
from tui.diagnosis import Finding, triage
from tui.diagnosis.gather import gather_environment_facts
from tui.sim import server

START = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
SCALE = Plugin("scale-workers", "true {replicas}", "scale the worker pool")


class Switch(httpx.AsyncBaseTransport):
    """An ASGI transport that can be unplugged: while down, every request fails to connect."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.down = False
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class RecordingFlows:
    """Stands in for ActionFlows: records each call; `client` set makes resume/complete really happen."""

    client: EngineClient | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def cancel_runs(self, runs: Any) -> None:
        self.calls.append(("cancel_runs", [r.id for r in runs]))
        if self.client is not None:
            for run in runs:
                await self.client.cancel_run(run.id)

    async def toggle_pause(self, queue: Any) -> None:
        self.calls.append(("toggle_pause", queue.stored_name))
        if self.client is not None:
            await self.client.pause_queue(queue, not queue.paused)

    async def override(self, queue: Any) -> None:
        self.calls.append(("override", queue.stored_name))

    async def reset(self, queue: Any) -> None:
        self.calls.append(("reset", queue.stored_name))

    async def complete_token(self, token_id: str, blocked_run_id: str | None = None) -> None:
        self.calls.append(("complete_token", (token_id, blocked_run_id)))
        if self.client is not None:
            await self.client.complete_token(token_id, {"approved": True})

    async def repair(self, queues: Any = ()) -> None:
        self.calls.append(("repair", tuple(queues)))

    async def replay(self, run: Any) -> None:
        self.calls.append(("replay", run.id))

    async def run_plugin(self, plugin: Any, preset: Any = None) -> None:
        self.calls.append(("run_plugin", plugin.name))

    async def rollback(self, target_version: str) -> None:
        self.calls.append(("rollback", target_version))


@dataclass
class SimConsole:
    app: PlatosApp
    pilot: Pilot[Any]
    engine: Any
    transport: Switch
    client: EngineClient

    async def findings(self) -> list[Finding]:
        assert self.app.session is not None
        th = self.app.session.settings.thresholds
        return triage(await gather_environment_facts(self.client, th, self.engine.now), th)

    async def stuck_run(self) -> str:
        """The first run the scenario's first finding names."""
        return (await self.findings())[0].runs[0]


@asynccontextmanager
async def sim_console(
    scenario: str,
    *,
    size: tuple[int, int] = (120, 40),
    flows: bool = True,
    plugins: tuple[Plugin, ...] = (SCALE,),
    refresh: float = 0.05,
) -> AsyncIterator[SimConsole]:
    sim_app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=1, start=START))
    engine = sim_app.state.sim.engine
    transport = Switch(sim_app)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY,
                        refresh_seconds=refresh, demo=True, plugins=plugins)

    def make_client(config: Settings) -> EngineClient:
        # The simulator's clock is the engine's frozen one: read the bastion's clock from it too (no skew).
        return EngineClient(config.url, config.secret_key, transport=transport, budget_per_second=None,
                            guard=WriteGuard(read_only=False), wall_clock=lambda: engine.now.timestamp(),
                            retry=QUICK_RETRY)  # a test that unplugs the server waits for no backoff

    side = make_client(settings)
    app = PlatosApp(settings, make_client=make_client, clock=lambda: engine.now)
    try:
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.session is not None, timeout=10)
            assert app.session is not None
            # The app now builds real ActionFlows; None keeps the "actions not available" path testable.
            app.session.flows = RecordingFlows() if flows else None
            yield SimConsole(app, pilot, engine, transport, side)
    finally:
        await side.aclose()
