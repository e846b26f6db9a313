"""Rows kept in sort order as they change, so a refresh that touches 5% of 10,000 rows never re-sorts them all."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from tui.widgets.table_model import Row


class OrderedRows:
    """Rows by key, in ascending order of a sort key given with each row; ties go by row key.

    `put` of a row whose sort key is unchanged replaces it in place; one that moves costs a binary search and a
    list shift, not a sort. `rows` is the display order, kept as a list beside the sort keys so reading it is a
    copy, not 10,000 lookups.
    """

    def __init__(self) -> None:
        self._order: list[tuple[Any, str]] = []
        self._list: list[Row] = []
        """The rows in `_order`'s order."""
        self._sort_keys: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._sort_keys

    def keys(self) -> set[str]:
        return set(self._sort_keys)

    def put(self, sort_key: Any, row: Row) -> None:
        """Add the row, or replace the one with its key (moving it only when its sort key changed)."""
        key = row.key
        old = self._sort_keys.get(key)
        if old is not None:
            at = bisect_left(self._order, (old, key))
            if old == sort_key:
                self._list[at] = row
                return
            del self._order[at]
            del self._list[at]
        self._sort_keys[key] = sort_key
        entry = (sort_key, key)
        at = bisect_left(self._order, entry)
        self._order.insert(at, entry)
        self._list.insert(at, row)

    def remove(self, key: str) -> None:
        old = self._sort_keys.pop(key, None)
        if old is not None:
            at = bisect_left(self._order, (old, key))
            del self._order[at]
            del self._list[at]

    def rows(self, *, reverse: bool = False) -> list[Row]:
        """The rows in order (a new list each time, so the caller may keep it)."""
        return self._list[::-1] if reverse else list(self._list)
