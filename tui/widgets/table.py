"""FastTable: a keyed table on Textual's Line API rendering only visible lines, caching each row's Strip."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.model.text import clean
from tui.widgets.format import short_duration
from tui.widgets.table_model import (
    THUMB,
    THUMB_BELOW,
    TONES,
    TRACK,
    TRACK_BELOW,
    Align,
    Cell,
    CellValue,
    Column,
    Row,
    cell_text,
    column_layout,
    fit,
    scrollbar_cells,
)

__all__ = ["TONES", "Align", "Cell", "CellValue", "Column", "FastTable", "Row", "fit"]

Shown = tuple[int, int, list[Row]]
"""What a table's lines show: its scroll position, its cursor's index and the rows in view."""
FIND_NEAR = 512
"""Rows either side of the cursor searched first for its key after a change."""


class FastTable(ScrollView, can_focus=True):
    """Only visible lines render; rows reconcile by key so the cursor and scroll stay on the same row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="table.up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("home,g", "first", "First row", show=False, id="table.first"),
        Binding("end,G", "last", "Last row", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.select"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fast-table--header",
        "fast-table--cursor",
        "fast-table--mark",
        "fast-table--empty",
        *(f"fast-table--{tone}" for tone in TONES),
    }
    DEFAULT_CSS = """
    FastTable { overflow-x: hidden; overflow-y: auto; height: 1fr; scrollbar-size-vertical: 0; }
    """
    """The table draws its own scrollbar as the last cell of each line (`_thumb`): a view that scrolls repaints
    its lines anyway, and a scrollbar widget beside them would be drawn again as well (at 37 lines, as long as
    every line of the table together). Textual's scrollbar keeps no width, so the mouse wheel still scrolls."""

    class Selected(Message):
        """`enter` on a row."""

        def __init__(self, table: FastTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class CursorMoved(Message):
        """The cursor is on a different row."""

        def __init__(self, table: FastTable, key: str | None, index: int) -> None:
            super().__init__()
            self.table = table
            self.key = key
            self.index = index

    class MarksDropped(Message):
        """Marked rows left the table (not hidden by the filter: gone), so they were unmarked."""

        def __init__(self, table: FastTable, keys: frozenset[str]) -> None:
            super().__init__()
            self.table = table
            self.keys = keys

    class NearEnd(Message):
        """The operator scrolled close to the last loaded row: a good moment to load more."""

        def __init__(self, table: FastTable) -> None:
            super().__init__()
            self.table = table

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        empty_message: str = "Nothing to show",
        show_marks: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._layout: list[tuple[int, int]] = []
        self._layout_width = -1
        self._all: list[Row] = []
        self._all_keys: list[str] = []
        self._by_key: dict[str, Row] = {}
        self._rows: list[Row] = []
        self._keys: list[str] = []
        self._strips: dict[str, tuple[Strip, str]] = {}
        """Each row's rendered line, with the text of its live cells when drawn (re-rendered when that moves)."""
        self._search: dict[str, str] = {}
        self._styles: dict[str, Style] = {}
        self._filter = ""
        self._cursor = 0
        self._cursor_strip: tuple[Row, Strip, str] | None = None
        self.clock: Callable[[], float] | None = None
        """Epoch seconds for live ages (`Cell.since`); without a clock they show the text they were built with."""
        self._now: float | None = None
        """The clock read once for a frame or a live refresh (each read asks for the server's time)."""
        self.marked: set[str] = set()
        self.show_marks = show_marks
        self.empty_message = empty_message
        self._near_end_at = -1
        self._sorted: tuple[str, bool] | None = None
        self.render_count = 0
        """Rows rendered from scratch (not from the cache); the benchmark reads it."""
        self._frame: tuple[Style, int, list[Segment]] | None = None
        """While a frame is drawn: the base style, the content width and the scrollbar cells every line uses."""
        self._thumb_drawn: tuple[int, int, int, Color, Color] | None = None
        """What the scrollbar's cells were drawn from (a change of length repaints them)."""
        self._thumb_cells: list[Segment] = []
        """The scrollbar's cell on each line, as last drawn."""
        self._dragging = False
        """Whether the mouse, pressed on the scrollbar, moves the view."""
        self._drawn_top = -1
        """The first row the last frame showed: a view scrolled since is drawn whole on the next frame."""

    # ----- data -----------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def total_count(self) -> int:
        return len(self._all)

    @property
    def cursor_index(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self._cursor] if 0 <= self._cursor < len(self._keys) else None

    @property
    def keys(self) -> Sequence[str]:
        return self._keys

    def row(self, key: str) -> Row | None:
        return self._by_key.get(key)

    def texts(self, key: str) -> tuple[str, ...] | None:
        """The row's cells as they read when drawn now (a live age by the clock)."""
        row = self._by_key.get(key)
        return None if row is None else tuple(self._text(cell) for cell in row.cells)

    def _text(self, value: CellValue) -> str:
        if not isinstance(value, Cell):
            return value
        if value.since is not None and self.clock is not None:
            now = self._now if self._now is not None else self.clock()
            return short_duration(now - value.since)
        return value.text

    def set_columns(self, columns: Sequence[Column]) -> None:
        self._columns = tuple(columns)
        self._layout_width = -1
        self._invalidate()
        self.refresh()

    def set_sort(self, column: str | None, *, descending: bool = False) -> None:
        """Mark the column the rows are sorted by in its header: `▲` ascending, `▼` descending."""
        marker = (column, descending) if column is not None else None
        if marker != self._sorted:
            self._sorted = marker
            self._layout_width = -1  # the marked column may need two more cells
            self.refresh()

    def set_rows(
        self, rows: Sequence[Row], known_changes: Mapping[str, Row] | None = None, keys: list[str] | None = None
    ) -> None:
        """Reconcile to `rows` (in display order): changed rows re-render, the cursor follows its key.

        `known_changes`, when the caller knows them, holds every row that differs from the last call with the same keys
        (only their order may have moved): the reconcile then skips comparing the rows that did not change. `keys`,
        the rows' keys in order when the caller has them (the table keeps both lists): reading 10,000 keys off their
        rows costs a far memory read each."""
        old_key = self.cursor_key
        old_screen_line = self._cursor - round(self.scroll_y)
        shown = self._shown()
        rows = list(rows)
        all_keys = [row.key for row in rows] if keys is None else keys
        strips, search = self._strips, self._search
        changed: list[str] = []
        if all_keys == self._all_keys:
            # The common tick: same rows in the same order, a few of them changed. No dict work at all, and with
            # the changes known, no walk of the rows either.
            pairs = (
                zip(self._all, rows, strict=True)
                if known_changes is None
                else ((self._by_key.get(key), row) for key, row in known_changes.items())
            )
            for previous, row in pairs:
                if previous is not row and previous != row:
                    strips.pop(row.key, None)
                    search.pop(row.key, None)
                    changed.append(row.key)
                    self._by_key[row.key] = row
            self._all = rows
            if not self._filter:
                self._rows = rows
                self._refresh_keys(changed)
                return
        elif known_changes is not None and len(all_keys) == len(self._all_keys):
            for key, row in known_changes.items():
                strips.pop(key, None)
                search.pop(key, None)
                changed.append(key)
                self._by_key[key] = row
            self._all = rows
            self._all_keys = all_keys
        else:
            by_key = dict(zip(all_keys, rows, strict=True))
            for row in rows:
                known = self._by_key.get(row.key)
                if known is not row and known != row:
                    strips.pop(row.key, None)
                    search.pop(row.key, None)
                    changed.append(row.key)  # repainted below when the filtered view keeps its keys
            for gone in self._by_key.keys() - by_key.keys():
                strips.pop(gone, None)
                search.pop(gone, None)
            self._by_key = by_key
            self._all = rows
            self._all_keys = all_keys
            dropped = frozenset(self.marked - by_key.keys())
            if dropped:
                # A mark on a row that is no longer listed would still be acted on, unseen.
                self.marked -= dropped
                self.post_message(self.MarksDropped(self, dropped))
        old_keys = self._keys
        self._apply_filter()
        if self._keys == old_keys:
            self._refresh_keys(changed)
            return
        self._restore_cursor(old_key, old_screen_line, shown)

    def set_filter(self, text: str) -> None:
        """Case-insensitive substring filter over all cells; a leading `!` keeps rows that do not match."""
        if text == self._filter:
            return
        old_key = self.cursor_key
        self._filter = text
        self._apply_filter()
        self._restore_cursor(old_key, self._cursor - round(self.scroll_y))

    @property
    def filter(self) -> str:
        return self._filter

    def toggle_mark(self, key: str) -> None:
        if key in self.marked:
            self.marked.discard(key)
        else:
            self.marked.add(key)
        self._strips.pop(key, None)
        self._cursor_strip = None
        self._refresh_keys([key])

    def move_to(self, key: str) -> bool:
        """Put the cursor on `key` if it is shown; returns whether it is."""
        index = self._find(key)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def _find(self, key: str) -> int | None:
        """Where `key` is shown (a scan in C: cheaper than keeping an index of 10,000 keys for a rare lookup). Near
        the cursor first: after a refresh the cursor's row has mostly moved by a few rows, if at all."""
        keys = self._keys
        near = max(0, self._cursor - FIND_NEAR)
        for start, stop in ((near, near + 2 * FIND_NEAR), (0, len(keys))):
            try:
                return keys.index(key, start, stop)
            except ValueError:
                pass
        return None

    def _apply_filter(self) -> None:
        text = self._filter
        if not text or text == "!":
            rows, self._keys = self._all, self._all_keys
        else:
            invert = text.startswith("!")
            needle = (text[1:] if invert else text).lower()
            rows = [row for row in self._all if (needle in self._search_text(row)) != invert]
            self._keys = [row.key for row in rows]
        self._rows = rows
        size = Size(self.scrollable_content_region.width, len(rows) + 1)
        if size != self.virtual_size:
            # A new length changes the scrollbar, not the lines in view: a layout pass and the scrollbar's cells, no
            # repaint of every line (the caller repaints the lines that show something else).
            self.set_reactive(FastTable.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            # (When the scrollbar comes or goes, Textual repaints the table, which lays out its columns anew.)
            if self._thumb_drawn is not None:
                drawn = self._thumb_cells
                for y, cell in enumerate(self._thumb()):
                    if y >= len(drawn) or drawn[y] != cell:
                        self.refresh(Region(self._layout_width, y, 1, 1))  # the scrollbar's cells that moved

    def _search_text(self, row: Row) -> str:
        text = self._search.get(row.key)
        if text is None:
            text = self._search[row.key] = " ".join(cell_text(cell) for cell in row.cells).lower()
        return text

    def _lines_for_rows(self) -> int:
        """Lines under the header: a line past them is another widget's (repainting it would repaint that too)."""
        return max(0, self.size.height - 1)

    def _shown(self) -> Shown:
        """What the lines show now: the scroll position, the cursor's index and the rows in view."""
        top = round(self.scroll_y)
        return top, self._cursor, self._rows[top : top + self._lines_for_rows()]

    def _restore_cursor(self, key: str | None, screen_line: int, shown: Shown | None = None) -> None:
        """Put the cursor back on `key`; repaint what no longer shows as it did (`shown`: what did; all without)."""
        index = self._find(key) if key is not None else None
        if index is None:
            index = min(self._cursor, max(0, len(self._rows) - 1))
        self._cursor = index
        # Keep the cursor row on the same screen line, so rows arriving above it do not shift the view.
        self._scroll_line(index - max(0, screen_line))
        self._scroll_cursor_into_view()
        top, cursor, rows = self._shown()
        if shown is None or shown[0] != top or not rows or not shown[2]:
            self.refresh()  # a scroll repaints the view anyway; an empty table shows its message
        else:
            # Rows changed off screen (a new run listed 5,000 rows down) send the terminal nothing.
            before = shown[2]
            for line in range(max(len(before), len(rows))):
                if line >= len(before) or line >= len(rows) or before[line] is not rows[line]:
                    self.refresh_line(top + line + 1)
            if shown[1] != cursor:
                self._cursor_strip = None
                self.refresh_line(shown[1] + 1)
                self.refresh_line(cursor + 1)
        self.post_message(self.CursorMoved(self, self.cursor_key, self._cursor))

    def _refresh_keys(self, keys: Iterable[str]) -> None:
        top = round(self.scroll_y)
        shown = {key: index for index, key in enumerate(self._keys[top : top + self._lines_for_rows()], top)}
        for key in keys:
            index = shown.get(key)
            if index is not None:
                self.refresh_line(index + 1)

    # ----- cursor and scrolling -------------------------------------------------------------------------

    def _set_cursor(self, index: int) -> None:
        index = max(0, min(index, len(self._rows) - 1))
        if index == self._cursor and self._rows:
            self._scroll_cursor_into_view()
            return
        old = self._cursor
        self._cursor = index
        self._cursor_strip = None
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._scroll_cursor_into_view()
        self.post_message(self.CursorMoved(self, self.cursor_key, index))

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_y)
        if self._cursor < top:
            self._scroll_line(self._cursor)
        elif self._cursor >= top + visible:
            self._scroll_line(self._cursor - visible + 1)

    def _scroll_line(self, line: int) -> None:
        line = max(0, min(line, self.max_scroll_y))
        self.scroll_target_y = line
        self.scroll_y = line

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value + 2 * self.size.height >= len(self._rows) and self._near_end_at != len(self._rows):
            self._near_end_at = len(self._rows)
            self.post_message(self.NearEnd(self))

    def action_cursor_down(self) -> None:
        self._set_cursor(self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._set_cursor(self._cursor - 1)

    def action_page_down(self) -> None:
        self._set_cursor(self._cursor + max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self._set_cursor(self._cursor - max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1 and not self._on_scrollbar(event.x):
            self._set_cursor(round(self.scroll_y) + event.y - 1)

    def _on_scrollbar(self, x: int) -> bool:
        return x >= self._layout_width and self._content_width() < self.scrollable_content_region.width

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A press on the scrollbar moves the view there, and dragging moves it along, as on Textual's own."""
        if self._on_scrollbar(event.x):
            self._dragging = True
            self.capture_mouse()
            self._drag_to(event.y)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            self._drag_to(event.y)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    def _drag_to(self, y: int) -> None:
        """The view the scrollbar's track points at: line `y` of the track as a share of all the rows."""
        share = max(0.0, min(1.0, y / max(1, self.size.height - 1)))
        self.scroll_to(y=round(share * self.max_scroll_y), animate=False)

    # ----- rendering ------------------------------------------------------------------------------------

    def _on_resize(self, event: events.Resize) -> None:
        self._layout_width = -1
        self._invalidate()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._rows) + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._invalidate()

    def _invalidate(self) -> None:
        self._strips.clear()
        self._cursor_strip = None

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"fast-table--{name}", partial=True)
        return style

    @property
    def _gutter(self) -> int:
        return 2 if self.show_marks else 1

    def _ensure_layout(self, width: int | None = None) -> None:
        if width is None:
            width = self._content_width()
        if width == self._layout_width:
            return
        self._layout_width = width
        self._invalidate()
        columns = self._columns
        if self._sorted is not None:
            # Room for the arrow, so marking a column never cuts its label.
            columns = tuple(
                replace(c, width=max(c.width, len(c.label) + 2)) if c.key == self._sorted[0] else c for c in columns
            )
        self._layout = column_layout(columns, width - self._gutter)

    @property
    def visible_columns(self) -> list[str]:
        self._ensure_layout()
        return [self._columns[index].key for index, _ in self._layout]

    def _content_width(self) -> int:
        """The width for the columns: all of it, less the scrollbar's cell when the rows do not fit."""
        width = self.scrollable_content_region.width
        return width - 1 if self._own_scrollbar() and width > 1 else width

    def _own_scrollbar(self) -> bool:
        """Whether the table draws a scrollbar: the rows do not fit, and no style gave Textual's one a width."""
        return len(self._rows) + 1 > self.size.height and not self.styles.scrollbar_size_vertical

    def _thumb_basis(self) -> tuple[int, int, int, Color, Color]:
        styles = self.styles
        height, rows, top = self.size.height, len(self._rows) + 1, round(self.scroll_y)
        return (height, rows, top, styles.scrollbar_background, styles.scrollbar_color)

    def _thumb(self) -> list[Segment]:
        """The scrollbar's cell on each line (none when the rows fit), in the colors of Textual's scrollbar."""
        height, virtual, position, background, color = basis = self._thumb_basis()
        if basis == self._thumb_drawn:
            return self._thumb_cells
        self._thumb_drawn = basis
        self._thumb_cells = []
        if not self._own_scrollbar():
            return []
        if background.a < 1:
            background = self.background_colors[0] + background
        back, bar = background.rich_color, (background + color).rich_color
        styles = {
            TRACK: Style(bgcolor=back),
            THUMB: Style(bgcolor=bar),
            THUMB_BELOW: Style(color=bar, bgcolor=back),
            TRACK_BELOW: Style(color=back, bgcolor=bar),
        }
        self._thumb_cells = [Segment(glyph, styles[kind]) for glyph, kind in scrollbar_cells(height, virtual, position)]
        return self._thumb_cells

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style, the width and the scrollbar once a frame, not once a line: each walks the DOM.
        self._frame = (self.rich_style, self._content_width(), self._thumb())
        self._drawn_top = round(self.scroll_y)
        self._now = self.clock() if self.clock is not None else None
        try:
            return super().render_lines(crop)
        finally:
            self._frame = self._now = None

    def render_line(self, y: int) -> Strip:
        base, width, thumb = self._frame or (self.rich_style, self._content_width(), self._thumb())
        line = self._render_line(y, base, width)
        return Strip([*line, thumb[y]], width + 1) if y < len(thumb) else line

    def _render_line(self, y: int, base: Style, width: int) -> Strip:
        self._ensure_layout(width)
        if y == 0:
            return self._render_header(width, base)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if index == 0 and y == 1:
                text = fit(clean(self.empty_message), width)
                return Strip([Segment(text, base + self._style("empty"))], width)
            return Strip.blank(width, base)
        row = self._rows[index]
        live = self._live_text(row)
        if index == self._cursor:
            cached = self._cursor_strip
            if cached is None or cached[0] is not row or cached[2] != live:
                cached = (row, self._render_row(row, width, base + self._style("cursor"), cursor=True), live)
                self._cursor_strip = cached
            return cached[1]
        found = self._strips.get(row.key)
        if found is None or found[1] != live:
            found = self._strips[row.key] = (self._render_row(row, width, base, cursor=False), live)
        return found[0]

    def _live_text(self, row: Row) -> str:
        """What the row's live ages read now ("" for a row without one)."""
        if self.clock is None:
            return ""
        return " ".join(self._text(c) for c in row.cells if isinstance(c, Cell) and c.since is not None)

    def refresh_live(self) -> None:
        """Repaint the visible lines whose live ages read differently now (the rest are drawn when scrolled to)."""
        top = round(self.scroll_y)
        if top != self._drawn_top:
            return  # the view scrolled since the last frame: the next one draws every line, ages as they read then
        width = self._content_width()
        self._now = self.clock() if self.clock is not None else None
        try:
            for index in range(top, min(len(self._rows), top + self._lines_for_rows())):
                row = self._rows[index]
                cached = self._cursor_strip if index == self._cursor else None
                drawn = cached[2] if cached is not None and cached[0] is row else None
                if drawn is None:
                    found = self._strips.get(row.key)
                    drawn = found[1] if found is not None else None
                # No cached line (a resize or a style change dropped them): what the terminal shows is unknown.
                if drawn is None or drawn != self._live_text(row):
                    self._refresh_live_cells(row, index, width)
        finally:
            self._now = None

    def _refresh_live_cells(self, row: Row, index: int, content_width: int) -> None:
        """Repaint only the live cells of the row's line: a terminal is sent the few cells that moved."""
        self._ensure_layout(content_width)
        x = self._gutter
        y = index + 1 - self.scroll_offset.y
        for column, width in self._layout:
            cell = row.cells[column] if column < len(row.cells) else ""
            if isinstance(cell, Cell) and cell.since is not None:
                self.refresh(Region(x, y, width, 1))
            x += width + 1

    def _render_header(self, width: int, base: Style) -> Strip:
        style = base + self._style("header")
        segments = [Segment(" " * self._gutter, style)]
        for index, column_width in self._layout:
            column = self._columns[index]
            label = column.label
            if self._sorted is not None and self._sorted[0] == column.key:
                label += " ▼" if self._sorted[1] else " ▲"
            segments.append(Segment(fit(label, column_width, column.align) + " ", style))
        return Strip(segments).adjust_cell_length(width, style)

    def _render_row(self, row: Row, width: int, base: Style, *, cursor: bool) -> Strip:
        self.render_count += 1
        row_style = base + self._style(row.tone) if row.tone else base
        gutter = "▸" if cursor else " "
        if self.show_marks:
            gutter += "●" if row.key in self.marked else " "
        segments = [Segment(gutter, row_style + self._style("mark"))]
        plain: list[str] = []
        """Untoned cells and their spacers run together as one segment: each segment costs every frame."""
        cells = row.cells
        for index, column_width in self._layout:
            value = cells[index] if index < len(cells) else ""
            text, tone = self._text(value), value.tone if isinstance(value, Cell) else ""
            column = self._columns[index]
            text = fit(clean(text), column_width, column.align, column.cut_middle)
            if not tone:
                plain += (text, " ")
                continue
            if plain:
                segments.append(Segment("".join(plain), row_style))
            style = row_style + self._style(tone)
            if cursor:
                style += self._style("cursor")
            segments.append(Segment(text, style))
            plain = [" "]
        if plain:
            segments.append(Segment("".join(plain), row_style))
        return Strip(segments).adjust_cell_length(width, row_style)
