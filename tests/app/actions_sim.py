"""The console on the in-process simulator for action tests: a counting/failing/gated transport, fast verification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from textual.pilot import Pilot

from tests.app.harness import wait_for
from tests.simclient import START, Counting
from tui.actions import Verifier, VerifyOptions
from tui.api.client import EngineClient, RetryPolicy
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Plugin, Settings
from tui.journal import Journal
from tui.model import EnvironmentType
from tui.screens.flows import ActionFlows
from tui.screens.runs import RunsScreen
from tui.sim import server


@dataclass
class Rig:
    app: PlatosApp
    pilot: Pilot[Any]
    engine: Any
    transport: Counting
    notes: list[str] = field(default_factory=list)

    def notifications(self) -> str:
        return "\n".join(n.message for n in self.app._notifications)


@asynccontextmanager
async def rig(
    scenario: str,
    *,
    read_only: bool = False,
    production: bool = False,
    admin: bool = True,
    plugins: tuple[Plugin, ...] = (),
    step: float = 5.0,
    pause: float = 0.01,
    locked: bool = False,
    keymap: tuple[tuple[str, str], ...] = (),
    refresh: float = 1.0,
    searches: tuple[tuple[str, str], ...] = (),
    journal: Journal | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[Rig]:
    """Each verification sleep advances the frozen sim clock by `step` simulated seconds and waits `pause` real ones.

    Panes poll every `refresh` seconds: a test that waits for a poll to show a change asks for a short one; the
    rest keep the CPU for the flow under test (a pane polling 20 times a second under a modal costs seconds).
    """""
    sim_app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=1, start=START))
    engine = sim_app.state.sim.engine
    transport = Counting(sim_app)
    settings = Settings(
        profile="test",
        url="http://127.0.0.1",
        secret_key=server.DEFAULT_SECRET_KEY,
        admin_token=server.DEFAULT_ADMIN_TOKEN if admin else None,
        env_type=EnvironmentType.PRODUCTION if production else EnvironmentType.DEVELOPMENT,
        env_label="prod" if production else "development",
        read_only=read_only,
        refresh_seconds=refresh,
        plugins=plugins,
        keymap=keymap,
        searches=searches,
    )

    def make_client(config: Settings) -> EngineClient:
        return EngineClient(
            config.url,
            config.secret_key,
            admin_token=config.admin_token,
            transport=transport,
            budget_per_second=None,
            guard=WriteGuard(read_only=read_only),
            **({"retry": retry} if retry is not None else {}),
        )

    async def sleep(seconds: float) -> None:
        engine.advance(step)
        await asyncio.sleep(pause)

    app = PlatosApp(
        settings, make_client=make_client, clock=lambda: engine.now, read_only_locked=locked, journal=journal
    )
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(
            pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None, timeout=10
        )
        session = app.session
        assert session is not None
        options = VerifyOptions(
            interval=0.05, timeout=3, repair_interval=0.05, repair_timeout=3, bulk_timeout=3
        )
        session.flows = ActionFlows(app, session, verifier=Verifier(session.client, options, sleep=sleep))
        yield Rig(app, pilot, engine, transport)


async def wait_note(r: Rig, text: str, timeout: float = 5.0) -> None:
    """Wait for a notification containing `text`."""
    await wait_for(r.pilot, lambda: text in r.notifications(), timeout)


def in_flight(r: Rig) -> bool:
    return any(w.group == "actions" and w.is_running for w in r.app.workers)


Pred = Callable[[], bool]


async def runs_pane(r: Rig) -> RunsScreen:
    """Switch to the runs pane and wait until it lists a run."""
    await r.pilot.press("2")
    await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen) and r.app.screen.selected_run() is not None)
    screen = r.app.screen
    assert isinstance(screen, RunsScreen)
    return screen
