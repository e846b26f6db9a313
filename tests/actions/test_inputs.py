"""Pure input checks: token bodies, limits, write time boxes, filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tui.actions.inputs import TOKEN_BODY_LIMIT, RunFilter, check_limit, check_token_body, parse_write_minutes
from tui.model import QueueType, RunStatus


def test_token_body_sizes_count_the_whole_encoded_request() -> None:
    ok = check_token_body('{"é": "✓"}')
    assert ok.valid and ok.data == {"é": "✓"} and ok.size == len('{"data":{"é":"✓"}}'.encode())
    assert check_token_body("null").valid and check_token_body("0").valid
    # the limit applies to the wrapped, UTF-8 encoded body: 2 bytes per "é", plus {"data":...}
    room = TOKEN_BODY_LIMIT - len('{"data":""}')
    assert check_token_body('"' + "é" * (room // 2) + '"').valid
    check = check_token_body('"' + "é" * (room // 2 + 1) + '"')
    assert not check.valid and check.error is not None and "too large" in check.error


def test_token_body_errors_name_the_position() -> None:
    check = check_token_body('{\n  "a": 1,\n}')
    assert not check.valid and check.error is not None and "line 3" in check.error


@pytest.mark.parametrize(("text", "expected"), [("5", 5), (" 12 ", 12), (7, 7)])
def test_limits(text: str | int, expected: int) -> None:
    assert check_limit(text, env_limit=50) == expected


@pytest.mark.parametrize("text", ["0", "-3", "1e3", "ten", "", True, 51, "100001"])
def test_bad_limits(text: str | int) -> None:
    with pytest.raises(ValueError):
        check_limit(text, env_limit=50 if text != "100001" else None)


def test_write_minutes() -> None:
    assert parse_write_minutes(None) == 15
    assert parse_write_minutes("30m") == 30
    assert parse_write_minutes("1h") == 60
    assert parse_write_minutes("45") == 45
    for bad in ("0m", "2h", "soon", "-5m"):
        with pytest.raises(ValueError):
            parse_write_minutes(bad)


def test_bulk_filter_shape() -> None:
    run_filter = RunFilter(
        statuses=(RunStatus.DEQUEUED, RunStatus.EXECUTING),
        queue=("task/agent-turn", QueueType.TASK),
        tags=("tenant:acme",),
        created_from=datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
    )
    assert run_filter.bulk_filter() == {
        "status": ["DEQUEUED", "EXECUTING"],
        "queue": {"type": "task", "name": "agent-turn"},
        "tag": ["tenant:acme"],
        "from": "2026-11-28T06:00:00+00:00",
    }
    assert run_filter.selective and not RunFilter(period="1h").selective
    assert "queue task/agent-turn" in run_filter.describe()


def test_a_run_filter_takes_a_period_or_a_range_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        RunFilter(period="1h", created_to=datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    assert RunFilter(period="1h").bulk_filter() == {"period": "1h"}
