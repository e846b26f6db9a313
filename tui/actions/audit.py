"""Append-only JSONL audit log of action attempts, and the `platos-tui audit` command that prints it.

Each attempt is written as up to three records sharing one `attempt` id, each appended as a single line:

- `start`  before anything is sent: time, profile, environment, action, targets, request summary,
           elevation reason;
- `end`    when the request returned: outcome (ok / refused / failed / unknown), HTTP status, message;
- `verify` when the post-condition watch finished: verified or not, after how long, what was seen.

Nothing is ever rewritten, so a crash between `start` and `end` still leaves a trace: the reader merges the
records of one attempt into one logical `AuditEntry`; an entry without an `end` reads "no outcome recorded".
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from tui.actions.scrub import Scrubber
from tui.config import state_dir
from tui.model import JSON
from tui.model.duration import parse_utc
from tui.model.text import clean

AUDIT_FILE = "audit.jsonl"
FORMAT_VERSION = 1


def default_audit_path() -> Path:
    return state_dir() / AUDIT_FILE


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def operator() -> str:
    """Who is at the keyboard: the login name (a shared bastion account reads the same for everyone)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (a bare container)
        return "unknown"


Sink = Callable[[Mapping[str, JSON]], None]
"""Receives each record once it is on disk, already scrubbed (the incident journal mirrors them)."""


class AuditUnavailable(Exception):
    """The audit log cannot be written; an action without its record must not be sent."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"the audit log {path} is not writable ({reason})")


class AuditLog:
    """Writes audit records; every string passes through the scrubber first. Safe to share across actions."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        scrubber: Scrubber | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sink: Sink | None = None,
    ) -> None:
        self.path = path if path is not None else default_audit_path()
        self._scrubber = scrubber if scrubber is not None else Scrubber()
        self._clock = clock
        self._sink = sink

    def protect(self, *secrets: str | None) -> None:
        """Redact these values (the profile's secret key and admin token) from every later record."""
        self._scrubber.add(secrets)

    def start(
        self,
        *,
        profile: str,
        environment: Mapping[str, JSON],
        action: str,
        targets: Iterable[str],
        request: Mapping[str, JSON] | None,
        reason: str | None,
    ) -> str:
        """Record an attempt before its request is sent; returns the attempt id for `end` and `verified`."""
        attempt = f"att_{secrets.token_hex(8)}"
        self._append(
            {
                "kind": "start",
                "attempt": attempt,
                "profile": profile,
                "environment": dict(environment),
                "user": operator(),
                "action": action,
                "targets": list(targets),
                "request": dict(request) if request is not None else None,
                "reason": reason,
            }
        )
        return attempt

    def end(self, attempt: str, *, outcome: str, message: str, status: int | None = None) -> None:
        self._append({"kind": "end", "attempt": attempt, "outcome": outcome, "status": status, "message": message})

    def verified(self, attempt: str, verification: Mapping[str, JSON]) -> None:
        self._append({"kind": "verify", "attempt": attempt, "verification": dict(verification)})

    def check(self) -> None:
        """Raise `AuditUnavailable` unless a record could be appended now (asked before a confirmation)."""
        self._write(b"")

    def _append(self, record: dict[str, JSON]) -> None:
        record = {"v": FORMAT_VERSION, "time": _iso(self._clock()), **record}
        scrubbed = self._scrubber.json(record)
        line = json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._write(line.encode())
        if self._sink is not None and isinstance(scrubbed, dict):
            # The journal is a convenience: it never stands between an action and its record.
            with contextlib.suppress(Exception):
                self._sink(scrubbed)

    def _write(self, data: bytes) -> None:
        try:
            _ensure_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)  # also tightens a file someone created with a looser mode
                if data:
                    os.write(fd, data)  # one write per line: appends from two processes do not interleave
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditUnavailable(self.path, exc.strerror or type(exc).__name__) from exc


def _ensure_private_dir(path: Path) -> None:
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One attempt, merged from its records."""

    attempt: str
    time: datetime
    profile: str
    env_type: str
    env_label: str
    action: str
    targets: tuple[str, ...]
    request: Mapping[str, JSON] | None
    reason: str | None
    outcome: str | None = None
    """None when no `end` record exists (the process died while the request was in flight)."""
    status: int | None = None
    message: str | None = None
    ended: datetime | None = None
    verification: Mapping[str, JSON] | None = None
    user: str = ""
    """The operator's login name (empty in records written before it was kept)."""

    @property
    def complete(self) -> bool:
        return self.outcome is not None

    def as_json(self) -> dict[str, JSON]:
        return {
            "attempt": self.attempt,
            "time": _iso(self.time),
            "profile": self.profile,
            "user": self.user,
            "environment": {"type": self.env_type, "label": self.env_label},
            "action": self.action,
            "targets": list(self.targets),
            "request": dict(self.request) if self.request is not None else None,
            "reason": self.reason,
            "outcome": self.outcome,
            "status": self.status,
            "message": self.message,
            "ended": _iso(self.ended) if self.ended else None,
            "verification": dict(self.verification) if self.verification is not None else None,
        }


