"""One launch for the startup benchmark: `bare`, `bare-tty` or `console URL KEY`. Imports only what it needs.

It prints `PAINTED <wall-clock time>` after the frame being timed, then exits (teardown is not timed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def mark_and_exit(app: Any) -> None:
    print(f"PAINTED {time.time()}", flush=True)
    app.exit()


def _bare_app(label: str, *, headless: bool) -> Any:
    """The baseline: Header, a 50-row DataTable (rows named `label-N`) and Footer."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("a", "b", "c")
            for i in range(50):
                table.add_row(str(i), f"{label}-{i}", "x")
            if headless:
                self.call_after_refresh(mark_and_exit, self)

    return Bare()


def bare() -> None:
    """The baseline headless, leaving after the first paint."""
    _bare_app("row", headless=True).run(headless=True)


def bare_tty() -> None:
    """The baseline in a real terminal (the pty bench): the same app, drawn by the real driver, until killed."""
    _bare_app("queue", headless=False).run()


def console(url: str, key: str) -> None:
    """platos-tui as the CLI builds it, leaving after the first frame with queue rows in it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tui.app import PlatosApp
    from tui.cli import make_client
    from tui.config import Settings
    from tui.widgets.table import FastTable

    class Timed(PlatosApp):
        marked = False

        def on_ready(self) -> None:
            self.set_interval(0.002, self.check)

        def check(self) -> None:
            table = getattr(self.screen, "table", None)
            if isinstance(table, FastTable) and table.total_count and not self.marked:
                self.marked = True
                self.call_after_refresh(mark_and_exit, self)

    settings = Settings(profile="bench", url=url, secret_key=key, allow_insecure_http=True)
    Timed(settings, make_client=make_client).run(headless=True)


if __name__ == "__main__":
    if sys.argv[1] == "bare":
        bare()
    elif sys.argv[1] == "bare-tty":
        bare_tty()
    else:
        console(sys.argv[2], sys.argv[3])
