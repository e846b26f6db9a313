"""JSON shapes the server answers with, written from API.md (the server's own code, not the client's)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tui.sim.engine import Engine, iso
from tui.sim.state import Bulk, Deployment, Queue, Run, Span, Token

# DB status -> API status, per vocabulary (API.md §3.1 and §3.3).
STATUS_V2 = {
    "PENDING_VERSION": "PENDING_VERSION",
    "WAITING_FOR_DEPLOY": "PENDING_VERSION",
    "DELAYED": "DELAYED",
    "PENDING": "QUEUED",
    "DEQUEUED": "DEQUEUED",
    "EXECUTING": "EXECUTING",
    "RETRYING_AFTER_FAILURE": "EXECUTING",
    "WAITING_TO_RESUME": "WAITING",
    "PAUSED": "WAITING",
    "COMPLETED_SUCCESSFULLY": "COMPLETED",
    "CANCELED": "CANCELED",
    "COMPLETED_WITH_ERRORS": "FAILED",
    "INTERRUPTED": "FAILED",
    "CRASHED": "CRASHED",
    "SYSTEM_FAILURE": "SYSTEM_FAILURE",
    "EXPIRED": "EXPIRED",
    "TIMED_OUT": "TIMED_OUT",
}
STATUS_V1 = {
    **STATUS_V2,
    "WAITING_FOR_DEPLOY": "WAITING_FOR_DEPLOY",
    "DEQUEUED": "EXECUTING",
    "RETRYING_AFTER_FAILURE": "REATTEMPTING",
    "WAITING_TO_RESUME": "FROZEN",
    "PAUSED": "FROZEN",
    "INTERRUPTED": "INTERRUPTED",
}
# API status name (either vocabulary) -> DB statuses, for filter[status] (API.md §3.4).
FILTER_STATUS = {
    "PENDING_VERSION": ["PENDING_VERSION"],
    "WAITING_FOR_DEPLOY": ["WAITING_FOR_DEPLOY"],
    "DELAYED": ["DELAYED"],
    "QUEUED": ["PENDING"],
    "DEQUEUED": ["DEQUEUED"],
    "EXECUTING": ["EXECUTING"],
    "REATTEMPTING": ["RETRYING_AFTER_FAILURE"],
    "WAITING": ["WAITING_TO_RESUME"],
    "FROZEN": ["PAUSED", "WAITING_TO_RESUME"],
    "COMPLETED": ["COMPLETED_SUCCESSFULLY"],
    "CANCELED": ["CANCELED"],
    "FAILED": ["COMPLETED_WITH_ERRORS"],
    "INTERRUPTED": ["INTERRUPTED"],
    "CRASHED": ["CRASHED"],
    "SYSTEM_FAILURE": ["SYSTEM_FAILURE"],
    "EXPIRED": ["EXPIRED"],
    "TIMED_OUT": ["TIMED_OUT"],
}
COMPLETED_FLAG = {"COMPLETED", "CANCELED", "FAILED", "CRASHED", "INTERRUPTED", "SYSTEM_FAILURE"}


def api_status(run: Run, v2: bool) -> str:
    return (STATUS_V2 if v2 else STATUS_V1)[run.status]


def flags(status: str) -> dict[str, bool]:
    """The boolean helpers, quirks included: EXPIRED and TIMED_OUT are not `isCompleted` (API.md §3.2)."""
    completed = status in COMPLETED_FLAG
    return {
        "isQueued": status in ("QUEUED", "DELAYED", "PENDING_VERSION", "WAITING_FOR_DEPLOY"),
        "isExecuting": status in ("EXECUTING", "DEQUEUED", "REATTEMPTING", "FROZEN"),
        "isWaiting": status == "WAITING",
        "isCompleted": completed,
        "isSuccess": status == "COMPLETED",
        "isFailed": completed and status != "COMPLETED",
        "isCancelled": status == "CANCELED",
    }


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    """Optional fields are absent, never null."""
    if value is not None:
        body[key] = value


def common_run(run: Run, v2: bool, *, listing: bool) -> dict[str, Any]:
    status = api_status(run, v2)
    body: dict[str, Any] = {"id": run.friendly, "status": status, "taskIdentifier": run.task}
    _put(body, "idempotencyKey", run.idempotency_key)
    _put(body, "version", run.version)
    body.update(flags(status))
    body["isTest"] = run.is_test
    body["createdAt"] = iso(run.created_at)
    body["updatedAt"] = iso(run.updated_at)
    started = run.started_at or (run.locked_at if listing else None)
    _put(body, "startedAt", iso(started) if started else None)
    if run.final:
        _put(body, "finishedAt", iso(run.completed_at or run.updated_at))
    _put(body, "delayedUntil", iso(run.delay_until) if run.delay_until else None)
    _put(body, "ttl", run.ttl)
    _put(body, "expiredAt", iso(run.expired_at) if run.expired_at else None)
    body["tags"] = sorted(run.tags)
    done = (run.completed_at or run.updated_at) if run.final else None
    seconds = ((done or run.updated_at) - run.started_at).total_seconds() if run.started_at else 0.0
    body["durationMs"] = max(0, round(seconds * 1000))
    body["costInCents"] = round(body["durationMs"] * 0.0000169, 6)
    body["baseCostInCents"] = 0.0025
    _put(body, "metadata", run.metadata)
    body["depth"] = run.depth
    _put(body, "region", run.region)
    return body


def list_item(engine: Engine, run: Run, v2: bool) -> dict[str, Any]:
    body = common_run(run, v2, listing=True)
    body["env"] = {"id": engine.env.id, "name": engine.env.slug}
    body["taskKind"] = "STANDARD"
    return body


def related(run: Run, v2: bool) -> dict[str, Any]:
    body = common_run(run, v2, listing=False)
    body["triggerFunction"] = run.trigger_function
    _put(body, "batchId", run.batch)
    return body


def retrieve(engine: Engine, run: Run, v2: bool) -> dict[str, Any]:
    body = common_run(run, v2, listing=False)
    body["triggerFunction"] = run.trigger_function
    _put(body, "batchId", run.batch)
    _put(body, "payload", run.payload)
    if run.status == "COMPLETED_SUCCESSFULLY":
        _put(body, "output", run.output)
    _put(body, "error", _error(run.error))
    body["attemptCount"] = run.attempt
    body["attempts"] = []
    rel: dict[str, Any] = {}
    if run.root and run.root in engine.runs:
        rel["root"] = related(engine.runs[run.root], v2)
    if run.parent and run.parent in engine.runs:
        rel["parent"] = related(engine.runs[run.parent], v2)
    rel["children"] = [related(r, v2) for r in engine.children.get(run.iid, ())]
    body["relatedRuns"] = rel
    if run.schedule is not None:
        body["schedule"] = {
            "id": run.schedule,
            "generator": {"type": "CRON", "expression": "*/5 * * * *", "description": "Every 5 minutes"},
        }
    return body


def _error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    if error is None:
        return None
    if "message" in error:
        return {k: v for k, v in error.items() if k in ("message", "name", "stackTrace")}
    return {"message": str(error.get("raw", "Error"))}


def queue_item(engine: Engine, queue: Queue, *, percent_field: bool) -> dict[str, Any]:
    overridden = queue.override_limit is not None
    limit = queue.limit
    body: dict[str, Any] = {
        "id": queue.id,
        "name": queue.name,
        "type": queue.type,
        "running": len(queue.dequeued),
        "queued": len(queue.waiting),
        "paused": queue.paused,
        "concurrencyLimit": limit,
        "concurrency": {
            "current": limit,
            "base": queue.base_limit if overridden else None,
            "override": queue.override_limit if overridden else None,
            "overriddenAt": iso(queue.overridden_at) if overridden and queue.overridden_at else None,
            "overriddenBy": None,
        },
        "releaseConcurrencyOnWaitpoint": True,
    }
    if percent_field:
        body["concurrencyLimitOverridePercent"] = queue.override_percent
    return body


def span(run: Run, node: Span) -> dict[str, Any]:
    """ClickHouse store shape: nanosecond durations, 0 while partial, no `properties` (API.md §4.7)."""
    partial = node.end is None
    body: dict[str, Any] = {"id": node.id}
    _put(body, "parentId", node.parent_id)
    body["runId"] = node.run_id
    data: dict[str, Any] = {
        "message": node.message,
        "events": list(node.events),
        "startTime": iso(node.start),
        "duration": 0 if partial else round((node.end - node.start).total_seconds() * 1e9),  # type: ignore[operator]
        "isError": node.is_error,
        "isPartial": partial,
        "isCancelled": node.is_cancelled,
        "level": node.level,
    }
    _put(data, "attemptNumber", node.attempt)
    body["data"] = data
    body["children"] = [span(run, child) for child in node.children]
    return body


def span_detail(node: Span, triggered: list[Run] | None = None) -> dict[str, Any]:
    partial = node.end is None
    body: dict[str, Any] = {
        "spanId": node.id,
        "parentId": node.parent_id,
        "runId": node.run_id,
        "message": node.message,
        "isError": node.is_error,
        "isPartial": partial,
        "isCancelled": node.is_cancelled,
        "level": node.level,
        "startTime": iso(node.start),
        "durationMs": 0 if partial else round((node.end - node.start).total_seconds() * 1000, 3),  # type: ignore[operator]
    }
    if node.properties:
        body["properties"] = dict(node.properties)
    if node.events:
        body["events"] = list(node.events)
    _put(body, "entityType", node.entity_type)
    if triggered:
        body["triggeredRuns"] = [
            {"runId": r.friendly, "taskIdentifier": r.task, "status": r.status, "createdAt": iso(r.created_at)}
            for r in triggered[:50]
        ]
    return body


def events(root: Span) -> list[dict[str, Any]]:
    """Flattened spans as run events: startTime in epoch nanoseconds as a string, ns durations (API.md §4.9)."""
    out: list[dict[str, Any]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        partial = node.end is None
        out.append(
            {
                "spanId": node.id,
                "parentId": node.parent_id,
                "runId": node.run_id,
                "message": node.message,
                "style": {},
                "events": list(node.events),
                "startTime": str(round(node.start.timestamp() * 1_000_000) * 1000),
                "duration": 0 if partial else round((node.end - node.start).total_seconds() * 1e9),  # type: ignore[operator]
                "isError": node.is_error,
                "isPartial": partial,
                "isCancelled": node.is_cancelled,
                "kind": "UNSPECIFIED",
                "attemptNumber": node.attempt,
                "level": node.level,
            }
        )
        stack.extend(reversed(node.children))
    return out


def token_item(engine: Engine, token: Token, base_url: str, secret: str) -> dict[str, Any]:
    status = "WAITING" if token.status == "PENDING" else ("TIMED_OUT" if token.output_is_error else "COMPLETED")
    body: dict[str, Any] = {"id": token.friendly, "url": callback_url(base_url, token, secret), "status": status}
    _put(body, "completedAt", iso(token.completed_at) if token.completed_at else None)
    _put(body, "timeoutAt", iso(token.timeout_at) if token.timeout_at else None)
    _put(body, "completedAfter", iso(token.timeout_at) if token.timeout_at else None)
    if token.user_key:
        _put(body, "idempotencyKey", token.idempotency_key)
        expires = token.idempotency_expires_at
        _put(body, "idempotencyKeyExpiresAt", iso(expires) if expires else None)
    body["tags"] = sorted(token.tags)
    body["createdAt"] = iso(token.created_at)
    return body


def token_detail(engine: Engine, token: Token, base_url: str, secret: str) -> dict[str, Any]:
    body = token_item(engine, token, base_url, secret)
    body["idempotencyKey"] = token.idempotency_key
    body["type"] = "MANUAL"
    _put(body, "output", token.output)
    if token.output is not None:
        body["outputType"] = "application/json"
    body["outputIsError"] = token.output_is_error
    body["userProvidedIdempotencyKey"] = token.user_key
    _put(body, "inactiveIdempotencyKey", getattr(token, "inactive_key", None))
    return body


def callback_url(base_url: str, token: Token, secret: str) -> str:
    digest = hmac.new(secret.encode(), token.iid.encode(), hashlib.sha256).hexdigest()
    return f"{base_url}/api/v1/waitpoints/tokens/{token.friendly}/callback/{digest}"


def bulk_item(bulk: Bulk) -> dict[str, Any]:
    body: dict[str, Any] = {"id": bulk.friendly}
    _put(body, "name", bulk.name)
    body.update(
        {
            "type": bulk.type,
            "status": bulk.status,
            "counts": {"total": len(bulk.targets), "success": bulk.success, "failure": bulk.failure},
            "createdAt": iso(bulk.created_at),
        }
    )
    _put(body, "completedAt", iso(bulk.completed_at) if bulk.completed_at else None)
    return body


def deployment_item(deployment: Deployment, *, current: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": deployment.id,
        "createdAt": iso(deployment.created_at),
        "shortCode": deployment.short_code,
        "version": deployment.version,
        "runtime": "node",
        "runtimeVersion": "22.12.0",
        "status": deployment.status,
    }
    if deployment.status == "FAILED":
        body["error"] = {"name": "BuildError", "message": deployment.image_error or "the build failed"}
    deployed = iso(deployment.deployed_at) if deployment.deployed_at else None
    if current:
        _put(body, "deployedAt", deployed)
    else:
        body["deployedAt"] = deployed
        body["git"] = None
    return body


SNAPSHOT_LEAK = {"QUEUED", "SUSPENDED", "FINISHED"}


def repair_result(engine: Engine, run_ids: list[str], dry_run: bool) -> dict[str, Any]:
    repairs = []
    for iid in run_ids:
        run = engine.runs[iid]
        action = "repairSnapshot" if run.snapshot in SNAPSHOT_LEAK else "ignore"
        snapshot_id = "c" + hashlib.sha1(f"{iid}:{run.snapshot}".encode()).hexdigest()[:24]
        repairs.append({"action": action, "runId": iid, "snapshotStatus": run.snapshot, "snapshotId": snapshot_id})
    return {"runIds": list(run_ids), "repairs": repairs, "dryRun": dry_run}
