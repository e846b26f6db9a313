"""Read what a running test app shows, as plain text lines (what the operator would read)."""

from __future__ import annotations

from typing import Any


def screen_lines(app: Any) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: Any) -> str:
    return "\n".join(screen_lines(app))
