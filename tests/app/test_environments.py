"""`5` / `:env` over two in-process simulators and a dead profile: every profile's live summary, and `enter`
switching the console with a new client, the old one closed and fresh panes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.app.actions_sim import START
from tests.app.harness import wait_for
from tests.app.screen_text import screen_text
from tui.api.client import EngineClient
from tui.app import PlatosApp
from tui.config import ConfigError, Settings
from tui.model import EnvironmentType
from tui.screens.environments import EnvironmentsScreen
from tui.screens.queues import QueuesScreen
from tui.screens.runs import RunsScreen
from tui.sim import server


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


class Closing(httpx.ASGITransport):
    """An in-process transport that remembers being closed (the client it served was closed)."""

    def __init__(self, app: Any) -> None:
        super().__init__(app=app)
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Fleet:
    app: PlatosApp
    pilot: Pilot[Any]
    transports: dict[str, list[Closing]] = field(default_factory=dict)


def profile(name: str, production: bool = False) -> Settings:
    return Settings(
        profile=name,
        url=f"http://127.0.0.{2 if production else 1}",
        secret_key=server.DEFAULT_SECRET_KEY,
        env_type=EnvironmentType.PRODUCTION if production else EnvironmentType.DEVELOPMENT,
        env_label=f"{name}-env",
        read_only=True,
        refresh_seconds=0.05,
    )


@asynccontextmanager
async def fleet() -> AsyncIterator[Fleet]:
    """Profile `calm` (a healthy sim, the console's own), `prod` (a paused queue, PRODUCTION) and `broken`."""
    sims = {
        "http://127.0.0.1": server.create_app(server.SimOptions(scenario="healthy", speed=0, seed=1, start=START)),
        "http://127.0.0.2": server.create_app(server.SimOptions(scenario="queue-paused", speed=0, seed=1, start=START)),
    }
    made: dict[str, list[Closing]] = {}

    def make_client(settings: Settings) -> EngineClient:
        transport = Closing(sims[settings.url])
        made.setdefault(settings.profile, []).append(transport)
        return EngineClient(settings.url, settings.secret_key, transport=transport, budget_per_second=None)

    def load(name: str) -> Settings:
        if name == "broken":
            raise ConfigError("config.toml:line 9: profile 'broken': secret key env var NOPE is not set")
        return profile(name, production=name == "prod")

    app = PlatosApp(
        profile("calm"), make_client=make_client, load_profile=load, list_profiles=lambda: ["calm", "prod", "broken"]
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None)
        yield Fleet(app, pilot, made)


def env_screen(f: Fleet) -> EnvironmentsScreen:
    screen = f.app.screen
    assert isinstance(screen, EnvironmentsScreen)
    return screen


async def test_every_profile_shows_its_summary_and_a_dead_one_its_error() -> None:
    async with fleet() as f:
        await f.pilot.press("5")
        await wait_for(f.pilot, lambda: isinstance(f.app.screen, EnvironmentsScreen))
        screen = env_screen(f)
        await wait_for(f.pilot, lambda: len(screen.latest) == 3, timeout=20)
        assert screen.good["prod"].findings and not screen.good["calm"].findings
        text = screen_text(f.app)
        assert "calm (this console)" in text and "nothing stuck" in text
        assert "prod-env · PRODUCTION" in text and "CONNECTED" in text
        assert "error: config.toml:line 9: profile 'broken'" in text and "never" in text
        worst = screen.good["prod"].worst
        assert worst is not None and worst.summary[:30] in text
        # Each profile was triaged with a client of its own, closed afterwards.
        assert all(t.closed for t in f.transports["prod"])


async def test_enter_switches_with_a_new_client_the_old_closed_and_fresh_panes() -> None:
    async with fleet() as f:
        await f.pilot.press("2")
        await wait_for(f.pilot, lambda: isinstance(f.app.screen, RunsScreen))
        runs_before = f.app.screen
        assert isinstance(runs_before, RunsScreen)
        await f.app.run_command(":task agent-turn")
        old_client = f.transports["calm"][0]
        await f.app.run_command(":env")
        screen = env_screen(f)
        await wait_for(f.pilot, lambda: "prod" in screen.good, timeout=20)
        await wait_for(f.pilot, lambda: screen.query_one("#env-table").cursor_key is not None)  # type: ignore[attr-defined]
        await f.pilot.press("down", "enter")
        session = f.app.session
        assert session is not None
        await wait_for(f.pilot, lambda: session.settings.profile == "prod" and isinstance(f.app.screen, QueuesScreen))
        assert old_client.closed
        await wait_for(f.pilot, lambda: "PRODUCTION" in screen_text(f.app))
        await wait_for(f.pilot, lambda: session.pane("queues").updated_at is not None)
        await f.pilot.press("2")
        await wait_for(f.pilot, lambda: isinstance(f.app.screen, RunsScreen))
        assert f.app.screen is not runs_before and f.app.screen.search.tasks == ()  # type: ignore[attr-defined]


async def test_enter_on_a_profile_that_cannot_load_says_why_and_stays() -> None:
    async with fleet() as f:
        await f.app.run_command(":env")
        screen = env_screen(f)
        await wait_for(f.pilot, lambda: "broken" in screen.latest, timeout=20)
        await f.pilot.press("down", "down", "enter")
        await wait_for(f.pilot, lambda: any("cannot switch to broken" in n.message for n in f.app._notifications))
        assert f.app.session is not None and f.app.session.settings.profile == "calm"
