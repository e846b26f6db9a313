"""Regenerate screenshots/*.svg and *.png from the real console on the simulator: `python tests/screenshots.py`.

The simulator runs in-process with a frozen clock (scenario `incident`), so the pictures are reproducible. Each SVG
gets a PNG beside it, drawn by `rsvg-convert` (Debian: librsvg2-bin), so they read the same without a font installed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
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
from tui.model import EnvironmentType, RunStatus, Span  # noqa: E402
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app  # noqa: E402
from tui.widgets.trace_tree import deepest_open_span, entity_name  # noqa: E402

OUT = ROOT / "screenshots"
RSVG = shutil.which("rsvg-convert")
HUNG_ENTITY = "crm"
"""The incident's entity that is down: its runs hang in a tool call to it, which the run-detail picture shows."""
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
    svg = OUT / f"{name}.svg"
    # Columns are runs of no-break spaces: librsvg (and the viewers built on it) collapse them unless told not to.
    svg.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
    print(f"wrote screenshots/{name}.svg")
    if RSVG is not None:
        subprocess.run([RSVG, "-o", str(OUT / f"{name}.png"), str(OUT / f"{name}.svg")], check=True)
        print(f"wrote screenshots/{name}.png")


def keys(*pressed: str, wait: float = 1.5) -> Step:
    async def step(pilot: Pilot[Any]) -> None:
        await pilot.press(*pressed)
        await settle(pilot, wait)

    return step


def calls_entity(span: Span) -> bool:
    """A tool call to the entity that is down: `tool crm.lookup`, or a span whose properties name it."""
    return entity_name(span.properties) == HUNG_ENTITY or span.message.startswith(f"tool {HUNG_ENTITY}.")


def open_hung_run() -> Step:
    """`:run ID` for the oldest run hung in a call to the entity that is down, as an operator would open it."""

    async def step(pilot: Pilot[Any]) -> None:
        client = pilot.app.session.client  # type: ignore[attr-defined]
        page = await client.list_runs(statuses=[RunStatus.EXECUTING], page_size=100)
        for run in sorted(page.items, key=lambda r: r.created_at):
            span = deepest_open_span(await client.run_trace(run.id))
            if span is not None and calls_entity(span):
                await pilot.press("colon", *f"run {run.id}", "enter")
                await settle(pilot, 3.0)
                return
        raise SystemExit(f"the incident scenario has no run hung in a call to {HUNG_ENTITY}")

    return step


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    if RSVG is None:
        print("rsvg-convert not found (Debian: apt-get install librsvg2-bin): writing SVGs only, no PNGs")
    shots: list[tuple[str, list[Step], tuple[int, int]]] = [
        ("queues", [], (120, 40)),
        ("queues-80x24", [], (80, 24)),
        ("runs", [keys("2")], (120, 40)),
        ("run-detail", [open_hung_run()], (120, 40)),
        ("span-inspector", [open_hung_run(), keys("enter", wait=2.0)], (120, 40)),  # the hung crm call, inspected
        ("waitpoints", [keys("3", wait=10.0)], (120, 40)),  # the blocked-run column fills in a few calls per poll
        ("triage", [keys("4", wait=6.0)], (120, 40)),
        ("diagnosis", [keys("2"), keys("down", "down"), keys("d", wait=6.0)], (120, 40)),
        ("help", [keys("question_mark")], (100, 34)),
    ]
    wanted = set(sys.argv[1:])  # `python tests/screenshots.py run-detail` retakes one
    for name, steps, size in shots:
        if not wanted or name in wanted:
            await shoot(name, steps, size)


if __name__ == "__main__":
    asyncio.run(main())
