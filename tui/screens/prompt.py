"""A one-line question with live validation: returns the text, or None on `esc`. Invalid text cannot be submitted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui.screens.bar import BarModal

Check = Callable[[str], str | None]
"""Returns an error message for invalid text, None when it is acceptable."""


ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


class PromptScreen(BarModal[str | None]):
    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, question: str, *, value: str = "", check: Check | None = None, placeholder: str = "") -> None:
        super().__init__(classes="action-modal")
        self.question = question
        self.value = value
        self.check = check
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(self.question), id="prompt-question")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error")
            yield Static("enter: ok · esc: cancel", id="prompt-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._validate(self.value)

    def _validate(self, text: str) -> str | None:
        error = self.check(text) if self.check is not None else None
        self.query_one("#prompt-error", Static).update(Text(error or ""))
        return error

    def on_input_changed(self, event: Input.Changed) -> None:
        self._validate(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._validate(event.value) is None:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
