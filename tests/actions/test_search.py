"""Search lines: parsed into terms, applied to the runs pane's filter, refused with one line when wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tui.actions.search import DEFAULT_SEARCH, run_search, search_words, window_words
from tui.model import RunStatus
from tui.model.search import NO_KEY_FILTER, Term, split_terms

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_a_saved_search_line_becomes_one_filter() -> None:
    found = run_search(DEFAULT_SEARCH, ":task send-email :status DEQUEUED :window 2h", NOW)
    assert found.tasks == ("send-email",) and found.statuses == (RunStatus.DEQUEUED,) and found.period == "2h"
    assert found.bulk_filter() == {"status": ["DEQUEUED"], "taskIdentifier": ["send-email"], "period": "2h"}


def test_values_may_hold_colons_and_lists() -> None:
    terms = split_terms(":tag customer:acme,vip :version 20261127.1")
    assert terms == (Term("tag", "customer:acme,vip"), Term("version", "20261127.1"))
    found = run_search(DEFAULT_SEARCH, ":tag customer:acme,vip :batch batch_9", NOW)
    assert found.tags == ("customer:acme", "vip") and found.batch == "batch_9"
    assert search_words(found) == "tag customer:acme|vip · batch batch_9"


def test_window_and_range_replace_each_other_never_both() -> None:
    ranged = run_search(DEFAULT_SEARCH, ":window 2h :from 6h :to 2026-11-28T07:00", NOW)
    assert ranged.period is None
    assert ranged.created_from == NOW - timedelta(hours=6)
    assert ranged.created_to == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert window_words(ranged) == "2026-11-28 02:00 UTC to 2026-11-28 07:00 UTC"
    windowed = run_search(ranged, ":window 30m", NOW)
    assert (windowed.period, windowed.created_from, windowed.created_to) == ("30m", None, None)
    assert window_words(run_search(windowed, ":window", NOW)) == "7d"


def test_an_empty_value_clears_its_criterion_and_clear_resets_everything() -> None:
    found = run_search(DEFAULT_SEARCH, ":tag a :task t :status", NOW)
    assert found.statuses == () and found.tags == ("a",)
    assert run_search(found, ":tag", NOW).tags == ()
    assert run_search(found, ":clear", NOW) == DEFAULT_SEARCH


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (":status RUNNING", "unknown status RUNNING"),
        (":window 2 hours", "one value"),
        (":window 2x", "not a window"),
        (":from yesterday", "not a time"),
        (":from 1h :to 2h", "starts"),
        (":key order-9000", "no idempotency-key filter"),
        (":nope x", "unknown search term :nope"),
        ("task x", "a search is :NAME VALUE"),
        (":batch a,b", "one batch id"),
        (":tag a,,b", "empty item"),
        (":clear now", "takes no value"),
    ],
)
def test_bad_input_says_why_and_changes_nothing(line: str, reason: str) -> None:
    before = run_search(DEFAULT_SEARCH, ":tag keep", NOW)
    with pytest.raises(ValueError, match=reason) as caught:
        run_search(before, line, NOW)
    assert "\n" not in str(caught.value)
    assert before.tags == ("keep",)


def test_the_key_message_names_the_missing_api_filter() -> None:
    assert "API.md §4.2" in NO_KEY_FILTER and ":run ID" in NO_KEY_FILTER
