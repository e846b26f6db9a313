"""The incident journal: findings, actions and connection changes in one SQLite file, written off the UI thread.

Every write is queued to one writer thread, so a slow disk or a locked database never holds up a key press.
A write that fails is dropped with one warning (per distinct reason); the console and its actions go on.
Rows older than `max_days`, and rows beyond `max_rows` per table, are pruned as the journal is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tui.config import state_dir
from tui.model import JSON
from tui.model.text import clean

if TYPE_CHECKING:
    import sqlite3

    from tui.actions.scrub import Scrubber

JOURNAL_FILE = "journal.sqlite3"
MAX_DAYS = 30
MAX_ROWS = 20_000
"""Per table: about 5 MB at the longest evidence the journal keeps."""
EVIDENCE_LINES = 20
PRUNE_EVERY = 100
"""Writes between two prunes (and one when the file is opened)."""
BUSY_TIMEOUT = 2.0
"""Seconds the writer waits on another process's lock before dropping a write with a warning."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    env TEXT NOT NULL,
    cause TEXT NOT NULL,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL,
    evidence TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    cleared TEXT
);
CREATE INDEX IF NOT EXISTS findings_open ON findings (profile, env, cleared);
CREATE TABLE IF NOT EXISTS actions (
    attempt TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    env TEXT NOT NULL,
    user TEXT NOT NULL,
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    reason TEXT,
    outcome TEXT,
    status INTEGER,
    message TEXT,
    ended TEXT,
    verified INTEGER,
    verify_seen TEXT,
    verified_at TEXT
);
CREATE TABLE IF NOT EXISTS connections (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    env TEXT NOT NULL,
    time TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT
);
"""

Warn = Callable[[str], None]
Job = Callable[["sqlite3.Connection"], None]


def default_journal_path() -> Path:
    return state_dir() / JOURNAL_FILE


def stamp(moment: datetime) -> str:
    """A UTC time that sorts as text: every time the journal stores is written this way."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Sighting:
    """One finding on one subject as a triage saw it: `queue:NAME`, `run:ID`, `deploy:VERSION`, `entity:NAME`."""

    cause: str
    subject: str
    summary: str
    evidence: tuple[str, ...] = ()


