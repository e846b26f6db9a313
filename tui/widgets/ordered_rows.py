"""Rows kept in sort order as they change, so a refresh that touches 5% of 10,000 rows never re-sorts them all."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import KeysView
from typing import Any

from tui.widgets.table_model import Row

BLOCK = 256
"""Entries per block (a block splits at twice this): a move shifts one short list, not 10,000 pointers."""


class OrderedRows:
    """Rows by key, in ascending order of a sort key (a tuple) given with each row; ties go by row key.

    The order is a list of short sorted blocks: `put` and `remove` cost two binary searches and a shift within one
    block, and `rows` and `row_keys` stay cheap at 10,000 rows.
    """

    def __init__(self, block: int = BLOCK) -> None:
        self._block = block
        self._blocks: list[list[tuple[Any, ...]]] = []
        """Each entry is the sort key with the row key last, one flat tuple: a comparison reads one object."""
        self._row_blocks: list[list[Row]] = []
        """Parallel to `_blocks`: the row at each position."""
        self._key_blocks: list[list[str]] = []
        """Parallel to `_blocks`: the key at each position (read from a row, each key is a far memory read)."""
        self._maxes: list[tuple[Any, ...]] = []
        """The last entry of each block: which block an entry belongs in."""
        self._entries: dict[str, tuple[Any, ...]] = {}
        """Each key's entry (the same object as in its block, so finding it compares by identity first)."""
        self._flat: tuple[list[Row], list[str]] | None = None
        """The rows and keys in order, as last asked for; dropped by any change."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> KeysView[str]:
        return self._entries.keys()

    def _find(self, entry: tuple[Any, ...]) -> tuple[int, int]:
        """The block and position of an entry held."""
        block = bisect_left(self._maxes, entry)
        return block, bisect_left(self._blocks[block], entry)

    def put(self, sort_key: tuple[Any, ...], row: Row) -> None:
        """Add the row, or replace the one with its key (moving it only when its sort key changed)."""
        self._flat = None
        entry = (*sort_key, row.key)
        old = self._entries.get(row.key)
        if old is not None:
            block, index = self._find(old)
            if old == entry:
                self._row_blocks[block][index] = row
                return
            self._delete(block, index)
        self._entries[row.key] = entry
        self._insert(entry, row)

    def remove(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._flat = None
            self._delete(*self._find(old))

    def _insert(self, entry: tuple[Any, ...], row: Row) -> None:
        maxes = self._maxes
        if not maxes:
            self._blocks.append([entry])
            self._row_blocks.append([row])
            self._key_blocks.append([row.key])
            maxes.append(entry)
            return
        block = min(bisect_left(maxes, entry), len(maxes) - 1)
        entries, rows, keys = self._blocks[block], self._row_blocks[block], self._key_blocks[block]
        index = bisect_left(entries, entry)
        entries.insert(index, entry)
        rows.insert(index, row)
        keys.insert(index, row.key)
        if index == len(entries) - 1:
            maxes[block] = entry
        half = self._block
        if len(entries) > 2 * half:
            self._blocks[block + 1 : block + 1] = [entries[half:]]
            self._row_blocks[block + 1 : block + 1] = [rows[half:]]
            self._key_blocks[block + 1 : block + 1] = [keys[half:]]
            del entries[half:], rows[half:], keys[half:]
            maxes.insert(block, entries[-1])

    def _delete(self, block: int, index: int) -> None:
        entries = self._blocks[block]
        del entries[index], self._row_blocks[block][index], self._key_blocks[block][index]
        if entries:
            self._maxes[block] = entries[-1]
        else:
            del self._blocks[block], self._row_blocks[block], self._key_blocks[block], self._maxes[block]

    def _flatten(self) -> tuple[list[Row], list[str]]:
        if self._flat is None:
            rows: list[Row] = []
            keys: list[str] = []
            for row_block, key_block in zip(self._row_blocks, self._key_blocks, strict=True):
                rows += row_block  # a copy in C per block
                keys += key_block
            self._flat = rows, keys
        return self._flat

    def rows(self, *, reverse: bool = False) -> list[Row]:
        """The rows in order (a new list each time, so the caller may keep it)."""
        rows = self._flatten()[0]
        return rows[::-1] if reverse else list(rows)

    def row_keys(self) -> list[str]:
        """The keys in the order of `rows()` (a new list each time)."""
        return list(self._flatten()[1])
