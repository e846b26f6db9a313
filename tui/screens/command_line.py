"""The `:` command line: a one-line modal at the bottom that returns what was typed."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.suggester import SuggestFromList
from textual.widgets import Input

from tui.screens.bar import BarModal
from tui.screens.commands import suggestions


class CommandLine(BarModal[str | None]):
    """Enter returns the text; esc returns None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="command.cancel")]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder=":run ID · :queue NAME · :profile NAME · :runs · :q",
            id="command",
            suggester=SuggestFromList(suggestions(), case_sensitive=False),
        )

    def __init__(self, text: str = ":") -> None:
        super().__init__()
        self._text = text

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.value = self._text
        field.cursor_position = len(self._text)
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
