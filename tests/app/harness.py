"""Start the console in a Pilot on the real client over a simulated world, and wait for what tests wait for."""

from __future__ import annotations

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


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause until `condition()` holds; fail with the screen's text if it never does."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"condition never held; screen was:\n{screen_text(pilot.app)}")


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
