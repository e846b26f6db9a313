"""The journal alone: findings open, move and clear; actions merge their records; size is bounded; no secrets."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.actions.audit import AuditLog
from tui.journal import Journal, Sighting, store
from tui.journal.report import read_incident, render_markdown, timeline

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
KEY = "tr_prod_abcdefghijklmnopqrstuvwx"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def paused(queue: str = "task/x") -> Sighting:
    return Sighting("queue_paused", f"queue:{queue}", f"PAUSED: {queue} paused, 40 runs waiting", ("queued 40",))


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "state" / "journal.sqlite3")


def test_a_finding_opens_moves_and_clears(journal: Journal) -> None:
    journal.triage("prod", "prod-eu", at(0), [paused()])
    journal.triage("prod", "prod-eu", at(1), [paused(), paused("task/y")])
    journal.triage("prod", "prod-eu", at(3), [paused("task/y")])
    assert journal.flush()
    incident = read_incident(at(-60), path=journal.path, now=at(5))
    by_subject = {f.subject: f for f in incident.faults}
    x, y = by_subject["queue:task/x"], by_subject["queue:task/y"]
    assert (x.first_seen, x.last_seen, x.cleared) == (at(0), at(1), at(3))
    assert (y.first_seen, y.last_seen, y.cleared) == (at(1), at(3), None)
    assert x.evidence == ("queued 40",)
    assert [f.subject for f in incident.open_faults] == ["queue:task/y"]
    assert incident.time_to_recover is None  # task/y is still open


def test_a_finding_seen_again_after_it_cleared_is_a_new_row(journal: Journal) -> None:
    for minute, seen in ((0, [paused()]), (1, []), (2, [paused()])):
        journal.triage("prod", "prod-eu", at(minute), seen)
    journal.flush()
    faults = read_incident(at(-60), path=journal.path, now=at(5)).faults
    assert [(f.first_seen, f.cleared) for f in faults] == [(at(0), at(1)), (at(2), None)]


def test_each_profile_keeps_its_own_findings(journal: Journal) -> None:
    journal.triage("prod", "prod-eu", at(0), [paused()])
    journal.triage("staging", "stg", at(1), [])  # another profile's clean triage clears nothing of prod's
    journal.flush()
    assert read_incident(at(-60), profile="prod", path=journal.path).open_faults
    assert read_incident(at(-60), profile="staging", path=journal.path).faults == []


def test_audit_records_merge_into_one_action_with_its_reason_and_verification(journal: Journal, tmp_path: Path) -> None:
    moments = iter([at(1), at(2), at(3)])
    audit = AuditLog(tmp_path / "audit.jsonl", sink=lambda record: journal.audit(record, next(moments)))
    audit.protect(KEY)
    attempt = audit.start(
        profile="prod",
        environment={"type": "production", "label": "prod-eu"},
        action="resume_queue",
        targets=["task/x"],
        request={"method": "POST", "path": "/api/v1/queues/x/pause"},
        reason=f"INC-42 queue paused by mistake {KEY}",
    )
    audit.end(attempt, outcome="ok", message="resumed", status=200)
    audit.verified(attempt, {"verified": True, "seen": "queue resumed, 3 runs started", "after_seconds": 5})
    journal.flush()
    [action] = read_incident(at(-60), path=journal.path).attempts
    assert (action.time, action.ended, action.verified_at) == (at(1), at(2), at(3))
    assert action.action == "resume_queue" and action.targets == ("task/x",) and action.user
    assert action.reason is not None and action.reason.startswith("INC-42") and KEY not in action.reason
    assert (action.outcome, action.status, action.verified) == ("ok", 200, True)
    assert action.verify_seen == "queue resumed, 3 runs started"


def test_the_timeline_lists_each_step_in_order_with_detect_and_recover_times(journal: Journal) -> None:
    journal.triage("prod", "prod-eu", at(0), [paused()])
    journal.connection("prod", "prod-eu", at(0.5), "lost", "could not connect: connection refused")
    journal.connection("prod", "prod-eu", at(1), "recovered", None)
    start = {"kind": "start", "attempt": "att_1", "profile": "prod", "environment": {"label": "prod-eu"}}
    journal.audit({**start, "user": "ana", "action": "resume_queue", "targets": ["task/x"], "reason": "INC-42"}, at(2))
    journal.audit({"kind": "end", "attempt": "att_1", "outcome": "ok", "status": 200, "message": "resumed"}, at(2))
    journal.audit({"kind": "verify", "attempt": "att_1", "verification": {"verified": True, "seen": "flowing"}}, at(3))
    journal.triage("prod", "prod-eu", at(4), [])
    journal.flush()
    incident = read_incident(at(-60), path=journal.path, now=at(5))
    kinds = [(e.time, e.kind) for e in timeline(incident)]
    assert kinds == [
        (at(0), "fault"),
        (at(0.5), "connection"),
        (at(1), "connection"),
        (at(2), "action"),
        (at(2), "outcome"),
        (at(3), "verified"),
        (at(4), "cleared"),
    ]
    assert incident.time_to_detect == 120 and incident.time_to_recover == 240
    text = render_markdown(incident)
    assert "Time to detect (first fault seen to first action): 2 m" in text
    assert "Time to recover (first fault seen to last fault cleared): 4 m" in text
    assert "ana: resume\\_queue task/x; reason: INC-42" in text


def test_size_is_bounded_by_rows_and_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "PRUNE_EVERY", 10)
    journal = Journal(tmp_path / "j.sqlite3", max_rows=25, max_days=1)
    journal.connection("prod", "e", at(-3 * 24 * 60), "lost", "old")  # three days before the rest
    for i in range(59):
        journal.connection("prod", "e", at(i), "lost" if i % 2 else "recovered", None)
    journal.flush()
    db = sqlite3.connect(journal.path)
    assert db.execute("SELECT count(*) FROM connections").fetchone()[0] == 25  # the 60th write pruned
    assert db.execute("SELECT count(*) FROM connections WHERE reason = 'old'").fetchone()[0] == 0
    assert db.execute("SELECT max(time) FROM connections").fetchone()[0] == store.stamp(at(58))


def test_no_secret_reaches_the_file(journal: Journal) -> None:
    journal.protect(KEY, "tr_pat_0123456789abcdefghij")
    journal.triage("prod", "prod-eu", at(0), [Sighting("unknown", f"run:{KEY}", f"saw {KEY}", (f"Bearer {KEY}",))])
    journal.connection("prod", "prod-eu", at(1), "lost", f"401: key {KEY} rejected")
    journal.audit({"kind": "start", "attempt": "a", "profile": "p", "reason": f"why {KEY}", "targets": [KEY]}, at(2))
    journal.close()
    raw = b"".join(p.read_bytes() for p in journal.path.parent.iterdir())
    assert KEY.encode() not in raw and b"tr_pat_0123456789" not in raw and b"[REDACTED]" in raw
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def test_an_unwritable_journal_warns_once_and_never_raises(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the directory should be")
    warnings: list[str] = []
    journal = Journal(tmp_path / "state" / "journal.sqlite3", warn=warnings.append)
    for minute in range(3):
        journal.triage("prod", "e", at(minute), [paused()])
    assert journal.flush()
    assert len(warnings) == 1 and warnings[0].startswith("journal not written, the console works without it: ")
    assert journal.warning is not None


def test_a_locked_journal_drops_the_write_without_blocking_the_caller(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.05)
    journal.triage("prod", "e", at(0), [])
    journal.flush()
    other = sqlite3.connect(journal.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    warnings: list[str] = []
    journal.warn = warnings.append
    journal.close()  # the next write opens a fresh connection, which meets the lock
    journal.triage("prod", "e", at(1), [paused()])  # returns at once: the writer thread waits, not us
    assert journal.flush(timeout=5)
    other.execute("ROLLBACK")
    assert warnings and "locked" in warnings[0]
