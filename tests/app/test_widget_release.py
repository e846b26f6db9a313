"""A widget's drawn lines are freed with it: Textual 8 kept the last 1,024 widgets' lines alive after they were gone.

Each case runs in a fresh interpreter: this process (and the app) re-key Textual's cache before the first test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import asyncio, gc, sys, weakref
from textual.app import App
from textual.widgets import Static
from tui.widgets.release import release_removed_widgets
if sys.argv[1] == "released":
    release_removed_widgets()
    release_removed_widgets()  # a second app in the same process changes nothing
async def show():
    app = App()
    async with app.run_test(size=(40, 6)) as pilot:
        shown = Static("one\\ntwo\\nthree")
        await app.mount(shown)
        await pilot.pause()
        return len(shown._styles_cache._cache), weakref.ref(shown._styles_cache)
drawn, lines = asyncio.run(show())
gc.collect()
print(drawn, "kept" if lines() is not None else "freed")
"""


@pytest.mark.parametrize(("mode", "expected"), [("released", "3 freed"), ("as-shipped", "3 kept")])
def test_a_gone_widget_frees_the_lines_it_drew(mode: str, expected: str) -> None:
    # As shipped, Textual's cache keeps them: when a release of Textual mends it, the re-keying can go.
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == expected, done.stderr[-2000:]
