"""Bars drawn from Text through Textual's line API: strips built once per state, not converted on every frame."""

from __future__ import annotations

from collections.abc import Hashable

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


def text_strip(text: Text, width: int, base: Style, console: Console) -> Strip:
    """`text` on the widget's `base` style, exactly `width` cells: cut with an ellipsis, or padded."""
    if text.cell_len > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
    segments = Segment.apply_style(text.render(console, end=""), base)
    return Strip(list(segments)).adjust_cell_length(width, base)


class TextLines(Widget):
    """A bar whose lines are Text: a bar that returned its Text from `render` would have Textual convert and lay it
    out again on every frame it is part of; these lines are built once per state, width and base style."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: tuple[tuple[Hashable, int, Style], list[Strip]] | None = None
        """The lines last drawn, with what they were drawn from."""
        self._styles_read: dict[tuple[str, bool], Style] = {}
        """The component styles read, until a style changes (each look-up walks the styles)."""

    def drawn_from(self) -> Hashable:
        """Everything the lines show (with the width and the base style): a change draws them again."""
        raise NotImplementedError

    def text_lines(self) -> list[Text]:
        raise NotImplementedError

    def component_style(self, name: str, *, partial: bool = True) -> Style:
        style = self._styles_read.get((name, partial))
        if style is None:
            style = self._styles_read[name, partial] = self.get_component_rich_style(name, partial=partial)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn = None  # its tones came from the old styles
        self._styles_read = {}

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        key = (self.drawn_from(), width, base)
        drawn = self._drawn
        if drawn is None or drawn[0] != key:
            lines = [text_strip(line, width, base, self.app.console) for line in self.text_lines()]
            drawn = self._drawn = (key, lines)
        return drawn[1][y] if y < len(drawn[1]) else Strip.blank(width, base)
