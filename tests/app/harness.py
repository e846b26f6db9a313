"""Start the console on a fake client in a Pilot, and wait for the things tests wait for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from textual.pilot import Pilot

from tests.app.fakes import FakeClient, frozen_clock, incident, settings
from tests.app.screen_text import screen_text
from tui.app import PlatosApp
from tui.config import Settings


def make_app(client: FakeClient | None = None, config: Settings | None = None, **kwargs: Any) -> PlatosApp:
    fake = client if client is not None else incident()
    return PlatosApp(
        config if config is not None else settings(),
        make_client=lambda _: fake,  # type: ignore[arg-type,return-value]
        **({"clock": frozen_clock} | kwargs),
    )


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause until `condition()` holds; fail with the screen's text if it never does."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"condition never held; screen was:\n{screen_text(pilot.app)}")


async def wait_for_text(pilot: Pilot[Any], text: str, timeout: float = 5.0) -> None:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), timeout)


@asynccontextmanager
async def console(
    client: FakeClient | None = None,
    *,
    size: tuple[int, int] = (120, 40),
    config: Settings | None = None,
    loaded: bool = True,
    **kwargs: Any,
) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], FakeClient]]:
    fake = client if client is not None else incident()
    app = make_app(fake, config, **kwargs)
    async with app.run_test(size=size) as pilot:
        if loaded and app.session is not None:
            await wait_for(
                pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None
            )
            await pilot.pause(0.05)
        yield app, pilot, fake
