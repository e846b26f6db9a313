"""The journal in the console and on the command line: a broken journal is one warning, never a stop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.app.actions_sim import rig, wait_note
from tests.app.harness import wait_for
from tests.app.test_actions_queues import confirm, select
from tui.cli import main
from tui.journal import Journal, Sighting


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def test_an_unwritable_journal_warns_once_and_the_action_still_goes_through(tmp_path: Path) -> None:
    (tmp_path / "wall").write_text("a file where the journal's directory should be")
    journal = Journal(tmp_path / "wall" / "journal.sqlite3")
    async with rig("queue-paused", journal=journal) as r:
        await r.pilot.press("4")  # a triage: the journal's first write fails
        await wait_note(r, "not written", timeout=10)
        await r.pilot.press("1")
        await select(r, "process-video")
        await r.pilot.press("p")
        await confirm(r)
        await wait_note(r, "verified", timeout=10)
        assert r.engine.queues["task/process-video"].paused is False
        warnings = [n for n in r.app._notifications if n.title == "Journal"]
        assert len(warnings) == 1 and "the console works without it" in warnings[0].message
        await r.app.run_command(":report")
        await wait_for(r.pilot, lambda: "report not written" in r.notifications(), timeout=10)


def test_report_on_the_command_line(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = Journal(state_dir / "journal.sqlite3")
    now = datetime.now(UTC)
    journal.triage("prod", "prod-eu", now, [Sighting("queue_paused", "queue:task/x", "PAUSED: task/x")])
    journal.triage("stg", "stg", now, [Sighting("worker_pool_empty", "environment", "STALLED")])
    journal.close()
    assert main(["report", "--since", "1h", "--profile", "prod", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["cause"] for f in data["faults"]] == ["queue_paused"] and data["summary"]["open"] == 1
    assert main(["--profile", "stg", "report"]) == 0  # the global --profile picks too
    out = capsys.readouterr().out
    assert "**FAULT** worker\\_pool\\_empty on environment: STALLED" in out and "task/x" not in out
    assert main(["report", "--since", "yesterday"]) == 2
    assert "platos-tui report: --since 'yesterday'" in capsys.readouterr().err


def test_report_without_a_journal_says_nothing_was_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 0
    assert "Nothing was recorded in this window." in capsys.readouterr().out
