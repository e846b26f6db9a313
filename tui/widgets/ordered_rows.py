"""Rows kept in sort order as they change, so a refresh that touches 5% of 10,000 rows never re-sorts them all."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from tui.widgets.table_model import Row


class OrderedRows:
    """Rows by key, in ascending order of a sort key (a tuple) given with each row; ties go by row key.

    `put` and `remove` cost a binary search and a list shift, not a sort; `rows` is the display order.
    """

    def __init__(self) -> None:
        self._order: list[tuple[Any, ...]] = []
        """Each row's sort key with its row key last, in order: one flat tuple, so a comparison in the binary
        search reads one object instead of a tuple inside a tuple (at 10,000 rows the search is memory-bound)."""
        self._rows: list[Row] = []
        """Parallel to `_order`: the row at each position."""
        self._entries: dict[str, tuple[Any, ...]] = {}
        """Each key's entry in `_order` (the same object, so finding it compares by identity first)."""

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> set[str]:
        return set(self._entries)

    def put(self, sort_key: tuple[Any, ...], row: Row) -> None:
        """Add the row, or replace the one with its key (moving it only when its sort key changed)."""
        entry = (*sort_key, row.key)
        old = self._entries.get(row.key)
        if old is not None:
            index = bisect_left(self._order, old)
            if old == entry:
                self._rows[index] = row
                return
            del self._order[index]
            del self._rows[index]
        self._entries[row.key] = entry
        index = bisect_left(self._order, entry)
        self._order.insert(index, entry)
        self._rows.insert(index, row)

    def remove(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            index = bisect_left(self._order, old)
            del self._order[index]
            del self._rows[index]

    def rows(self, *, reverse: bool = False) -> list[Row]:
        """The rows in order (a new list each time, so the caller may keep it)."""
        return self._rows[::-1] if reverse else list(self._rows)
