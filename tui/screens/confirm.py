"""The confirmation modal: renders a `tui.actions.Confirmation`; `y` confirms, `n`/`esc` cancel, or type to confirm."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui.actions import Confirmation
from tui.screens.bar import BarModal

ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


class ConfirmScreen(BarModal[bool]):
    """Answers True only on `y` (or on the exact expected text when typing is required)."""

    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Confirm", id="confirm.yes"),
        Binding("n", "cancel", "Cancel", id="confirm.no"),
        Binding("escape", "escape", "Cancel", id="confirm.cancel"),
    ]

    def __init__(self, confirmation: Confirmation) -> None:
        super().__init__(classes="action-modal")
        self.confirmation = confirmation

    def compose(self) -> ComposeResult:
        c = self.confirmation
        env = c.environment
        with Vertical(id="confirm-box", classes="production" if env.production else ""):
            yield Static(Text(c.title), id="confirm-title")
            words = "PRODUCTION: this changes production" if env.production else f"environment: {env.words}"
            yield Static(Text(words), id="confirm-env", classes="production" if env.production else "")
            yield Static(Text(c.effect), id="confirm-effect")
            if c.details:
                yield Static(Text("\n".join(c.details)), id="confirm-details")
            yield Static(Text(c.prompt), id="confirm-prompt")
            if c.typing_required:
                yield Input(placeholder=c.expected_text or "", id="confirm-typed")
            yield Static("", id="confirm-error")

    def on_mount(self) -> None:
        if self.confirmation.typing_required:
            self.query_one(Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With typing required, `y`/`n` are letters for the input; only the typed text confirms.
        return not (action in ("confirm", "cancel") and self.confirmation.typing_required)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.confirmation.accepts(event.value):
            self.dismiss(True)
        else:
            expected = self.confirmation.expected_text or ""
            self.query_one("#confirm-error", Static).update(Text(f"type exactly {expected} (esc cancels)"))

    def action_escape(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
