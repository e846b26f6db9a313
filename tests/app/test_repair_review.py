"""The repair review: what would change first, the runs left alone and the clean scopes counted in one row each."""

from __future__ import annotations

from tui.model import REPAIR_IGNORE, Repair, RepairReport, RepairResult
from tui.screens.repair import review_rows


def _result(*repairs: Repair) -> RepairResult:
    changed = tuple(r for r in repairs if r.action != REPAIR_IGNORE)
    return RepairResult(changed, len(repairs) - len(changed), True)


def test_repairs_come_first_and_ignored_runs_collapse_into_a_count() -> None:
    ignore = [Repair("ignore", f"ok{i}", "EXECUTING", f"s{i}") for i in range(40)]
    leak = Repair("repairSnapshot", "leak1", "FINISHED", "sx")
    report = RepairReport(
        _result(*ignore[:30]),
        (("task/a", _result(*ignore[30:], leak)), ("task/b", _result()), ("shared-email", _result())),
    )
    rows = review_rows(report)
    assert rows[0] == ("task/a", "run_leak1", "FINISHED", "repairSnapshot")
    assert rows[1] == ("", "40 runs", "not leaked", "ignore")
    assert rows[2] == ("2 scopes", "-", "-", "nothing to repair")
    assert len(rows) == 3


def test_a_clean_report_is_one_row() -> None:
    assert review_rows(RepairReport(_result(), ())) == [("1 scope", "-", "-", "nothing to repair")]
