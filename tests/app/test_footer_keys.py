"""Switching panes never accumulates footer keys: Textual's Footer would keep every replaced key alive."""

from __future__ import annotations

import gc

from tests.app.harness import console


def live_keys() -> int:
    """Footer keys no longer on screen that are still alive."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "FooterKey" and not o.is_attached)


async def test_pane_switches_leave_no_footer_keys_behind() -> None:
    async with console() as (_app, pilot, _):
        for key in "12341234":
            await pilot.press(key)
            await pilot.pause(0.1)
        before = live_keys()
        for _ in range(10):
            for key in "1234":
                await pilot.press(key)
                await pilot.pause(0.05)
        await pilot.pause(0.2)
        # Each switch recomposes the footer (about 17 keys); before the fix all of them stayed alive.
        assert live_keys() - before < 20
