"""The journal read back as a postmortem: a timeline of faults, actions and connection changes, with TTD and TTR."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tui.actions.audit import parse_since
from tui.journal.store import Journal, default_journal_path, open_journal
from tui.model.duration import duration, parse_utc
from tui.model.text import clean

DEFAULT_SINCE = "24h"
REPORTS_DIR = "reports"
"""Where `:report` writes, beside the journal."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A finding on one subject: when a triage first saw it, last saw it, and saw it gone."""

    profile: str
    env: str
    cause: str
    subject: str
    summary: str
    evidence: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    cleared: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One audited action: who, what, on what, why, what came back and whether it was verified."""

    attempt: str
    profile: str
    env: str
    user: str
    time: datetime
    action: str
    targets: tuple[str, ...]
    reason: str | None
    outcome: str | None
    status: int | None
    message: str | None
    ended: datetime | None
    verified: bool | None
    verify_seen: str | None
    verified_at: datetime | None

    @property
    def recovery(self) -> bool:
        """An action on the system (not the elevation that allowed it)."""
        return self.action != "elevate"


@dataclass(frozen=True, slots=True)
class Link:
    profile: str
    env: str
    time: datetime
    state: str
    """`lost` or `recovered`."""
    reason: str | None


@dataclass(frozen=True, slots=True)
class Event:
    time: datetime
    kind: str
    """fault, cleared, action, outcome, verified, connection."""
    text: str
    details: tuple[str, ...] = ()
    scope: str = ""


@dataclass(frozen=True)
class Incident:
    since: datetime
    generated: datetime
    journal: Path
    faults: list[Fault] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @property
    def scopes(self) -> list[str]:
        found = [*(f"{f.profile}/{f.env}" for f in self.faults), *(f"{a.profile}/{a.env}" for a in self.attempts)]
        found += [f"{c.profile}/{c.env}" for c in self.links]
        return list(dict.fromkeys(found))

    @property
    def first_fault(self) -> datetime | None:
        return min((f.first_seen for f in self.faults), default=None)

    @property
    def first_action(self) -> datetime | None:
        start = self.first_fault
        if start is None:
            return None
        return min((a.time for a in self.attempts if a.recovery and a.time >= start), default=None)

    @property
    def open_faults(self) -> list[Fault]:
        return [f for f in self.faults if f.cleared is None]

    @property
    def recovered(self) -> datetime | None:
        """When the last fault cleared, once every fault has."""
        if not self.faults or self.open_faults:
            return None
        return max(f.cleared for f in self.faults if f.cleared is not None)

    @property
    def time_to_detect(self) -> float | None:
        """First fault seen to the first action taken."""
        first, acted = self.first_fault, self.first_action
        return (acted - first).total_seconds() if first is not None and acted is not None else None

    @property
    def time_to_recover(self) -> float | None:
        """First fault seen to the last fault cleared."""
        first, done = self.first_fault, self.recovered
        return (done - first).total_seconds() if first is not None and done is not None else None


def read_incident(
    since: datetime, *, profile: str | None = None, path: Path | None = None, now: datetime | None = None
) -> Incident:
    """Everything the journal holds from `since` on (for one profile when given). Raises OSError, sqlite3.Error."""
    path = path if path is not None else default_journal_path()
    generated = now or datetime.now(UTC)
    incident = Incident(since, generated, path)
    try:
        db = open_journal(path, write=False)
    except FileNotFoundError:
        return incident
    cutoff = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    where, args = ("AND profile = ?", (profile,)) if profile else ("", ())
    try:
        faults = db.execute(
            f"SELECT * FROM findings WHERE (last_seen >= ? OR cleared >= ?) {where} ORDER BY first_seen, id",
            (cutoff, cutoff, *args),
        ).fetchall()
        attempts = db.execute(f"SELECT * FROM actions WHERE time >= ? {where} ORDER BY time, rowid", (cutoff, *args))
        attempts_rows = attempts.fetchall()
        links = db.execute(f"SELECT * FROM connections WHERE time >= ? {where} ORDER BY time, id", (cutoff, *args))
        links_rows = links.fetchall()
    finally:
        db.close()
    incident.faults.extend(_fault(r) for r in faults)
    incident.attempts.extend(a for a in map(_attempt, attempts_rows) if a is not None)
    incident.links.extend(_link(r) for r in links_rows)
    return incident


def _time(value: Any) -> datetime:
    return parse_utc(value) or datetime.fromtimestamp(0, UTC)


def _fault(row: sqlite3.Row) -> Fault:
    try:
        evidence = json.loads(row["evidence"])
    except (TypeError, ValueError):
        evidence = []
    return Fault(
        row["profile"],
        row["env"],
        row["cause"],
        row["subject"],
        row["summary"],
        tuple(str(e) for e in evidence) if isinstance(evidence, list) else (),
        _time(row["first_seen"]),
        _time(row["last_seen"]),
        parse_utc(row["cleared"]),
    )


def _attempt(row: sqlite3.Row) -> Attempt | None:
    try:
        targets = json.loads(row["targets"])
    except (TypeError, ValueError):
        targets = []
    return Attempt(
        row["attempt"],
        row["profile"],
        row["env"],
        row["user"],
        _time(row["time"]),
        row["action"],
        tuple(str(t) for t in targets) if isinstance(targets, list) else (),
        row["reason"],
        row["outcome"],
        row["status"],
        row["message"],
        parse_utc(row["ended"]),
        None if row["verified"] is None else bool(row["verified"]),
        row["verify_seen"],
        parse_utc(row["verified_at"]),
    )


def _link(row: sqlite3.Row) -> Link:
    return Link(row["profile"], row["env"], _time(row["time"]), row["state"], row["reason"])


# ---------------------------------------------------------------------------------------------- timeline


def timeline(incident: Incident) -> list[Event]:
    """Every step with its time, oldest first. Steps at the same time read as they happened: faults seen,
    connection changes, then each action with its answer and verification, then faults cleared."""
    many = len(incident.scopes) > 1
    steps: list[tuple[tuple[int, ...], Event]] = []

    def add(
        order: tuple[int, ...], when: datetime, kind: str, text: str, scope: str, details: Sequence[str] = ()
    ) -> None:
        steps.append((order, Event(when, kind, text, tuple(details), scope if many else "")))

    for i, f in enumerate(incident.faults):
        scope = f"{f.profile}/{f.env}"
        add((0, i), f.first_seen, "fault", f"{f.cause} on {f.subject}: {f.summary}", scope, f.evidence)
        if f.cleared is not None:
            took = duration(f.cleared - f.first_seen, fine=False)
            add((3, i), f.cleared, "cleared", f"{f.cause} on {f.subject}, {took} after first seen", scope)
    for i, c in enumerate(incident.links):
        words = "connection lost" if c.state == "lost" else "connection recovered"
        add((1, i), c.time, "connection", words + (f": {c.reason}" if c.reason else ""), f"{c.profile}/{c.env}")
    for i, a in enumerate(incident.attempts):
        scope, targets = f"{a.profile}/{a.env}", ", ".join(a.targets) or "-"
        why = f"; reason: {a.reason}" if a.reason else ""
        add((2, i, 0), a.time, "action", f"{a.user or 'someone'}: {a.action} {targets}{why}", scope)
        if a.outcome is not None:
            status = f" ({a.status})" if a.status is not None else ""
            said = f": {a.message}" if a.message else ""
            add((2, i, 1), a.ended or a.time, "outcome", f"{a.action} {targets}: {a.outcome}{status}{said}", scope)
        else:
            add((2, i, 1), a.time, "outcome", f"{a.action} {targets}: no outcome recorded", scope)
        if a.verified is not None:
            seen = f": {a.verify_seen}" if a.verify_seen else ""
            words = "verified" if a.verified else "NOT verified"
            add((2, i, 2), a.verified_at or a.ended or a.time, "verified", f"{a.action} {targets} {words}{seen}", scope)
    steps.sort(key=lambda step: (step[1].time, step[0]))
    return [event for _, event in steps]


# ---------------------------------------------------------------------------------------------- renderers


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def _md(text: str) -> str:
    """Journal text (partly from the server) as literal Markdown: no control characters, no markup."""
    safe = clean(text)
    for char in "\\`*_[]<>|#":
        safe = safe.replace(char, "\\" + char)
    return safe


def _took(seconds: float | None, missing: str) -> str:
    return duration(seconds, fine=False) if seconds is not None else missing


LABELS = {
    "fault": "FAULT",
    "cleared": "CLEARED",
    "action": "ACTION",
    "outcome": "ANSWER",
    "verified": "VERIFY",
    "connection": "LINK",
}


def render_markdown(incident: Incident) -> str:
    lines = [
        "# Incident report",
        "",
        f"- Window: {_utc(incident.since)} to {_utc(incident.generated)} (UTC; event times follow the server's clock)",
        f"- Profiles: {_md(', '.join(incident.scopes) or 'none')}",
        f"- Faults: {len(incident.faults)} ({len(incident.open_faults)} still open)",
        f"- Actions: {sum(1 for a in incident.attempts if a.recovery)}"
        f" (elevations {sum(1 for a in incident.attempts if not a.recovery)})",
        f"- Connection losses: {sum(1 for c in incident.links if c.state == 'lost')}",
        f"- First fault seen: {_utc(incident.first_fault)}",
        f"- Time to detect (first fault seen to first action): {_took(incident.time_to_detect, 'no action taken')}",
        f"- Time to recover (first fault seen to last fault cleared): "
        f"{_took(incident.time_to_recover, 'not recovered' if incident.faults else 'no faults')}",
        "",
        "## Timeline",
        "",
    ]
    events = timeline(incident)
    if not events:
        lines.append("Nothing was recorded in this window.")
    for event in events:
        scope = f" [{_md(event.scope)}]" if event.scope else ""
        lines.append(f"- {_utc(event.time)} **{LABELS.get(event.kind, event.kind)}**{scope} {_md(event.text)}")
        lines.extend(f"  - {_md(detail)}" for detail in event.details)
    if incident.open_faults:
        lines += ["", "## Still open", ""]
        lines += [
            f"- {_md(f.cause)} on {_md(f.subject)}: first seen {_utc(f.first_seen)}, last seen {_utc(f.last_seen)}"
            for f in incident.open_faults
        ]
    lines += ["", f"Generated by platos-tui from {_md(str(incident.journal))}.", ""]
    return "\n".join(lines)


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "window": {"since": _iso(incident.since), "until": _iso(incident.generated)},
        "journal": str(incident.journal),
        "profiles": incident.scopes,
        "summary": {
            "faults": len(incident.faults),
            "open": len(incident.open_faults),
            "actions": sum(1 for a in incident.attempts if a.recovery),
            "connection_losses": sum(1 for c in incident.links if c.state == "lost"),
            "first_fault": _iso(incident.first_fault),
            "first_action": _iso(incident.first_action),
            "recovered": _iso(incident.recovered),
            "time_to_detect_seconds": incident.time_to_detect,
            "time_to_recover_seconds": incident.time_to_recover,
        },
        "faults": [
            {
                "profile": f.profile,
                "environment": f.env,
                "cause": f.cause,
                "subject": f.subject,
                "summary": f.summary,
                "evidence": list(f.evidence),
                "first_seen": _iso(f.first_seen),
                "last_seen": _iso(f.last_seen),
                "cleared": _iso(f.cleared),
            }
            for f in incident.faults
        ],
        "actions": [
            {
                "attempt": a.attempt,
                "profile": a.profile,
                "environment": a.env,
                "user": a.user,
                "time": _iso(a.time),
                "action": a.action,
                "targets": list(a.targets),
                "reason": a.reason,
                "outcome": a.outcome,
                "status": a.status,
                "message": a.message,
                "ended": _iso(a.ended),
                "verified": a.verified,
                "verification": a.verify_seen,
                "verified_at": _iso(a.verified_at),
            }
            for a in incident.attempts
        ],
        "connections": [
            {"profile": c.profile, "environment": c.env, "time": _iso(c.time), "state": c.state, "reason": c.reason}
            for c in incident.links
        ],
        "timeline": [
            {"time": _iso(e.time), "kind": e.kind, "text": e.text, "details": list(e.details), "scope": e.scope}
            for e in timeline(incident)
        ],
    }


def render(incident: Incident, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(incident_json(incident), ensure_ascii=False, indent=2) + "\n"
    return render_markdown(incident)


def report_name(moment: datetime, fmt: str) -> str:
    return f"incident-{moment.astimezone(UTC):%Y%m%d-%H%M%S}.{'json' if fmt == 'json' else 'md'}"


def write_report(incident: Incident, directory: Path, fmt: str = "md") -> Path:
    """Write the report into `directory` (0600 file); returns its path. Raises OSError."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / report_name(incident.generated, fmt)
    path.write_text(render(incident, fmt), encoding="utf-8")
    path.chmod(0o600)
    return path


