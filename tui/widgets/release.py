"""Lets removed widgets go: Textual 8's line caches outlive their widgets unless their colour cache is re-keyed."""

from __future__ import annotations

from functools import lru_cache

from textual import widget
from textual.color import Color
from textual.style import Style


@lru_cache(1024)
def _inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
    return Style(background=base_background + background), Style(background=base_background)


def release_removed_widgets() -> None:
    """Key the widgets' line caches' `get_inner_outer` by its two colours alone.

    Textual 8 puts `lru_cache(1024)` on that method, so each entry also holds the cache it was asked through, and
    with it every line that widget last drew. Each widget removed from the screen (a triage's finding sections, a
    closed run's panes) stayed in memory until 1,024 newer ones pushed it out: 8 minutes of a soak, about 7 MB.
    The answer depends on the colours only. A Textual that changed any of this is left as it is.
    """
    cache_type = getattr(widget, "StylesCache", None)  # the class is in a private module: reached via its user
    current = vars(cache_type).get("get_inner_outer") if isinstance(cache_type, type) else None
    if isinstance(current, staticmethod) or not hasattr(current, "cache_info"):
        return  # already released, or a Textual without the per-instance cache
    cache_type.get_inner_outer = staticmethod(_inner_outer)  # type: ignore[union-attr]
