"""The audit log: append-only, merged per attempt, private file mode, never a secret."""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.simclient import ADMIN, SECRET
from tui.actions.audit import AuditLog, audit_command, default_audit_path, parse_since, read_entries
from tui.actions.scrub import Scrubber, summarise_body

ENV = {"type": "production", "label": "prod-eu"}


def _start(log: AuditLog, **changes: object) -> str:
    fields: dict[str, object] = {
        "profile": "prod",
        "environment": ENV,
        "action": "cancel_run",
        "targets": ["run_1"],
        "request": {"method": "POST", "path": "/api/v2/runs/run_1/cancel"},
        "reason": "INC-42 stuck run",
    }
    fields.update(changes)
    return log.start(**fields)  # type: ignore[arg-type]


def test_state_dir_comes_from_the_environment(state_dir: Path) -> None:
    assert default_audit_path() == state_dir / "audit.jsonl"


def test_records_of_one_attempt_merge_into_one_entry(state_dir: Path) -> None:
    log = AuditLog()
    attempt = _start(log)
    log.end(attempt, outcome="ok", message="cancel sent", status=200)
    log.verified(attempt, {"verified": True, "seconds": 15, "seen": "run is CANCELED"})
    other = _start(log, targets=["run_2"])
    log.end(other, outcome="refused", message="read-only")

    lines = log.path.read_text().splitlines()
    assert len(lines) == 5
    assert all(json.loads(line)["attempt"] in (attempt, other) for line in lines)
    entries = read_entries()
    assert [e.attempt for e in entries] == [attempt, other]
    first = entries[0]
    assert first.complete and first.outcome == "ok" and first.status == 200
    assert first.verification is not None and first.verification["verified"] is True
    assert first.env_type == "production" and first.env_label == "prod-eu"
    assert first.reason == "INC-42 stuck run"
    assert first.request == {"method": "POST", "path": "/api/v2/runs/run_1/cancel"}


def test_a_crash_before_the_end_still_leaves_a_trace() -> None:
    log = AuditLog()
    _start(log)
    (entry,) = read_entries()
    assert not entry.complete
    out = io.StringIO()
    assert audit_command(False, None, out) == 0
    assert "NO OUTCOME RECORDED" in out.getvalue()


def test_file_is_0600_and_dir_0700(state_dir: Path) -> None:
    log = AuditLog()
    _start(log)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_a_loose_existing_file_is_tightened(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700)
    path = state_dir / "audit.jsonl"
    path.write_text("")
    path.chmod(0o644)
    _start(AuditLog())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_never_contains_a_secret() -> None:
    log = AuditLog()
    log.protect(SECRET, ADMIN, "custom-secret-value")
    attempt = _start(
        log,
        reason=f"pasted by mistake: {SECRET} and Bearer eyJhbGciOi.jwt.sig",
        request={"method": "POST", "path": "/x", "body": {"data": {"key": SECRET, "nested": [ADMIN]}}},
        targets=["tr_dev_abcdefghijklmnopqrstuvwx", "custom-secret-value"],
    )
    log.end(attempt, outcome="failed", message=f"server said tr_stg_{'z' * 24} and tr_preview_{'y' * 24}")
    log.verified(attempt, {"seen": f"tr_pat_{'q' * 40}", "verified": False})
    raw = log.path.read_text()
    for secret in (
        SECRET,
        ADMIN,
        "custom-secret-value",
        "tr_dev_",
        "tr_stg_",
        "tr_preview_",
        "tr_pat_",
        "eyJhbGciOi",
    ):
        assert secret not in raw
    assert "[REDACTED]" in raw


def test_large_bodies_are_summarised_by_size_and_hash() -> None:
    body = {"data": "x" * 10_000}
    summary = summarise_body(body, Scrubber())
    assert isinstance(summary, dict) and summary["summarised"] is True
    assert summary["bytes"] > 10_000 and len(summary["sha256"]) == 64
    assert summarise_body({"data": {}}, Scrubber()) == {"data": {}}


def test_audit_command_json_and_since(state_dir: Path) -> None:
    times = iter([datetime.now(UTC) - timedelta(hours=3), datetime.now(UTC) - timedelta(hours=3)])
    old = AuditLog(clock=lambda: next(times))
    attempt = _start(old, targets=["run_old"])
    old.end(attempt, outcome="ok", message="cancel sent")
    log = AuditLog()
    attempt = _start(log, targets=["run_new"])
    log.end(attempt, outcome="ok", message="cancel sent", status=200)

    out = io.StringIO()
    assert audit_command(True, None, out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["targets"] for r in rows] == [["run_old"], ["run_new"]]
    assert rows[1]["outcome"] == "ok" and rows[1]["environment"] == ENV

    out = io.StringIO()
    assert audit_command(False, "1h", out) == 0
    text = out.getvalue()
    assert "run_new" in text and "run_old" not in text
    assert "reason: INC-42 stuck run" in text


def test_audit_command_rejects_a_bad_since(capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_command(False, "yesterday-ish", io.StringIO()) == 2
    assert "--since" in capsys.readouterr().err


def test_audit_command_without_a_log() -> None:
    out = io.StringIO()
    assert audit_command(False, None, out) == 0
    assert "No audit entries" in out.getvalue()


def test_unreadable_lines_are_skipped() -> None:
    log = AuditLog()
    attempt = _start(log)
    with log.path.open("a") as handle:
        handle.write("{not json\n")
        handle.write('{"kind":"end","attempt":"att_unknown","time":"2026-01-01T00:00:00Z"}\n')
    log.end(attempt, outcome="ok", message="done")
    (entry,) = read_entries()
    assert entry.outcome == "ok"


def test_parse_since() -> None:
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert parse_since("1h", now) == now - timedelta(hours=1)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2026-11-28T07:00Z", now) == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("soon", now)
