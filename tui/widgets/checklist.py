"""Render-only blocks of text: a titled checklist whose lines wrap under their own text, and a plain section."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

Item = tuple[Content, Content, tuple[str, ...]]
"""One checklist line: a mark (its own column), its text, and detail lines shown dimmed under the text."""


def heading(text: str) -> Content:
    return Content.styled(text, "bold $accent")


class FindingSection(Static):
    """One block of text of a diagnosis (render only: the screen gives it content)."""

    DEFAULT_CSS = """
    FindingSection { height: auto; }
    """


class Checklist(Vertical):
    """A titled list whose lines wrap under their own text, not under the mark (render only)."""

    DEFAULT_CSS = """
    Checklist { height: auto; margin: 0 0 1 0; }
    Checklist > .checklist--title { height: auto; text-style: bold; color: $accent; }
    Checklist > .checklist--row { height: auto; }
    Checklist .checklist--mark { width: auto; min-width: 4; height: auto; padding: 0 1 0 1; }
    Checklist .checklist--body { width: 1fr; height: auto; }
    Checklist .checklist--detail { color: $text-muted; height: auto; }
    """

    def __init__(self, *, id: str | None = None, mark_width: int = 4) -> None:
        super().__init__(id=id)
        self._shown: tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]] | None = None
        self._lock = asyncio.Lock()
        self._mark_width = mark_width

    async def show(self, title: str, items: Sequence[Item], empty: str = "(none)") -> None:
        """Replace the lines (only when they changed, so a steady poll costs nothing)."""
        key = (title, tuple((m.plain, t.plain, d) for m, t, d in items))
        async with self._lock:
            if key == self._shown:
                return
            self._shown = key
            rows: list[Widget] = [Static(heading(title), classes="checklist--title")]
            for mark, text, details in items:
                body = [Static(text)] + [Static(Content(d), classes="checklist--detail") for d in details]
                mark_widget = Static(mark, classes="checklist--mark")
                mark_widget.styles.min_width = self._mark_width
                rows.append(
                    Horizontal(mark_widget, Vertical(*body, classes="checklist--body"), classes="checklist--row")
                )
            if not items:
                rows.append(Static(Content.styled(f"  {empty}", "$text-muted")))
            await self.remove_children()
            await self.mount_all(rows)

    @property
    def text(self) -> str:
        """The plain text shown (for tests)."""
        if self._shown is None:
            return ""
        title, items = self._shown
        return "\n".join([title, *(f"{m} {t} {' '.join(d)}" for m, t, d in items)])
