"""In a real terminal: an action reaches exactly what is on screen."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.tmux_demo import command, console, wait_for_match
from tui.actions import read_entries

pytestmark = pytest.mark.e2e


def test_cancel_matching_under_a_filter_offers_the_rows_the_pane_shows(tmp_path: Path) -> None:
    with console(tmp_path, "--demo") as terminal:
        terminal.wait_for("DEMO", "Health", "Queued")
        terminal.keys("2")
        terminal.wait_for("In status", "statuses: active")
        terminal.keys("/")
        time.sleep(0.3)
        terminal.keys("process-video", "Enter")
        header = wait_for_match(terminal, r"(\d+) of (\d+) runs")
        shown, loaded = int(header.group(1)), int(header.group(2))
        assert 0 < shown < loaded
        command(terminal, "cancel-matching")
        offer = wait_for_match(terminal, r"Cancel the (\d+) runs shown \[([^\]]*)\]")
        assert int(offer.group(1)) == shown
        assert "filter: process-video" in offer.group(2) and "statuses: active" in offer.group(2)
        terminal.keys(str(shown), "Enter")
        terminal.wait_for("processed", timeout=30)
    records = [json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()]
    [sent] = [r for r in records if r.get("action") == "cancel_matching" and r.get("request")]
    assert len(sent["request"]["body"]["runIds"]) == shown


def test_the_read_only_flag_cannot_be_lifted_with_write(tmp_path: Path) -> None:
    with console(tmp_path, "--demo", "--read-only") as terminal:
        terminal.wait_for("DEMO", "Health", "READ-ONLY (--read-only)")
        command(terminal, "write 15m")
        terminal.wait_for("started with --read-only")
        assert "READ-ONLY (--read-only)" in terminal.screen().splitlines()[0]
    entries = read_entries(tmp_path / "state" / "audit.jsonl")
    assert [(e.action, e.outcome) for e in entries] == [("elevate", "refused")]
