"""Admin routes (admin PAT only): repair-queues, the engine report, and the environment's live concurrency."""

from __future__ import annotations

import math
from typing import Any

from tui.sim import views
from tui.sim.engine import Engine
from tui.sim.http import ApiError, Ctx, json_error, query_error
from tui.sim.state import Queue

REASON_PAUSED = "Queue is paused."
CURRENT_CONCURRENCY_LABEL = (
    "Env current concurrency, this is what is used to determine if the environment can be dequeued from"
)


def _env(ctx: Ctx) -> Engine:
    if ctx.param("env_id") != ctx.engine.env.id:
        raise json_error(404, "Environment not found")
    return ctx.engine


def _ordered(engine: Engine, names: list[str]) -> list[Queue]:
    queues = sorted(engine.queues.values(), key=lambda q: q.name)
    return [q for q in queues if not names or q.stored in names]


async def repair_queues(ctx: Ctx) -> Any:
    engine = _env(ctx)
    try:
        body = ctx.json_body()
    except ApiError:
        body = {"dryRun": None}  # the real route parses without a guard, so a bad body is a 500 (API.md §10.1)
    dry_run = body.get("dryRun", True)
    names = body.get("queues", [])
    if not isinstance(dry_run, bool) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise json_error(500, "Internal Server Error")
    env_ids = sorted(engine.env.operational)
    _snapshots_exist(engine, env_ids)
    queue_results = []
    for queue in _ordered(engine, [str(n) for n in names]):
        ids = sorted(i for i in queue.operational if i not in engine.env.operational)
        _snapshots_exist(engine, ids)
        queue_results.append({"queue": queue.stored, **views.repair_result(engine, ids, dry_run)})
    result = {"environment": views.repair_result(engine, env_ids, dry_run), "queues": queue_results}
    if not dry_run:
        _repair(engine, env_ids + [i for q in queue_results for i in q["runIds"]])
    return result


def _snapshots_exist(engine: Engine, run_ids: list[str]) -> None:
    # A slot held by a run with no snapshot makes getLatestExecutionSnapshot throw: a 500 (API.md §10.2).
    if any(iid not in engine.runs for iid in run_ids):
        raise json_error(500, "Internal Server Error")


def _repair(engine: Engine, run_ids: list[str]) -> None:
    """Release the slots of runs whose snapshot says they should hold none (the engine's delayed repair job)."""
    for iid in run_ids:
        run = engine.runs[iid]
        if run.snapshot in views.SNAPSHOT_LEAK:
            queue = engine.queue_of(run)
            queue.operational.discard(iid)
            queue.dequeued.discard(iid)
            engine.env.operational.discard(iid)


def _queue_report(engine: Engine, queue: Queue) -> dict[str, Any]:
    env_limit = engine.env_limit()
    redis_limit = 0 if queue.paused else queue.limit
    effective = min(redis_limit if redis_limit is not None else 1_000_000, env_limit)
    current = len(queue.operational)
    env_reason = _env_reason(engine)
    reasons = []
    if queue.paused:
        reasons.append(REASON_PAUSED)
    if env_reason:
        reasons.append(env_reason)
    if current >= effective:
        reasons.append(f"Queue concurrency ({current}) has reached the effective queue limit ({effective}).")
    due = sum(1 for i in queue.waiting if (engine.runs[i].eligible_at or engine.now) <= engine.now)
    if due == 0:
        reasons.append("No due messages in the queue (nothing scored ≤ now).")
    return {
        "name": queue.stored,
        "friendlyId": queue.id,
        "type": "VIRTUAL" if queue.type == "task" else "NAMED",
        "paused": queue.paused,
        "dbConcurrencyLimit": queue.limit,
        "key": f"{_env_key(engine)}:queue:{queue.stored}",
        "analysis": {
            "canDequeue": not reasons,
            "reasons": reasons,
            "metrics": {
                "effectiveQueueLimit": effective,
                "queueAvailableCapacity": max(0, effective - current),
                "messagesDueCount": due,
            },
        },
        "concurrencyLimit": {"value": redis_limit},
        "currentConcurrency": {"value": current},
        "currentDequeued": {"value": len(queue.dequeued)},
    }


