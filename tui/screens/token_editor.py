"""The waitpoint completion editor: JSON in a TextArea, validated as you type; an invalid body cannot be sent."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from tui.actions import BodyCheck, check_token_body
from tui.model.text import clean
from tui.screens.bar import BarModal

ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


class TokenEditorScreen(BarModal[str | None]):
    """ctrl+s sends the body on to the confirmation (only when valid); esc cancels."""

    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Send", id="token_editor.send", priority=True),
        Binding("escape", "cancel", "Cancel", id="token_editor.cancel", priority=True),
    ]

    def __init__(self, token_id: str, text: str = "{}") -> None:
        super().__init__(classes="action-modal")
        self.token_id = token_id
        self.text = text
        self.check: BodyCheck = check_token_body(text)

    def compose(self) -> ComposeResult:
        with Vertical(id="token-box"):
            yield Static(Text(f"Complete token {clean(self.token_id, 80)}: output JSON"), id="token-title")
            try:
                area = TextArea.code_editor(self.text, language="json", id="token-body")
            except Exception:  # no tree-sitter grammar installed: plain editing still works
                area = TextArea.code_editor(self.text, id="token-body")
            yield area
            yield Static("", id="token-status")
            yield Static("ctrl+s: review and send · esc: cancel", id="token-help")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self._show()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.text = event.text_area.text
        self.check = check_token_body(self.text)
        self._show()

    def _show(self) -> None:
        status = self.query_one("#token-status", Static)
        if self.check.valid:
            # The bytes the operator typed; the limit is checked on the request body, which wraps them.
            status.update(Text(f"valid JSON, {len(self.text.encode()):,} bytes"))
            status.remove_class("invalid")
        else:
            status.update(Text(f"cannot send: {self.check.error}"))
            status.add_class("invalid")

    def action_submit(self) -> None:
        if self.check.valid:
            self.dismiss(self.text)
        else:
            self.notify(f"Not sent: {self.check.error}", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)
