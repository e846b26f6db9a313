"""The pane line under the top bar: which pane is shown, its summary, and the active filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive

from tui.model.text import clean
from tui.widgets.line import TextLines

PANES = (("queues", "1 Queues"), ("runs", "2 Runs"), ("waitpoints", "3 Waitpoints"), ("triage", "4 Triage"))


@dataclass(frozen=True, slots=True)
class PaneHeaderState:
    pane: str = ""
    summary: str = ""
    warning: str = ""


class PaneHeader(TextLines):
    """Tabs for the four panes (the current one highlighted) and the pane's own one-line summary."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pane-header--current",
        "pane-header--tab",
        "pane-header--warning",
    }
    DEFAULT_CSS = "PaneHeader { height: auto; }"

    state: reactive[PaneHeaderState] = reactive(PaneHeaderState, layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines = 1
        self._tab_lengths: dict[tuple[str, str, int], int] = {}
        """How many cells the tabs take, by pane, warning and width."""

    def _tabs(self, width: int) -> Text:
        state = self.state
        result = Text(no_wrap=True, overflow="ellipsis")
        narrow = width and width < 100
        for name, label in PANES:
            current = name == state.pane
            shown = label if current or not narrow else label[:1]
            style = "pane-header--current" if current else "pane-header--tab"
            result.append(f" {shown} ", style=self.component_style(style))
        if state.warning:
            result.append(" ")
            result.append(clean(state.warning), style=self.component_style("pane-header--warning", partial=False))
        return result

    def _needs(self, width: int) -> int:
        """Lines needed: the summary moves to a line of its own rather than lose words (the filter, the marks)."""
        summary = clean(self.state.summary)
        if not width or not summary:
            return 1
        key = (self.state.pane, self.state.warning, width)
        tabs = self._tab_lengths.get(key)
        if tabs is None:
            if len(self._tab_lengths) >= 256:
                self._tab_lengths.clear()  # each stuck count is a warning of its own
            tabs = self._tab_lengths[key] = self._tabs(width).cell_len  # asked on every change of the summary
        return 1 if tabs + 1 + len(summary) <= width else 2

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._lines = self._needs(width)
        return self._lines

    def watch_state(self) -> None:
        if self._needs(self.size.width) != self._lines:
            self.refresh(layout=True)

    def drawn_from(self) -> PaneHeaderState:
        return self.state

    def text_lines(self) -> list[Text]:
        return list(self._text().split("\n"))

    def _text(self) -> Text:
        width = self.size.width
        result = self._tabs(width)
        summary = self.state.summary
        if not summary:
            return result
        room: int | None = None
        if self._needs(width) == 2:
            result.append("\n")
            room = width - 1
        elif width:
            room = width - result.cell_len - 1
        # Cut with a visible ellipsis: a line that merely overflows would lose its last words silently.
        result.append(" " + clean(summary, room if room is None or room > 0 else 0))
        return result
