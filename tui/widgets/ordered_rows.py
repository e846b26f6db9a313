"""Rows kept in sort order as they change, so a refresh that touches 5% of 10,000 rows never re-sorts them all."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from tui.widgets.table_model import Row


class OrderedRows:
    """Rows by key, in ascending order of a sort key given with each row; ties go by row key.

    `put` and `remove` cost a binary search and a list shift, not a sort; `rows` is the display order.
    """

    def __init__(self) -> None:
        self._order: list[tuple[Any, str]] = []
        self._rows: list[Row] = []
        """Parallel to `_order`: the row at each position."""
        self._sort_keys: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._sort_keys

    def keys(self) -> set[str]:
        return set(self._sort_keys)

    def put(self, sort_key: Any, row: Row) -> None:
        """Add the row, or replace the one with its key (moving it only when its sort key changed)."""
        old = self._sort_keys.get(row.key)
        if old is not None:
            index = bisect_left(self._order, (old, row.key))
            if old == sort_key:
                self._rows[index] = row
                return
            del self._order[index]
            del self._rows[index]
        self._sort_keys[row.key] = sort_key
        entry = (sort_key, row.key)
        index = bisect_left(self._order, entry)
        self._order.insert(index, entry)
        self._rows.insert(index, row)

    def remove(self, key: str) -> None:
        old = self._sort_keys.pop(key, None)
        if old is not None:
            index = bisect_left(self._order, (old, key))
            del self._order[index]
            del self._rows[index]

    def rows(self, *, reverse: bool = False) -> list[Row]:
        """The rows in order (a new list each time, so the caller may keep it)."""
        return self._rows[::-1] if reverse else list(self._rows)