class Journal:
    """Appends what happens during an incident; `flush()` waits for queued writes (reports and tests)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        max_days: int = MAX_DAYS,
        max_rows: int = MAX_ROWS,
        warn: Warn | None = None,
    ) -> None:
        self.path = path if path is not None else default_journal_path()
        self.max_days = max_days
        self.max_rows = max_rows
        self.warn = warn
        self.warning: str | None = None
        """The last reason a write was dropped, None while every write succeeds."""
        self._secrets: list[str] = []
        self._jobs: queue.SimpleQueue[Job | threading.Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._writes = 0

    def protect(self, *secrets: str | None) -> None:
        """Redact these values (the profile's key and admin token) from everything written from now on."""
        self._secrets.extend(s for s in secrets if s)

    def _scrubber(self) -> Scrubber:
        """Redacts the protected secrets and anything shaped like a key; built in the writer thread."""
        # Imported here: the actions package costs ~70 ms, which the console's first frame must not pay.
        from tui.actions.scrub import Scrubber

        return Scrubber(self._secrets)

    # -- what the console records ---------------------------------------------------------------------

    def triage(self, profile: str, env: str, at: datetime, sightings: Sequence[Sighting]) -> None:
        """One finished triage: new sightings open a row, known ones move `last_seen`, missing ones clear."""
        when = stamp(at)

        def job(db: sqlite3.Connection) -> None:
            scrub = self._scrubber().text
            rows = {
                (s.cause, scrub(s.subject)): (scrub(s.summary), [scrub(e) for e in s.evidence[:EVIDENCE_LINES]])
                for s in sightings
            }
            scope = (scrub(profile), scrub(env))
            known = {
                (cause, subject): row_id
                for row_id, cause, subject in db.execute(
                    "SELECT id, cause, subject FROM findings WHERE profile = ? AND env = ? AND cleared IS NULL", scope
                )
            }
            for key, (summary, evidence) in rows.items():
                if key in known:
                    db.execute("UPDATE findings SET last_seen = ? WHERE id = ?", (when, known[key]))
                else:
                    db.execute(
                        "INSERT INTO findings (profile, env, cause, subject, summary, evidence, first_seen, last_seen)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*scope, *key, summary, json.dumps(evidence), when, when),
                    )
            gone = [row_id for key, row_id in known.items() if key not in rows]
            db.executemany("UPDATE findings SET cleared = ? WHERE id = ?", [(when, row_id) for row_id in gone])

        self._submit(job, at)

    def audit(self, record: Mapping[str, JSON], at: datetime) -> None:
        """Mirror one audit record (`start`, `end` or `verify`; already scrubbed by the audit log)."""
        copy, when = dict(record), stamp(at)

        def job(db: sqlite3.Connection) -> None:
            data = self._scrubber().json(copy)
            if not isinstance(data, dict) or not isinstance(data.get("attempt"), str):
                return
            kind, attempt = data.get("kind"), data["attempt"]

            def text(key: str) -> str | None:
                value = data.get(key)
                return value if isinstance(value, str) else None

            if kind == "start":
                env = data.get("environment")
                label = env.get("label") if isinstance(env, dict) else None
                targets = data.get("targets")
                db.execute(
                    "INSERT OR REPLACE INTO actions (attempt, profile, env, user, time, action, targets, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        attempt,
                        text("profile") or "",
                        label if isinstance(label, str) else "",
                        text("user") or "",
                        when,
                        text("action") or "",
                        json.dumps(targets if isinstance(targets, list) else []),
                        text("reason"),
                    ),
                )
            elif kind == "end":
                status = data.get("status")
                db.execute(
                    "UPDATE actions SET outcome = ?, status = ?, message = ?, ended = ? WHERE attempt = ?",
                    (text("outcome"), status if isinstance(status, int) else None, text("message"), when, attempt),
                )
            elif kind == "verify":
                seen = data.get("verification")
                verified = seen.get("verified") if isinstance(seen, dict) else None
                words = seen.get("seen") if isinstance(seen, dict) else None
                db.execute(
                    "UPDATE actions SET verified = ?, verify_seen = ?, verified_at = ? WHERE attempt = ?",
                    (int(bool(verified)), words if isinstance(words, str) else None, when, attempt),
                )

        self._submit(job, at)

    def connection(self, profile: str, env: str, at: datetime, state: str, reason: str | None) -> None:
        """The link to the server went down (`lost`) or came back (`recovered`)."""
        when = stamp(at)

        def job(db: sqlite3.Connection) -> None:
            scrub = self._scrubber().text
            row = (scrub(profile), scrub(env), when, state, scrub(clean(reason, 200)) if reason else None)
            db.execute("INSERT INTO connections (profile, env, time, state, reason) VALUES (?, ?, ?, ?, ?)", row)

        self._submit(job, at)

    # -- the writer ------------------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every write queued so far is done (or dropped); False if it took longer than `timeout`."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._jobs.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Finish queued writes (at most `timeout` seconds) and stop the writer."""
        thread = self._thread
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)
            self._thread = None

    def _submit(self, job: Job, at: datetime) -> None:
        with self._lock:
            self._jobs.put(job)
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                self._jobs.put(lambda db: prune(db, at, self.max_days, self.max_rows))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="platos-journal", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import sqlite3  # here, in the writer thread: the console's first frame does not wait for it

        db: sqlite3.Connection | None = None
        while True:
            job = self._jobs.get()
            if job is None:
                break
            if isinstance(job, threading.Event):  # a flush: everything queued before it is done
                job.set()
                continue
            try:
                if db is None:
                    db = open_journal(self.path, write=True)
                    prune(db, datetime.now(UTC), self.max_days, self.max_rows)
                with db:  # one transaction per write: a failed one leaves nothing half-written
                    job(db)
            except (sqlite3.Error, OSError) as exc:
                self._dropped(exc)
                if db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
                db = None  # open again at the next write: the directory may have been fixed meanwhile
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _dropped(self, exc: Exception) -> None:
        reason = clean(str(exc) or type(exc).__name__, 120)
        if reason == self.warning:
            return
        self.warning = reason
        if self.warn is not None:
            with contextlib.suppress(Exception):
                self.warn(f"journal not written, the console works without it: {reason} ({self.path})")


def open_journal(path: Path, *, write: bool) -> sqlite3.Connection:
    """Open (and when writing, create) the journal file: 0600 in a 0700 directory, WAL so reads never block.

    A reader opens it read-write too (without creating it): SQLite needs that to share a WAL file safely.
    """
    import sqlite3

    if write:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        return db
    if not path.is_file():
        raise FileNotFoundError(path)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
    db.row_factory = sqlite3.Row
    return db


def prune(db: sqlite3.Connection, now: datetime, max_days: int, max_rows: int) -> None:
    """Drop rows older than `max_days`, then the oldest rows beyond `max_rows` in each table."""
    cutoff = stamp(datetime.fromtimestamp(now.timestamp() - max_days * 86400.0, UTC))
    with db:
        db.execute("DELETE FROM findings WHERE last_seen < ?", (cutoff,))
        db.execute("DELETE FROM actions WHERE time < ?", (cutoff,))
        db.execute("DELETE FROM connections WHERE time < ?", (cutoff,))
        for table, order in (("findings", "last_seen"), ("actions", "time"), ("connections", "time")):
            db.execute(
                f"DELETE FROM {table} WHERE rowid NOT IN (SELECT rowid FROM {table} ORDER BY {order} DESC LIMIT ?)",
                (max_rows,),
            )
