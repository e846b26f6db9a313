"""A scripted incident in the console on the simulator: fault, triage, connection lost and back, elevation,
resume, verification, cleared; `:report` and `platos-tui report` then tell it back in order, with the times."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.app.actions_sim import rig, wait_note
from tests.app.harness import polled, wait_for
from tests.app.rollback_sim import open_finding
from tests.app.screen_text import screen_text
from tests.simclient import QUICK_RETRY
from tui.diagnosis import Cause
from tui.journal import Journal
from tui.journal.report import report_command
from tui.screens.confirm import ConfirmScreen
from tui.sim import server

REASON = "INC-7 queue paused by a deploy script"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def run_incident(state_dir: Path) -> tuple[Journal, str]:
    """Drive the incident; returns the journal and the text of the report `:report` wrote."""
    journal = Journal(state_dir / "journal.sqlite3")
    async with rig("queue-paused", read_only=True, journal=journal, retry=QUICK_RETRY) as r:
        session = r.app.session
        assert session is not None
        screen, _ = await open_finding(r, Cause.QUEUE_PAUSED, "resume_queue")
        r.engine.advance(60)
        r.transport.down = True  # the server goes away for a while
        await wait_for(r.pilot, polled(screen, lambda: session._link is False), timeout=10)  # a poll notes it
        r.engine.advance(30)
        r.transport.down = False
        await wait_for(r.pilot, polled(screen, lambda: session._link is True), timeout=10)
        r.engine.advance(30)
        await r.app.run_command(":write 15m")
        await r.pilot.pause(0.1)
        await r.pilot.press(*REASON, "enter")
        await wait_for(r.pilot, lambda: "WRITE" in screen_text(r.app))
        await r.pilot.press("p")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.press("y")
        await wait_note(r, "verified", timeout=10)
        for _ in range(20):  # the backlog drains: triage again, a few simulated minutes apart, until nothing is stuck
            r.engine.advance(120)
            before = session.triaged
            screen.refresh_now()
            await wait_for(r.pilot, lambda: session.triaged is not before, timeout=10)  # noqa: B023
            if not screen.findings:
                break
        assert not screen.findings, screen.findings
        await r.app.run_command(":report")
        await wait_note(r, "report written to", timeout=10)
    [written] = (state_dir / "reports").iterdir()
    return journal, written.read_text()


async def test_the_report_tells_the_incident_step_by_step_in_order(state_dir: Path) -> None:
    journal, text = await run_incident(state_dir)
    timeline = text.split("## Timeline")[1]
    steps = [
        "**FAULT** queue\\_paused on queue:task/process-video",
        "**LINK** connection lost: could not connect",
        "**LINK** connection recovered",
        f"**ACTION** {_user()}: elevate 15m; reason: {REASON}",
        "**ANSWER** elevate 15m: ok",
        f"**ACTION** {_user()}: resume\\_queue process-video; reason: {REASON}",
        "**ANSWER** resume\\_queue process-video: ok (200)",
        "**VERIFY** resume\\_queue process-video verified",
        "**CLEARED** queue\\_paused on queue:task/process-video",
    ]
    where = 0
    for step in steps:  # each step found after the one before it
        where = timeline.find(step, where)
        assert where != -1, f"missing or out of order: {step!r} in:\n{text}"
    lines = [line for line in timeline.splitlines() if line.startswith("- 2026-")]
    times = [line[2:22] for line in lines]
    assert times == sorted(times) and len(set(times)) >= 4  # each step carries its (simulated) time
    assert "- Time to detect (first fault seen to first action): 2 m" in text
    assert "- Time to recover (first fault seen to last fault cleared): " in text and "not recovered" not in text

    # The command line tells the same facts, as JSON too.
    out = io.StringIO()
    assert report_command("30d", "test", "json", out, path=journal.path) == 0
    data = json.loads(out.getvalue())
    kinds = [e["kind"] for e in data["timeline"]]
    assert kinds.index("fault") < kinds.index("connection") < kinds.index("action") < kinds.index("cleared")
    summary = data["summary"]
    assert summary["time_to_detect_seconds"] == 120 and summary["open"] == 0 and summary["connection_losses"] == 1
    [resume] = [a for a in data["actions"] if a["action"] == "resume_queue"]
    assert resume["reason"] == REASON and resume["verified"] is True and resume["outcome"] == "ok"

    raw = b"".join(p.read_bytes() for p in state_dir.rglob("*") if p.is_file())
    assert server.DEFAULT_SECRET_KEY.encode() not in raw and server.DEFAULT_ADMIN_TOKEN.encode() not in raw


def _user() -> str:
    from tui.actions.audit import operator

    return operator().replace("_", "\\_")