def report_command(since: str | None, profile: str | None, fmt: str, out: TextIO, *, path: Path | None = None) -> int:
    """`platos-tui report [--since 2h] [--profile NAME] [--format md|json]`; returns the exit code."""
    now = datetime.now(UTC)
    try:
        cutoff = parse_since(since or DEFAULT_SINCE, now)
    except ValueError as exc:
        print(f"platos-tui report: {exc}", file=sys.stderr)
        return 2
    path = path if path is not None else default_journal_path()
    try:
        incident = read_incident(cutoff, profile=profile, path=path, now=now)
    except (OSError, sqlite3.Error) as exc:
        reason = clean(str(exc) or type(exc).__name__, 120)
        print(f"platos-tui report: cannot read the journal {path} ({reason})", file=sys.stderr)
        return 2
    out.write(render(incident, fmt))
    return 0


def write_console_report(journal: Journal, profile: str, now: datetime, since: str = DEFAULT_SINCE) -> tuple[bool, str]:
    """`:report`: write this profile's report next to the journal, `since` before `now` (the server's time,
    which the journal's times follow); returns (written, the one line to show)."""
    journal.flush()
    directory = journal.path.parent / REPORTS_DIR
    try:
        incident = read_incident(parse_since(since, now), profile=profile, path=journal.path, now=now)
        path = write_report(incident, directory)
    except (OSError, sqlite3.Error) as exc:
        return False, f"report not written to {directory} ({clean(str(exc) or type(exc).__name__, 120)})"
    faults, actions = len(incident.faults), sum(1 for a in incident.attempts if a.recovery)
    return True, f"report written to {path} (last {since}: {faults} faults, {actions} actions)"
