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

    @classmethod
    def for_screen(cls, screen: Screen[object]) -> HelpScreen:
        """Help for `screen`: its active bindings (after any keymap), where each applies, and the commands.

        Only this console's bindings (they all have an id): Textual's own (focus, copy, scrolling) are not listed.
        Grouped by where they apply: the screen's own keys first, then the table's, then the keys that work
        everywhere, then the `:` commands.
        """
        app = screen.app

        def where(node: object) -> str:
            if isinstance(node, App):
                return "everywhere"
            pane = getattr(node, "PANE", "")
            if isinstance(node, Screen) and pane:
                return f"{pane} pane"
            if isinstance(node, FastTable):
                return "table"
            return _screen_words(type(node).__name__)

        merged: dict[tuple[str, str], set[str]] = {}
        for active in screen.active_bindings.values():
            if active.binding.id:
                what = active.binding.description or active.binding.action
                merged.setdefault((what, where(active.node)), set()).add(app.get_key_display(active.binding))
        # One line per thing a key does: `g home  First row`, not two lines that say the same.
        keys = [
            (" ".join(sorted(shown, key=lambda k: (len(k), k))), what, place) for (what, place), shown in merged.items()
        ]
        order = {"table": 1, "everywhere": 2}
        return cls(sorted(keys, key=lambda k: (order.get(k[2], 0), k[2], k[0])))

    def __init__(self, keys: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self._keys = keys
        places = [where for _, _, where in keys] + ["command"]
        # The Where column is as wide as its longest entry: a place name is never cut.
        self.columns = (
            Column("key", "Key", 14),
            Column("what", "Does", 24, flex=2),
            Column("where", "Where", max(len("Where"), *(len(p) for p in places))),
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("Keys and commands  (esc closes; ctrl+p searches every action)", id="help-title")
            yield FastTable(self.columns, id="help-table")

    def on_mount(self) -> None:
        rows = [Row(f"key:{key}:{where}", (key, what, where)) for key, what, where in self._keys]
        rows += [Row(f"cmd:{c.name}", (f":{c.name} {c.argument}".rstrip(), c.description, "command")) for c in COMMANDS]
        table = self.query_one(FastTable)
        table.set_rows(rows)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _screen_words(name: str) -> str:
    """`RunDetailScreen` -> `run detail`: where a key of a pushed screen applies, in words."""
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name.removesuffix("Screen")).strip()
    return words or name
