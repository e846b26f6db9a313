"""Read-only text modals: the audit log (`:audit`) and a plugin's output. Server/process text renders literally."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.actions import entry_line, read_entries
from tui.screens.bar import BarModal

ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


class TextScreen(BarModal[None]):
    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="text.close"),
        Binding("q", "close", "Close", show=False, id="text.quit"),
    ]

    def __init__(self, title: str, lines: Sequence[str]) -> None:
        super().__init__(classes="action-modal")
        self.title_text = title
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        with Vertical(id="text-box"):
            yield Static(Text(self.title_text), id="text-title")
            with VerticalScroll(id="text-scroll"):
                yield Static(Text("\n".join(self.lines) or "(empty)"), id="text-body")
            yield Static("esc: close", id="text-help")

    def action_close(self) -> None:
        self.dismiss(None)


class AuditScreen(TextScreen):
    """`:audit`: one line per attempt, newest last."""

    def __init__(self, limit: int = 500) -> None:
        entries = read_entries()
        super().__init__(f"Audit log ({len(entries)} attempts)", [entry_line(e) for e in entries[-limit:]])

    def on_mount(self) -> None:
        self.query_one("#text-scroll", VerticalScroll).scroll_end(animate=False)
