"""The `?` help screen: generated from the active bindings and the command table, never a second list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from tui.screens.bar import BarModal
from tui.screens.commands import COMMANDS
from tui.widgets.table import Column, FastTable, Row


class HelpScreen(BarModal[None]):
    """Keys of the screen it was opened from (what each does, and where it applies), then the `:` commands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]
    COLUMNS = (
        Column("key", "Key", 14),
        Column("what", "Does", 24, flex=2),
        Column("where", "Where", 10, priority=2),
    )

    @classmethod
    def for_screen(cls, screen: Screen[object]) -> HelpScreen:
        """Help for `screen`: its active bindings (after any keymap), where each applies, and the commands."""
        app = screen.app

        def where(node: object) -> str:
            if isinstance(node, App):
                return "everywhere"
            pane = getattr(node, "PANE", "")
            if isinstance(node, Screen) and pane:
                return f"{pane} pane"
            return "table" if isinstance(node, FastTable) else type(node).__name__

        keys = {
            (app.get_key_display(a.binding), a.binding.description or a.binding.action, where(a.node))
            for a in screen.active_bindings.values()
        }
        order = {"everywhere": 2, "table": 1}
        return cls(sorted(keys, key=lambda k: (order.get(k[2], 0), k[2], k[0])))

    def __init__(self, keys: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self._keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("Keys and commands  (esc closes; ctrl+p searches every action)", id="help-title")
            yield FastTable(self.COLUMNS, id="help-table")

    def on_mount(self) -> None:
        rows = [Row(f"key:{key}:{where}", (key, what, where)) for key, what, where in self._keys]
        rows += [Row(f"cmd:{c.name}", (f":{c.name} {c.argument}".rstrip(), c.description, "command")) for c in COMMANDS]
        table = self.query_one(FastTable)
        table.set_rows(rows)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
