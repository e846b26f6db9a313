"""Start the console in a Pilot on the real client over a simulated world, and wait for what tests wait for."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from tests.app.console_sim import World, incident
from tests.app.screen_text import screen_text
from tests.simclient import settings as sim_settings
from tui.api.client import EngineClient, RetryPolicy
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings


def settings(refresh: float = 1.0, **kwargs: Any) -> Settings:
    """The console's settings in these tests: profile `dev`, read-only, polling every `refresh` seconds; `kwargs`
    replace any field."""
    return replace(sim_settings(refresh=refresh, read_only=True), **kwargs)


def make_app(
    world: World | None = None,
    config: Settings | None = None,
    *,
    guard: WriteGuard | None = None,
    retry: RetryPolicy | None = None,
    monotonic: Callable[[], float] | None = None,
    **kwargs: Any,
) -> PlatosApp:
    """The app on the world's simulator (default: the incident), its clock the simulator's; `retry` is the client's
    backoff on failed reads (default: the real one, 0.5 s doubling), `monotonic` its clock for the request rate."""
    w = world if world is not None else incident()

    def make_client(config: Settings) -> EngineClient:
        return w.sim.client(
            secret_key=config.secret_key,
            read_only=config.read_only,
            admin=config.admin_token is not None,
            guard=guard,
            retry=retry,
            clock=monotonic,
        )

    return PlatosApp(
        config if config is not None else settings(),
        make_client=make_client,
        **({"clock": lambda: w.sim.now} | kwargs),
    )


def poll_interval(polls: int) -> float:
    """How long the `polls`-th pause of a wait lasts: 20 ms at first, then longer, up to 100 ms after 0.4 s.

    Each pause lets every widget on the screen answer a message, lays out and draws, and the condition often reads
    the whole screen: a wait for the next poll of a pane (a second) cost 50 of them. Under load (more xdist workers
    than cores) waits last longer, and the pauses took the CPU the apps under test needed.
    """
    return min(0.1, 0.02 + 0.005 * polls)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause until `condition()` holds; fail with the screen's text if it never does within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for polls in itertools.count():
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition never held; screen was:\n{screen_text(pilot.app)}")
        await pilot.pause(poll_interval(polls))
    raise AssertionError("unreachable")


def polled(screen: Any, condition: Callable[[], bool]) -> Callable[[], bool]:
    """`condition`, which asks the pane (`screen.refresh_now()`) for its next full poll at once each time it does
    not hold yet: for what a pane finds a few reads per poll (the blocked runs of tokens), so a test waits for
    the polls, not for the refresh interval between them. The poll loop never runs two polls at a time."""

    def check() -> bool:
        if condition():
            return True
        screen.refresh_now()
        return False

    return check


async def wait_for_text(pilot: Pilot[Any], text: str, timeout: float = 5.0) -> None:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), timeout)


@asynccontextmanager
async def console(
    world: World | None = None,
    *,
    size: tuple[int, int] = (120, 40),
    config: Settings | None = None,
    loaded: bool = True,
    **kwargs: Any,
) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], World]]:
    """The console on the world (default: the incident), the queues pane loaded unless `loaded` is False."""
    w = world if world is not None else incident()
    app = make_app(w, config, **kwargs)
    async with app.run_test(size=size) as pilot:
        if loaded and app.session is not None:
            await wait_for(
                pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None
            )
            await pilot.pause(0.05)
        yield app, pilot, w
