"""Regenerate screenshots/*.svg from the real console on the simulator: `python tests/screenshots.py`.

The simulator runs in-process with a frozen clock (scenario `incident`), so the pictures are reproducible.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tui.api.client import EngineClient  # noqa: E402
from tui.api.guard import WriteGuard  # noqa: E402
from tui.app import PlatosApp  # noqa: E402
from tui.config import Plugin, Settings  # noqa: E402
from tui.model import EnvironmentType  # noqa: E402
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app  # noqa: E402

OUT = ROOT / "screenshots"
START = datetime(2026, 11, 28, 3, 14, tzinfo=UTC)
Step = Callable[[Pilot[Any]], Awaitable[None]]


def build() -> tuple[PlatosApp, Any]:
    sim = create_app(SimOptions(scenario="incident", speed=0, seed=1, start=START))
    engine = sim.state.sim.engine
    client = EngineClient(
        "http://127.0.0.1",
        DEFAULT_SECRET_KEY,
        admin_token=DEFAULT_ADMIN_TOKEN,
        guard=WriteGuard(read_only=False),
        budget_per_second=None,
        transport=httpx.ASGITransport(app=sim),
        wall_clock=lambda: engine.now.timestamp(),  # the frozen simulator's time is this picture's time: no skew
    )
    settings = Settings(
        profile="demo",
        url="http://127.0.0.1:8030",
        secret_key=DEFAULT_SECRET_KEY,
        admin_token=DEFAULT_ADMIN_TOKEN,
        env_type=EnvironmentType.DEVELOPMENT,
        env_label="demo: incident",
        demo=True,
        refresh_seconds=1.0,
        plugins=(Plugin("scale-workers", "true {replicas}", "Scale the worker pool"),),
    )
    app = PlatosApp(settings, make_client=lambda _: client, clock=lambda: engine.now)
    return app, engine


async def settle(pilot: Pilot[Any], seconds: float = 1.5) -> None:
    await pilot.pause(seconds)


async def shoot(name: str, steps: list[Step], size: tuple[int, int] = (120, 40)) -> None:
    app, _ = build()
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 2.0)
        for step in steps:
            await step(pilot)
        session = getattr(app, "session", None)
        if session is not None:
            session.paused = True
        await pilot.pause(0.3)
        app.save_screenshot(f"{name}.svg", str(OUT))
    print(f"wrote screenshots/{name}.svg")


def keys(*pressed: str, wait: float = 1.5) -> Step:
    async def step(pilot: Pilot[Any]) -> None:
        await pilot.press(*pressed)
        await settle(pilot, wait)

    return step


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    await shoot("queues", [])
    await shoot("queues-80x24", [], size=(80, 24))
    await shoot("runs", [keys("2")])
    await shoot("run-detail", [keys("2"), keys("enter", wait=2.5)])
    await shoot("waitpoints", [keys("3", wait=10.0)])  # the blocked-run column fills in a few calls per poll
    await shoot("triage", [keys("4", wait=6.0)])
    await shoot("diagnosis", [keys("2"), keys("down", "down"), keys("d", wait=6.0)])
    await shoot("help", [keys("question_mark")], size=(100, 34))


if __name__ == "__main__":
    asyncio.run(main())