def read_entries(path: Path | None = None, *, since: datetime | None = None) -> list[AuditEntry]:
    """Merged entries, oldest first. Unreadable lines and records of unknown attempts are skipped."""
    path = path if path is not None else default_audit_path()
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    entries: dict[str, AuditEntry] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            _merge(entries, record)
    merged = sorted(entries.values(), key=lambda e: e.time)
    return [e for e in merged if since is None or e.time >= since]


def _merge(entries: dict[str, AuditEntry], record: dict[str, JSON]) -> None:
    attempt, time = record.get("attempt"), parse_utc(record.get("time"))
    if not isinstance(attempt, str) or time is None:
        return
    kind = record.get("kind")
    if kind == "start":
        env = record.get("environment")
        env = env if isinstance(env, dict) else {}
        targets = record.get("targets")
        request = record.get("request")
        entries[attempt] = AuditEntry(
            attempt=attempt,
            time=time,
            profile=str(record.get("profile", "")),
            env_type=str(env.get("type", "")),
            env_label=str(env.get("label", "")),
            action=str(record.get("action", "")),
            targets=tuple(str(t) for t in targets) if isinstance(targets, list) else (),
            request=request if isinstance(request, dict) else None,
            reason=record["reason"] if isinstance(record.get("reason"), str) else None,
            user=str(record.get("user", "")),
        )
        return
    entry = entries.get(attempt)
    if entry is None:
        return
    if kind == "end":
        status = record.get("status")
        entries[attempt] = replace(
            entry,
            outcome=str(record.get("outcome", "")),
            status=status if isinstance(status, int) else None,
            message=str(record.get("message", "")),
            ended=time,
        )
    elif kind == "verify" and isinstance(record.get("verification"), dict):
        entries[attempt] = replace(entry, verification=record["verification"])


_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`1h`, `30m`, `2d` before `now`, or an ISO time; ValueError with an operator-facing message."""
    match = _SINCE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    moment = parse_utc(text.strip())
    if moment is None:
        raise ValueError(f"--since {text!r}: use a duration like 30m, 1h, 2d or an ISO time like 2026-01-31T08:00Z")
    return moment


def entry_line(entry: AuditEntry) -> str:
    """One human-readable line per attempt (what `platos-tui audit` and `:audit` show)."""
    outcome = entry.outcome or "NO OUTCOME RECORDED"
    if entry.status is not None:
        outcome = f"{outcome} ({entry.status})"
    parts = [
        entry.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        f"{entry.profile}/{entry.env_label}",
        entry.action,
        ",".join(entry.targets) or "-",
        outcome,
    ]
    if entry.message:
        parts.append(entry.message)
    if entry.verification is not None:
        verified = "verified" if entry.verification.get("verified") else "NOT verified"
        parts.append(f"{verified}: {entry.verification.get('seen', '')}")
    if entry.reason:
        parts.append(f"reason: {entry.reason}")
    return clean("  ".join(parts))


def audit_command(as_json: bool, since: str | None, out: TextIO, *, path: Path | None = None) -> int:
    """`platos-tui audit [--json] [--since 1h]`: print merged entries, oldest first. Returns the exit code."""
    try:
        cutoff = parse_since(since, _utcnow()) if since else None
    except ValueError as exc:
        print(f"platos-tui audit: {exc}", file=sys.stderr)
        return 2
    path = path if path is not None else default_audit_path()
    try:
        entries = read_entries(path, since=cutoff)
    except OSError as exc:
        print(f"platos-tui audit: cannot read {path} ({exc.strerror or type(exc).__name__})", file=sys.stderr)
        return 2
    if as_json:
        for entry in entries:
            out.write(json.dumps(entry.as_json(), ensure_ascii=False) + "\n")
        return 0
    if not entries:
        out.write(f"No audit entries{' in that period' if cutoff else ''} ({path}).\n")
        return 0
    for entry in entries:
        out.write(entry_line(entry) + "\n")
    return 0
