"""Read what a running test app shows, as plain text lines (what the operator would read)."""

from __future__ import annotations

from typing import Any


def screen_lines(app: Any) -> list[str]:
    # Lay out and draw what is pending first, as `Pilot.pause` does: the screen as it is now, not as it was at the
    # last redraw (tests/conftest.py draws at most 20 frames a second).
    app.screen._on_timer_update()
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: Any) -> str:
    return "\n".join(screen_lines(app))
