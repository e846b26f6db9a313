"""The whole suite: the headless test terminal draws few frames, and Textual's CSS is parsed once per process.

Textual redraws a screen up to 60 times a second (`TEXTUAL_FPS`); a headless test reads what is on the screen
when it asks (`pilot.pause` and `screen_text` render it then), so the frames in between are drawn for nobody.
Drawing a third of them saves about 15 % of the CPU time of a Pilot test (measured on the actions matrix).
`TEXTUAL_FPS` is read when Textual is imported, which the snapshot plugin does before this file, hence the
module constant.

`Pilot.pause` lays out and draws what changed every time it is called, and the harness's `wait_for` pauses
every 20 ms, so the frame rate alone does not bound the drawing: a headless app also draws at most
`HEADLESS_FRAMES` frames a second (what changed in between is drawn by the next frame, and `screen_text`
reads the whole screen as it is now). Layout is never skipped. A test about what a frame draws (which rows a
table renders again, what the terminal still shows of the last frame) marks itself `every_frame`.

Textual's `StylesCache.get_inner_outer` is an lru_cache on a method: it kept the last 1,024 widgets' render caches
(their strips, about 100,000 objects) alive after their apps were gone, and every full collection of the garbage
collector walked them again (a fifth of a Pilot test's CPU time went to collections that freed nothing). The app
re-keys it by colour (`tui.widgets.release`); this process does so before the first test, bare Textual apps
included. The objects made before the first test (modules, their functions, the collected tests)
live until the end: they are frozen, so collections skip them. Frozen, they no longer hold full collections back
(Python runs one only when a quarter of the long-lived objects are new), so one runs every tenth collection of
the middle generation instead: every hundredth is enough to free the apps' cycles a few tests later.

`-n auto` starts more xdist workers than there are cores: a Pilot test waits on its app's timers and workers about
half of its time (on 2 cores, 2 workers kept the CPU busy 55 % of the run), so twice the cores, at most four more,
keep it busy. `PYTEST_XDIST_AUTO_NUM_WORKERS` still sets the number.

Every xdist worker rewrites the asserts of every test module it imports (3 s of CPU each, half of its start-up)
unless pytest's cache of rewritten modules holds them, and under `PYTHONDONTWRITEBYTECODE` no worker writes that
cache: the controller writes it while the workers start (`tests/bytecode.py`), so they read it; the same
goes for the console's own modules, which each worker and each console process a test starts would compile.

The simulator's scenario worlds are built once per process and copied for each test after (`tests/worlds.py`).

Each app parses its stylesheet afresh (its own cache dies with it), and a pane switch parses the new screen's
CSS: the rules parsed from the same text with the same variables are the same, so this process keeps them.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import textual.screen
from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

from tests import bytecode, worlds
from tui.sim import server
from tui.widgets.release import release_removed_widgets

TEST_FPS = 20
textual.screen.UPDATE_PERIOD = 1 / TEST_FPS  # type: ignore[misc]

HEADLESS_FRAMES = 4
_every_frame = False
_draw = textual.screen.Screen._compositor_refresh


def _compositor_refresh(self: textual.screen.Screen[Any]) -> None:
    app = self.app
    if not _every_frame and self is app.screen and app.is_headless and not app.is_inline:
        now = time.monotonic()
        if now < getattr(self, "_test_next_frame", 0.0):
            # Skipped: the compositor keeps the dirty regions for the next frame.
            self._dirty_widgets.clear()
            app._update_mouse_over(self)
            return
        self._test_next_frame = now + 1 / HEADLESS_FRAMES  # type: ignore[attr-defined]
    _draw(self)


textual.screen.Screen._compositor_refresh = _compositor_refresh  # type: ignore[method-assign]
release_removed_widgets()


@pytest.fixture(autouse=True)
def _textual_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    global _every_frame
    _every_frame = request.node.get_closest_marker("every_frame") is not None
    yield
    _every_frame = False


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(2 * cores, cores + 4)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    bytecode.start(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    bytecode.finish()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


_parsed: dict[tuple[Any, ...], list[RuleSet]] = {}
_parse_rules = Stylesheet._parse_rules


def _parse_rules_once(
    self: Stylesheet, css: str, read_from: Any, is_default_rules: bool = False, tie_breaker: int = 0, scope: str = ""
) -> list[RuleSet]:
    key = (css, read_from, is_default_rules, tie_breaker, scope, frozenset(self._variables.items()))
    rules = _parsed.get(key)
    if rules is None:
        rules = _parsed[key] = _parse_rules(self, css, read_from, is_default_rules, tie_breaker, scope)
    return rules


Stylesheet._parse_rules = _parse_rules_once  # type: ignore[method-assign]


server.build = worlds.cached(server.build)  # type: ignore[assignment]
