"""The pane line under the top bar: which pane is shown, its summary, and the active filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.model.text import clean

PANES = (("queues", "1 Queues"), ("runs", "2 Runs"), ("waitpoints", "3 Waitpoints"), ("triage", "4 Triage"))


@dataclass(frozen=True, slots=True)
class PaneHeaderState:
    pane: str = ""
    summary: str = ""
    warning: str = ""


class PaneHeader(Widget):
    """Tabs for the four panes (the current one highlighted) and the pane's own one-line summary."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pane-header--current",
        "pane-header--tab",
        "pane-header--warning",
    }
    DEFAULT_CSS = "PaneHeader { height: 1; }"

    state: reactive[PaneHeaderState] = reactive(PaneHeaderState, layout=False)

    def render(self) -> Text:
        state = self.state
        result = Text(no_wrap=True, overflow="ellipsis")
        narrow = self.size.width and self.size.width < 100
        for name, label in PANES:
            current = name == state.pane
            shown = label if current or not narrow else label[:1]
            style = "pane-header--current" if current else "pane-header--tab"
            result.append(f" {shown} ", style=self.get_component_rich_style(style, partial=True))
        if state.warning:
            result.append(" ")
            result.append(clean(state.warning), style=self.get_component_rich_style("pane-header--warning"))
        if state.summary:
            # Cut with a visible ellipsis: a line that merely overflows would lose its last words silently.
            room = self.size.width - result.cell_len - 1 if self.size.width else None
            result.append(" " + clean(state.summary, room if room is None or room > 0 else 0))
        return result
