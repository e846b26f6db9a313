"""The repair-queues report: per environment and per queue, run id, snapshot status and action (API.md §10.2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.model import REPAIR_IGNORE, RepairReport
from tui.model.text import clean
from tui.screens.bar import BarModal

ACTIONS_CSS = Path(__file__).parent.parent / "styles" / "actions.tcss"


def review_rows(report: RepairReport) -> list[tuple[str, str, str, str]]:
    """The repairs first, one row each; then the runs the engine would leave alone, and the scopes with nothing
    to repair, each as one counted row: at 3 a.m. the rows that change something are the ones to read."""
    scopes = (("environment", report.environment), *report.queues)
    rows = [
        (clean(scope, 60), clean(r.friendly_run_id, 60), clean(r.snapshot_status, 40), clean(r.action, 40))
        for scope, result in scopes
        for r in result.repairs
    ]
    ignored = sum(result.ignored for _, result in scopes)
    if ignored:
        rows.append(("", f"{ignored} runs", "not leaked", REPAIR_IGNORE))
    empty = sum(1 for _, result in scopes if not result.repairs and not result.ignored)
    if empty:
        rows.append((f"{empty} scope" + ("s" if empty > 1 else ""), "-", "-", "nothing to repair"))
    return rows


class RepairScreen(BarModal[bool]):
    """Shows a dry run. With `offer_apply`, `a` answers True (apply); `esc` answers False.

    `refusal` says why `a` cannot apply (read-only): the key then explains instead of doing nothing.
    """

    CSS_PATH = ACTIONS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply repair", id="repair.apply"),
        Binding("escape", "close", "Close", id="repair.close"),
    ]

    def __init__(
        self,
        report: RepairReport,
        *,
        title: str,
        offer_apply: bool,
        refusal: str | None = None,
        on_refused: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(classes="action-modal")
        self.report = report
        self.title_text = title
        self.offer_apply = offer_apply and report.leak_count > 0
        self.refusal = refusal if report.leak_count > 0 and not self.offer_apply else None
        self._on_refused = on_refused

    def compose(self) -> ComposeResult:
        with Vertical(id="repair-box"):
            yield Static(Text(self.title_text), id="repair-title")
            count = self.report.leak_count
            yield Static(
                Text("nothing to repair" if count == 0 else f"{count} leaked slot(s) would be repaired"),
                id="repair-summary",
            )
            table: DataTable[str] = DataTable(id="repair-table", cursor_type="row")
            table.add_columns("Scope", "Run id", "Snapshot status", "Action")
            for row in review_rows(self.report):
                table.add_row(*row)
            yield table
            help_text = "a: apply (asks to confirm) · esc: close" if self.offer_apply else "esc: close"
            if self.refusal is not None:
                help_text = f"{self.refusal} · esc: close"
            yield Static(help_text, id="repair-help")

    def on_mount(self) -> None:
        self.query_one("#repair-table", DataTable).focus()  # the cursor moves through the rows at once

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return (self.offer_apply or self.refusal is not None) if action == "apply" else True

    def action_apply(self) -> None:
        if self.refusal is not None:
            if self._on_refused is not None:
                self._on_refused()  # the audit log records the refused attempt
            self.notify(self.refusal, title="Nothing sent", severity="warning")
            return
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
