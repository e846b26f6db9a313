"""A line of styled text as a Strip: what the one-line bars draw through Textual's line API."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


def text_strip(text: Text, width: int, base: Style, console: Console) -> Strip:
    """`text` on the widget's `base` style, exactly `width` cells: cut with an ellipsis, or padded.

    A bar that returned its Text from `render` would have Textual convert and lay it out again on every frame
    it is part of; a strip built once per state is only cropped and composed."""
    if text.cell_len > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
    segments = Segment.apply_style(text.render(console, end=""), base)
    return Strip(list(segments)).adjust_cell_length(width, base)
