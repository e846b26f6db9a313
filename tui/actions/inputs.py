"""Pure validation of what an operator types before an action: token bodies, limits, filters, time boxes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from tui.actions.scrub import encoded_size
from tui.model import JSON, QueueType, RunStatus

TOKEN_BODY_LIMIT = 3 * 1024 * 1024
"""API.md §7.4: the complete endpoint takes at most 3 MB, measured on the encoded `{"data": ...}` body."""

MAX_CONCURRENCY = 100_000
"""API.md §5.5: `concurrencyLimit` is an int in 0..100000 (the TUI asks for a positive one)."""

DEFAULT_WRITE_MINUTES = 15
MAX_WRITE_MINUTES = 60
MAX_BULK_RUN_IDS = 500
"""API.md §8: a bulk action takes at most 500 `runIds`."""


@dataclass(frozen=True, slots=True)
class BodyCheck:
    """The JSON editor's verdict, recomputed as the operator types. Only a `valid` body can be sent."""

    valid: bool
    data: JSON = None
    size: int = 0
    """Encoded size of the whole request body `{"data": ...}`, in bytes."""
    error: str | None = None


def _reject_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not valid JSON")


def check_token_body(text: str, limit: int = TOKEN_BODY_LIMIT) -> BodyCheck:
    """Parse the editor text as the token's output `data`: strict JSON, encoded body within the limit."""
    if not text.strip():
        return BodyCheck(False, error="empty: type a JSON value, e.g. {}")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return BodyCheck(False, error=f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except (ValueError, RecursionError) as exc:
        return BodyCheck(False, error=f"invalid JSON: {exc}")
    size = encoded_size({"data": data})
    if size > limit:
        return BodyCheck(False, data=None, size=size, error=f"too large: {size:,} bytes, the server accepts {limit:,}")
    return BodyCheck(True, data=data, size=size)


def check_limit(text: str | int, env_limit: int | None = None) -> int:
    """A new concurrency limit: a positive integer, at most the environment's limit when known."""
    if isinstance(text, bool):
        raise ValueError("the limit must be a whole number")
    if isinstance(text, str):
        if not re.fullmatch(r"\s*\d+\s*", text):
            raise ValueError("the limit must be a positive whole number")
        value = int(text)
    else:
        value = text
    if value < 1:
        raise ValueError("the limit must be at least 1 (pause the queue to stop it)")
    cap = MAX_CONCURRENCY if env_limit is None else min(env_limit, MAX_CONCURRENCY)
    if value > cap:
        where = "the environment limit" if env_limit is not None and env_limit <= MAX_CONCURRENCY else "the maximum"
        raise ValueError(f"the limit {value} exceeds {where} ({cap})")
    return value


def parse_write_minutes(text: str | None) -> int:
    """`:write [15m]` time box in minutes: `15m`, `1h`, `30`; default 15, at most 60."""
    if text is None or not text.strip():
        return DEFAULT_WRITE_MINUTES
    match = re.fullmatch(r"\s*(\d+)\s*(m|min|h)?\s*", text)
    if not match:
        raise ValueError(f"write time {text!r}: use minutes like 15m or hours like 1h")
    minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
    return check_write_minutes(minutes)


def check_write_minutes(minutes: int) -> int:
    if not 1 <= minutes <= MAX_WRITE_MINUTES:
        raise ValueError(f"write elevation lasts 1 to {MAX_WRITE_MINUTES} minutes, not {minutes}")
    return minutes


class ListArgs(TypedDict, total=False):
    """The keyword arguments of `list_runs` that a RunFilter sets (the paging ones are the caller's)."""

    statuses: tuple[RunStatus, ...]
    tasks: tuple[str, ...]
    queue: tuple[str, QueueType] | None
    tags: tuple[str, ...]
    created_from: datetime | None
    created_to: datetime | None
    period: str | None
    versions: tuple[str, ...]
    schedule: str | None
    batch: str | None


@dataclass(frozen=True, slots=True)
class RunFilter:
    """The runs pane's filter, as both a list query and a bulk-action filter (API.md §4.2 and §8)."""

    statuses: tuple[RunStatus, ...] = ()
    tasks: tuple[str, ...] = ()
    queue: tuple[str, QueueType] | None = None
    tags: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    period: str | None = None
    versions: tuple[str, ...] = ()
    """Runs locked to these deployed versions (a bad deploy's runs)."""
    schedule: str | None = None
    """Runs a schedule (`sched_…`) created (copies piling up behind a stuck head)."""
    batch: str | None = None
    """Runs one batch (`batch_…`) triggered."""
    run_ids: tuple[str, ...] = ()
    """Exactly these runs: what a text filter matched, which no API filter can express (sent as `runIds`)."""
    words: str = ""
    """How the screen the filter came from names it (the runs pane's header); `describe()` uses it when set."""

    def __post_init__(self) -> None:
        # The server lets a period override from/to, so a filter holding both would not mean what it shows.
        if self.period and (self.created_from is not None or self.created_to is not None):
            raise ValueError("a run filter takes a period or a from/to range, not both")

    @property
    def selective(self) -> bool:
        """At least one non-time criterion: the TUI never bulk-cancels "everything in the last 7 days"."""
        return bool(
            self.run_ids
            or self.statuses
            or self.tasks
            or self.queue
            or self.tags
            or self.versions
            or self.schedule
            or self.batch
        )

    def list_args(self) -> ListArgs:
        """The same filter as a run-list query: what the pane lists and the count before a bulk action reads."""
        return ListArgs(
            statuses=self.statuses,
            tasks=self.tasks,
            queue=self.queue,
            tags=self.tags,
            created_from=self.created_from,
            created_to=self.created_to,
            period=self.period,
            versions=self.versions,
            schedule=self.schedule,
            batch=self.batch,
        )

    def bulk_filter(self) -> dict[str, JSON]:
        """The `filter` object of a bulk action; the queue goes as `{type, name}` with the bare task id."""
        out: dict[str, JSON] = {}
        if self.statuses:
            out["status"] = [s.value for s in self.statuses]
        if self.tasks:
            out["taskIdentifier"] = list(self.tasks)
        if self.queue is not None:
            name, type_ = self.queue
            if type_ is QueueType.TASK and name.startswith("task/"):
                name = name[len("task/") :]
            out["queue"] = {"type": type_.value, "name": name}
        if self.tags:
            out["tag"] = list(self.tags)
        if self.versions:
            out["version"] = list(self.versions)
        if self.schedule:
            out["schedule"] = self.schedule
        if self.batch:
            out["batch"] = self.batch
        if self.period:
            out["period"] = self.period
        if self.created_from:
            out["from"] = self.created_from.astimezone(UTC).isoformat()
        if self.created_to:
            out["to"] = self.created_to.astimezone(UTC).isoformat()
        return out

    def criteria(self) -> list[str]:
        """What narrows the runs beyond their statuses, queue and time, in words (`task a|b`, `tag x`)."""
        parts = []
        if self.tasks:
            parts.append("task " + "|".join(self.tasks))
        if self.tags:
            parts.append("tag " + "|".join(self.tags))
        if self.batch:
            parts.append(f"batch {self.batch}")
        if self.versions:
            parts.append("version " + "|".join(self.versions))
        if self.schedule:
            parts.append(f"schedule {self.schedule}")
        return parts

    def describe(self) -> str:
        if self.words:
            return self.words
        parts = ["status " + "|".join(s.value for s in self.statuses)] if self.statuses else []
        if self.queue is not None:
            parts.append(f"queue {self.queue[0]}")
        parts.extend(self.criteria())
        parts.append(
            f"created in the last {self.period}" if self.period else _range(self.created_from, self.created_to)
        )
        return ", ".join(p for p in parts if p)


def from_query(text: str) -> RunFilter:
    """A filter written as a query string (`version=20261204.4&status=QUEUED,DEQUEUED&to=<ISO>`): how a
    diagnosis names the runs a bulk recovery should reach. Raises ValueError for an unknown key or value."""
    fields: dict[str, str] = {}
    for part in text.split("&"):
        key, _, value = part.partition("=")
        fields[key] = value
    unknown = set(fields) - {"version", "schedule", "status", "task", "to"}
    if unknown:
        raise ValueError(f"unknown filter keys: {', '.join(sorted(unknown))}")

    def split(key: str) -> tuple[str, ...]:
        return tuple(v for v in fields.get(key, "").split(",") if v)

    to = fields.get("to")
    return RunFilter(
        statuses=tuple(RunStatus(s) for s in split("status")),
        tasks=split("task"),
        versions=split("version"),
        schedule=fields.get("schedule") or None,
        created_to=datetime.fromisoformat(to) if to else None,
    )


def _range(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "created in the last 7 days"
    fmt = "%Y-%m-%d %H:%M"
    return f"created {start.strftime(fmt) if start else '…'} to {end.strftime(fmt) if end else 'now'}"


def dedupe(ids: Sequence[str]) -> tuple[str, ...]:
    """Ids in first-seen order without repeats."""
    return tuple(dict.fromkeys(ids))
