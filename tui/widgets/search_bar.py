"""The runs pane's filter bar: the server-side search in force, as literal text; hidden when there is none."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.model.text import clean


class SearchBar(Widget):
    """One line under the pane header: `search: task send-email · tag vip   :clear resets`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"search-bar--label", "search-bar--hint"}
    DEFAULT_CSS = "SearchBar { height: 1; }"

    words: reactive[str] = reactive("", layout=False)

    def watch_words(self, words: str) -> None:
        self.display = bool(words)

    def render(self) -> Text:
        # What the operator typed (tags, task ids) is shown as text, never as markup or escape sequences.
        result = Text(no_wrap=True, overflow="ellipsis")
        result.append(" search: ", style=self.get_component_rich_style("search-bar--label"))
        hint = "   :clear resets"
        room = self.size.width - 9 - len(hint) if self.size.width else None
        result.append(clean(self.words, room if room is None or room > 0 else 1))
        result.append(hint, style=self.get_component_rich_style("search-bar--hint"))
        return result
