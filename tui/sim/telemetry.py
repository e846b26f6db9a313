"""What a task writes into its trace besides spans: log records, exception events, a tool call's input and output.

Nothing here draws from the engine's random stream (ids come from hashes), so adding telemetry leaves every
seeded world as it was.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from tui.sim.clock import iso
from tui.sim.state import Run, Span

RETRIES = 5
"""Retries a task's client makes of a tool call whose entity does not answer (then it waits on the last one)."""
TRY_SECONDS = 20.0
BACKOFF_SECONDS = 5.0


def _digest(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()


def log(run: Run, holder: Span, level: str, message: str, when: datetime, **properties: Any) -> Span:
    """A log record written inside `holder`: a zero-length child at `level` (API.md §4.7 `data.level`)."""
    record = Span(
        id=_digest(holder.id, "log", str(len(holder.children)))[:16],
        run_id=run.friendly,
        message=message,
        start=when,
        end=when,
        parent_id=holder.id,
        properties=dict(properties),
        level=level,
    )
    holder.children.append(record)
    run.span_index[record.id] = record
    return record


def exception(kind: str, message: str, where: str, when: datetime) -> dict[str, Any]:
    """An exception span event; `message` keeps the plain key the engine's readers have always used."""
    head = message if message.startswith(f"{kind}:") else f"{kind}: {message}"
    stack = f"{head}\n    at {where}\n    at runTask (src/trigger/worker.ts:88:21)"
    properties = {"type": kind, "message": message, "stacktrace": stack}
    return {"name": "exception", "time": iso(when), "properties": properties}


def tool_input(run: Run, entity: str, tool: str) -> dict[str, Any]:
    """What the task asked the entity: derived from the run id, so the same seed gives the same input."""
    customer = f"cus_{_digest(run.iid, 'customer')[:10]}"
    if tool == "lookup":
        return {"customerId": customer, "fields": ["name", "plan", "owner"]}
    return {"customerId": customer, "changes": {"plan": "team", "source": entity}}


def tool_output(run: Run, tool: str) -> dict[str, Any]:
    customer = f"cus_{_digest(run.iid, 'customer')[:10]}"
    if tool == "lookup":
        return {"customerId": customer, "name": f"Customer {customer[-4:]}", "plan": "team", "owner": "ops@example.com"}
    return {"customerId": customer, "updated": True}


def next_retry(call: Span) -> datetime | None:
    """When the client's next retry of an unanswered call is due (None once all have been made)."""
    made = sum(1 for child in call.children if child.level == "WARN")
    if made >= RETRIES:
        return None
    return call.start + timedelta(seconds=(made + 1) * (TRY_SECONDS + BACKOFF_SECONDS))


def log_retries(run: Run, call: Span, tool: str, now: datetime) -> None:
    """Log each retry that has come due, at the moment it was made."""
    while (due := next_retry(call)) is not None and due <= now:
        made = sum(1 for child in call.children if child.level == "WARN") + 1
        log(
            run,
            call,
            "WARN",
            f"retry {made}/{RETRIES} {tool}: no answer within {TRY_SECONDS:.0f} s (timeout)",
            due,
            retry=made,
            retries=RETRIES,
            timeoutSeconds=TRY_SECONDS,
        )
