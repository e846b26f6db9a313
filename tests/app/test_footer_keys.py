"""The footer never accumulates keys (Textual's Footer would keep every replaced key alive), and it is rebuilt only
when the keys it shows change (Textual rebuilds it each time a screen announces its bindings)."""

from __future__ import annotations

import gc

from textual.widgets import Footer

from tests.app.harness import console, wait_for
from tui.screens.triage import TriageScreen


def live_keys() -> int:
    """Footer keys no longer on screen that are still alive."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "FooterKey" and not o.is_attached)


def footer_keys(app: object) -> list[object]:
    return list(app.screen.query_one(Footer).children)  # type: ignore[attr-defined]


async def test_pane_switches_leave_no_footer_keys_behind() -> None:
    async with console() as (app, pilot, _):
        for key in "12341234":
            await pilot.press(key)
            await pilot.pause(0.1)
        before = live_keys()
        drawn = footer_keys(app)
        for _ in range(3):  # a switch that rebuilt and leaked the keys would leave 17 behind: 3 rounds leave 200
            for key in "1234":
                await pilot.press(key)
                await pilot.pause(0.05)
        await pilot.pause(0.2)
        assert live_keys() - before < 20
        # Back on the same pane with the same keys: the footer kept them rather than building them all again.
        assert footer_keys(app) == drawn and all(key.is_attached for key in drawn)  # type: ignore[attr-defined]


async def test_keys_that_change_rebuild_the_footer_and_leave_no_keys_behind() -> None:
    async with console() as (app, pilot, _):
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, TriageScreen) and len(app.screen.findings) > 1)
        await wait_for(pilot, lambda: bool(app.screen.query(Footer)) and "Resume queue" in footer_text(app))
        before = live_keys()
        # The paused queue's finding offers `p`, the undersized pool's below it does not: each move changes the keys.
        for _ in range(10):
            await pilot.press("j")
            await wait_for(pilot, lambda: "Resume queue" not in footer_text(app))
            await pilot.press("k")
            await wait_for(pilot, lambda: "Resume queue" in footer_text(app))
        await pilot.pause(0.2)
        # Each move rebuilt the footer (about 10 keys); before the fix all of them stayed alive.
        assert live_keys() - before < 20


def footer_text(app: object) -> str:
    return " ".join(getattr(key, "description", "") for key in footer_keys(app))
