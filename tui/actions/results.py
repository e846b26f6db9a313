"""Small frozen results that actions hand back to the UI: what was sent, what happened, what was verified."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tui.model import JSON, RepairReport


class Outcome(StrEnum):
    """How an action attempt ended, before verification."""

    OK = "ok"
    REFUSED = "refused"
    """Nothing was sent: read-only, already in progress, invalid input, missing configuration."""
    FAILED = "failed"
    """The server (or the plugin) answered with an error: the action did not happen."""
    UNKNOWN = "unknown"
    """The request was sent but no answer came (timeout): only verification can tell."""


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What an action sends, for the audit log: never a secret (the scrubber runs on it)."""

    method: str
    path: str
    body: JSON = None

    def as_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"method": self.method, "path": self.path}
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True, slots=True)
class Verification:
    """The post-condition watch: verified or not after `seconds`, with what was last seen."""

    verified: bool
    seconds: float
    seen: str
    checks: int = 0

    @property
    def message(self) -> str:
        if self.verified:
            return f"verified: {self.seen}"
        return f"NOT verified after {self.seconds:g} s: {self.seen}"

    def as_dict(self) -> dict[str, JSON]:
        return {"verified": self.verified, "seconds": self.seconds, "seen": self.seen, "checks": self.checks}


@dataclass(frozen=True, slots=True)
class ActionResult:
    """One action attempt as the UI shows it in a notification."""

    action: str
    targets: tuple[str, ...]
    outcome: Outcome
    message: str
    requests: tuple[RequestSummary, ...] = ()
    status: int | None = None
    attempt: str | None = None
    """The audit attempt id, None when nothing was audited (a duplicate press)."""
    verification: Verification | None = None
    created_id: str | None = None
    """The new run of a replay, or the bulk action id of a bulk cancel."""
    count: int | None = None
    report: RepairReport | None = None
    """The repair report: the dry run for `repair_queues`, the final dry run after `apply_repair`."""
    output: str | None = None
    """A plugin's captured output, truncated and scrubbed."""
    children: tuple[ActionResult, ...] = field(default=())
    """Per-run results of a marked-runs cancel."""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def sent(self) -> bool:
        """Whether a request (or process) may have reached its target."""
        return self.outcome in (Outcome.OK, Outcome.FAILED, Outcome.UNKNOWN)

    @property
    def summary(self) -> str:
        """One line for a notification: the outcome message plus the verification, when there is one."""
        if self.verification is None:
            return self.message
        return f"{self.message}; {self.verification.message}"