def _env_reason(engine: Engine) -> str | None:
    limit = math.floor(engine.env_limit() * engine.env.burst_factor)
    current = len(engine.env.operational)
    if limit - current > 0:
        return None
    return f"Environment concurrency ({current}) has reached the limit with burst ({limit})."


async def report(ctx: Ctx) -> Any:
    engine = _env(ctx)
    raw_page, raw_per_page = ctx.query("page") or "1", ctx.query("per_page") or "50"
    if not raw_page.isdigit() or not raw_per_page.isdigit() or int(raw_page) < 1 or int(raw_per_page) < 1:
        raise query_error("page", "Expected a positive integer")
    page, per_page = int(raw_page), min(100, int(raw_per_page))
    queues = _ordered(engine, [])[(page - 1) * per_page : page * per_page]
    limit = engine.env_limit()
    reason = _env_reason(engine)
    dequeued = sum(len(q.dequeued) for q in engine.queues.values())
    body: dict[str, Any] = {
        "concurrencyLimit": {"value": limit},
        "concurrencyLimitWithBurstFactor": {"value": math.floor(limit * engine.env.burst_factor)},
        "currentDequeued": {"value": dequeued, "label": "Env current dequeued, this is what is displayed to the user"},
        "currentConcurrency": {
            "value": len(engine.env.operational),
            "label": CURRENT_CONCURRENCY_LABEL,
        },
        "analysis": {
            "canDequeue": reason is None,
            "reasons": [reason] if reason else [],
            "metrics": {
                "envAvailableCapacity": max(
                    0, math.floor(limit * engine.env.burst_factor) - len(engine.env.operational)
                )
            },
        },
        "queues": [_queue_report(engine, q) for q in queues],
    }
    if ctx.query("verbose") == "1":
        _add_keys(engine, body)
    return body


def _env_key(engine: Engine) -> str:
    return f"{{org:org_sim}}:proj:{engine.env.project_ref}:env:{engine.env.id}"


def _add_keys(engine: Engine, body: dict[str, Any]) -> None:
    """`verbose=1` names the Redis keys behind each number (API.md §10.3); the names mirror the run queue's."""
    env = _env_key(engine)
    body["concurrencyLimit"]["key"] = f"{env}:concurrency"
    body["concurrencyLimitWithBurstFactor"]["key"] = f"{env}:concurrencyBurstFactor"
    body["currentDequeued"]["key"] = f"{env}:currentDequeued"
    body["currentConcurrency"]["key"] = f"{env}:currentConcurrency"
    for queue in body["queues"]:
        queue["concurrencyLimit"]["key"] = f"{queue['key']}:concurrency"
        queue["currentConcurrency"]["key"] = f"{queue['key']}:currentConcurrency"
        queue["currentDequeued"]["key"] = f"{queue['key']}:currentDequeued"


async def environment(ctx: Ctx) -> Any:
    engine = _env(ctx)
    body: dict[str, Any] = {
        "id": engine.env.id,
        "concurrencyLimit": engine.env_limit(),
        "currentConcurrency": sum(len(q.dequeued) for q in engine.queues.values()),
    }
    stored = ctx.query("queue")
    if stored and stored in engine.queues:
        queue = engine.queues[stored]
        body["queueConcurrencyLimit"] = queue.limit
        body["queueCurrentConcurrency"] = len(queue.dequeued)
    return body


ADMIN = {"admin": True}
ROUTES: list[tuple[str, str, Any, dict[str, bool]]] = [
    ("POST", "/admin/api/v1/environments/{env_id}/engine/repair-queues", repair_queues, ADMIN),
    ("GET", "/admin/api/v1/environments/{env_id}/engine/report", report, ADMIN),
    ("GET", "/admin/api/v1/environments/{env_id}", environment, ADMIN),
]
