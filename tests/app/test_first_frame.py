"""The console's first frame: with the data when the server answers at once, "Loading…" when it does not."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.app.harness import wait_for
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings
from tui.screens.pane import FIRST_DATA_WAIT

server = pytest.importorskip("tui.sim.server")
pytestmark = pytest.mark.every_frame  # each frame the console draws, as a terminal would get it


LAN = 0.03
"""A server on the same network answers the queue list in this many seconds: well within the first frame's wait."""


class Held(httpx.AsyncBaseTransport):
    """ASGI to the simulator; the queue list takes `LAN` seconds, or is held until the test lets it through."""

    def __init__(self, app: Any, *, held: bool) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.through = asyncio.Event()
        if not held:
            self.through.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/queues":
            await self.through.wait()
            await asyncio.sleep(LAN)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def console(
    *, held: bool, freeze: bool = False
) -> AsyncIterator[tuple[PlatosApp, Any, list[tuple[float, str]], Held]]:
    """The console on the incident simulator; every frame it draws is kept as (seconds since start, text), the
    text led by the name of the screen that drew it."""
    sim_app = server.create_app(server.SimOptions(speed=0, seed=1))
    transport = Held(sim_app, held=held)
    settings = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY, demo=True)

    def make_client(config: Settings) -> EngineClient:
        return EngineClient(
            config.url, config.secret_key, transport=transport, budget_per_second=None, guard=WriteGuard(read_only=True)
        )

    app = PlatosApp(settings, make_client=make_client, freeze_start_up=freeze)
    frames: list[tuple[float, str]] = []
    draw = app._display
    started = time.monotonic()

    def display(screen: Any, renderable: Any) -> None:
        draw(screen, renderable)
        if renderable is not None and not app._batch_count:  # a frame drawn during a batch is dropped
            frames.append((time.monotonic() - started, f"{screen.name}\n{renderable.render_segments(app.console)}"))

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        yield app, pilot, frames, transport
        transport.through.set()


def pane_frames(frames: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The frames that show the queues pane (its column header), before or after its data."""
    return [(at, text) for at, text in frames if "Run/Lim" in text]


async def test_a_server_that_answers_at_once_is_drawn_in_the_first_frame_without_a_loading_frame() -> None:
    async with console(held=False) as (_, pilot, frames, _transport):
        await wait_for(pilot, lambda: any("agent-turn" in text for _, text in frames))
        shown = pane_frames(frames)
        assert "agent-turn" in shown[0][1]
        assert not any("Loading" in text for _, text in shown)


async def test_a_slow_server_gets_a_loading_frame_after_the_short_wait_then_its_rows() -> None:
    async with console(held=True) as (app, pilot, frames, transport):
        await wait_for(pilot, lambda: any("Loading" in text for _, text in pane_frames(frames)))
        at, first = pane_frames(frames)[0]
        assert "Loading" in first and "agent-turn" not in first
        assert at < FIRST_DATA_WAIT + 2.0  # not held until the server answers
        transport.through.set()
        await wait_for(pilot, lambda: any("agent-turn" in text for _, text in frames))
        assert app.screen.is_current


PANES = {
    "1": ("queues", "Run/Lim"),
    "2": ("runs", "In status"),
    "3": ("waitpoints", "Blocked run"),
    "4": ("triage", "Finding"),
}
"""Each pane key, the pane, and a column only its table has."""


async def test_a_switch_of_pane_draws_the_new_pane_whole_in_its_first_frame() -> None:
    async with console(held=False) as (_, pilot, frames, _transport):
        await wait_for(pilot, lambda: any("agent-turn" in text for _, text in frames))
        for key in "234123":  # the first visit to each pane, then visits to panes already built
            pane, header = PANES[key]
            before = len(frames)
            await pilot.press(key)

            def drawn(pane: str = pane, before: int = before) -> list[str]:
                return [text for _, text in frames[before:] if text.startswith(f"{pane}\n")]

            await wait_for(pilot, lambda: bool(drawn()))
            first = drawn()[0]
            assert header in first and "DEMO" in first  # its own table under the top bar, not a part of it
            assert "Loading" not in first  # a first visit waits for the pane's data (the simulator answers at once)


async def test_the_start_up_heap_is_kept_out_of_the_collectors_full_passes_when_the_process_is_the_consoles() -> None:
    frozen = gc.get_freeze_count()
    async with console(held=False) as (_, pilot, frames, _transport):
        await wait_for(pilot, lambda: any("agent-turn" in text for _, text in frames))
        assert gc.get_freeze_count() <= frozen  # a test process runs many apps: none is kept for good
    frozen = gc.get_freeze_count()
    async with console(held=False, freeze=True) as (_, pilot, frames, _transport):
        await wait_for(pilot, lambda: any("agent-turn" in text for _, text in frames))
        # Scanning it cost a full pass 50-70 ms of frozen UI (bench section 3's pane switches).
        assert gc.get_freeze_count() > frozen
