"""Progress of a bulk cancel: processed/total as it runs, `a` to abort, `esc` to hide (it keeps running)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from tui.model import BulkAction
from tui.model.text import clean
from tui.screens.bar import BarModal

ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


class BulkProgressScreen(BarModal[None]):
    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "abort", "Abort", id="bulk.abort"),
        Binding("escape", "close", "Hide", id="bulk.close"),
    ]

    def __init__(self, title: str, on_abort: Callable[[], None]) -> None:
        super().__init__(classes="action-modal")
        self.title_text = title
        self.on_abort = on_abort
        self.bulk: BulkAction | None = None
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-box"):
            yield Static(Text(self.title_text), id="bulk-title")
            yield ProgressBar(id="bulk-bar", show_eta=False)
            yield Static("waiting for the bulk action…", id="bulk-status")
            yield Static("a: abort · esc: hide", id="bulk-help")

    def on_mount(self) -> None:
        if self.bulk is not None:
            self.show(self.bulk)

    def show(self, bulk: BulkAction) -> None:
        self.bulk = bulk
        bars, status = self.query(ProgressBar), self.query("#bulk-status")
        if not bars or not status:  # not composed yet (on_mount shows the latest), or already torn down
            return
        done = bulk.success + bulk.failure
        bars.first().update(total=max(bulk.total, 1), progress=done)
        status.first(Static).update(
            Text(f"{clean(bulk.id, 60)} {bulk.status.value}: {done}/{bulk.total} processed, {bulk.failure} failed")
        )

    def finish(self, message: str) -> None:
        self.finished = True
        status, help_line = self.query("#bulk-status"), self.query("#bulk-help")
        if not status or not help_line:  # the screen is gone: nothing left to tell
            return
        status.first(Static).update(Text(message))
        help_line.first(Static).update("esc: close")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not self.finished if action == "abort" else True

    def action_abort(self) -> None:
        self.on_abort()

    def action_close(self) -> None:
        self.dismiss(None)
