"""What FastTable shows: cells, columns, rows, and the pure layout and fitting rules behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, set_cell_size

Align = Literal["left", "right"]
TONES = ("error", "warning", "success", "muted", "accent", "bold")


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell with a tone (a component class suffix such as "error"); text is always rendered literally.

    With `since` (epoch seconds) it is a live age: the table shows the time since then by its own clock when it
    draws the cell, so the age ticks without a new row; `text` is the age when the row was built."""

    text: str
    tone: str = ""
    since: float | None = None


CellValue = str | Cell


@dataclass(frozen=True, slots=True)
class Column:
    """A column: `width` is the minimum; `priority` 0 never drops, higher numbers drop first when narrow."""

    key: str
    label: str
    width: int
    priority: int = 0
    flex: int = 0
    max_width: int | None = None
    align: Align = "left"
    cut_middle: bool = False
    """Cut long values in the middle (ids differ at both ends) instead of at the end."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row; `key` is stable across refreshes (a run id, a queue name)."""

    key: str
    cells: tuple[CellValue, ...]
    tone: str = ""


def fit(text: str, width: int, align: Align = "left", middle: bool = False) -> str:
    """Pad or cut `text` to exactly `width` cells, marking a cut with an ellipsis."""
    length = cell_len(text)
    if length > width:
        if width <= 0:
            return ""
        if middle and width >= 7 and length == len(text):
            tail = (width - 1) // 3
            return text[: width - 1 - tail] + "…" + text[len(text) - tail :]
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def cell_text(value: CellValue) -> str:
    return value.text if isinstance(value, Cell) else value


def column_layout(columns: Sequence[Column], available: int) -> list[tuple[int, int]]:
    """(column index, width) pairs that fit `available` cells: by priority, then spare width to flex columns."""
    order = sorted(range(len(columns)), key=lambda i: (columns[i].priority, i))
    chosen: list[int] = []
    used = 0
    for index in order:
        column = columns[index]
        if column.priority and used + column.width + 1 > available:
            break  # by priority: a less important column never shows while a more important one hides
        chosen.append(index)
        used += column.width + 1
    chosen.sort()
    widths = {index: columns[index].width for index in chosen}
    spare = available - used
    flexible = [i for i in chosen if columns[i].flex]
    while spare > 0 and flexible:
        total = sum(columns[i].flex for i in flexible)
        given = 0
        for index in list(flexible):
            column = columns[index]
            share = max(1, spare * column.flex // total)
            if column.max_width is not None:
                share = min(share, column.max_width - widths[index])
            share = min(share, spare - given)
            widths[index] += share
            given += share
            if column.max_width is not None and widths[index] >= column.max_width:
                flexible.remove(index)
        spare -= given
        if given == 0:
            break
    return [(index, widths[index]) for index in chosen]


EIGHTHS = "▁▂▃▄▅▆▇"
"""Lower blocks of one to seven eighths of a cell: a scrollbar's thumb ends between two lines with one."""
TRACK, THUMB, THUMB_BELOW, TRACK_BELOW = range(4)
"""A scrollbar cell: all track, all thumb, the thumb in its lower part (its top end), the track in its lower part
(its bottom end)."""


def scrollbar_cells(height: int, rows: int, top: int) -> list[tuple[str, int]]:
    """Each line's scrollbar cell (glyph, kind) for `rows` lines of which `height` show from line `top`; none when
    they all fit. The thumb is as long as the view is a share of the rows (a line at least), in eighths of a line."""
    if rows <= height or height <= 0:
        return []
    size = max(8, round(8 * height * height / rows))
    start = round((8 * height - size) * min(1.0, max(0, top) / (rows - height)))
    end = start + size
    cells = []
    for y in range(height):
        low, high = 8 * y, 8 * y + 8
        first, last = max(low, start), min(high, end)
        if last <= first:
            cells.append((" ", TRACK))
        elif first == low and last == high:
            cells.append((" ", THUMB))
        elif first > low:
            cells.append((EIGHTHS[high - first - 1], THUMB_BELOW))
        else:
            cells.append((EIGHTHS[high - last - 1], TRACK_BELOW))
    return cells
