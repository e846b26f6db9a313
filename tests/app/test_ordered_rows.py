"""OrderedRows keeps rows in sort order as they change, agreeing with a full sort after every step."""

from __future__ import annotations

import random

import pytest

from tui.widgets.ordered_rows import OrderedRows
from tui.widgets.table import Row


@pytest.mark.parametrize("block", [1, 3, 256])
def test_random_puts_and_removes_match_a_full_sort(block: int) -> None:
    """Small blocks split and empty often: the rows and their keys still come in the order a sort gives."""
    rng = random.Random(7)
    ordered = OrderedRows(block)
    truth: dict[str, tuple[int, int]] = {}
    for step in range(3_000):
        key = f"k{rng.randrange(200)}"
        if rng.random() < 0.2:
            ordered.remove(key)
            truth.pop(key, None)
        else:
            sort_key = (rng.randrange(5), rng.randrange(3))  # many ties: the row key breaks them
            ordered.put(sort_key, Row(key, (str(step),)))
            truth[key] = sort_key
        if step % 100 == 0:
            expected = sorted(truth, key=lambda k: (truth[k], k))
            assert [row.key for row in ordered.rows()] == expected
            assert [row.key for row in ordered.rows(reverse=True)] == expected[::-1]
            assert ordered.row_keys() == expected
    assert len(ordered) == len(truth) and ordered.keys() == set(truth)


def test_a_changed_row_with_the_same_sort_key_is_replaced_in_place() -> None:
    ordered = OrderedRows()
    ordered.put((1,), Row("a", ("old",)))
    ordered.put((2,), Row("b", ("b",)))
    ordered.put((1,), Row("a", ("new",)))
    assert [row.cells[0] for row in ordered.rows()] == ["new", "b"]
    assert "a" in ordered and "c" not in ordered
