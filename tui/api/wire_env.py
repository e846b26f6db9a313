"""JSON bodies of bulk actions, deployments, the environment and the admin API (API.md §8-§10, §12)."""

from __future__ import annotations

from tui.api.reader import Obj, cursor_page
from tui.model import (
    REPAIR_IGNORE,
    BulkAction,
    BulkActionStatus,
    BulkActionType,
    Deployment,
    EngineReport,
    EnvironmentInfo,
    Page,
    Promotion,
    QueueEngineState,
    Repair,
    RepairReport,
    RepairResult,
)


def parse_bulk_action(body: object) -> BulkAction:
    o = Obj(body, "bulkAction")
    counts = o.child("counts")
    return BulkAction(
        id=o.text("id"),
        type=o.choice("type", BulkActionType),
        status=o.choice("status", BulkActionStatus),
        total=counts.count("total"),
        success=counts.count("success"),
        failure=counts.count("failure"),
        created_at=o.when("createdAt"),
        completed_at=o.opt_when("completedAt"),
        name=o.opt_text("name"),
    )


def parse_deployment(body: object, label: str = "deployment") -> Deployment:
    return _deployment(Obj(body, label))


def _deployment(o: Obj) -> Deployment:
    return Deployment(
        id=o.text("id"),
        short_code=o.text("shortCode"),
        version=o.text("version"),
        status=o.text("status"),
        created_at=o.when("createdAt"),
        deployed_at=o.opt_when("deployedAt"),
        error=error.opt_text("message") if (error := o.opt_child("error")) is not None else None,
    )


def parse_deployment_page(body: object) -> Page[Deployment]:
    return cursor_page(body, "deployments", _deployment)


def parse_promotion(body: object) -> Promotion:
    """The promote answer `{id, version, shortCode}`; `shortCode` is read tolerantly (it is only shown)."""
    o = Obj(body, "promote")
    return Promotion(id=o.text("id"), version=o.text("version"), short_code=o.opt_text("shortCode") or "")


def parse_environment(body: object) -> EnvironmentInfo:
    """whoami: only the fields below are read; the echoed `apiKey` is never touched."""
    o = Obj(body, "environment")
    return EnvironmentInfo(
        id=o.text("id"),
        slug=o.text("slug"),
        type=o.text("type"),
        paused=o.flag("paused", False),
        concurrency_limit=o.opt_count("maximumConcurrencyLimit"),
        burst_factor=o.number("concurrencyLimitBurstFactor", 1.0),
    )


def parse_claims_subject(body: object) -> str:
    return Obj(body, "claims").text("sub")


# admin ------------------------------------------------------------------------------------------------


def _repair_result(o: Obj) -> RepairResult:
    o.texts("runIds")  # read to check it, not kept: the repairs name the same runs
    repairs = [
        Repair(
            action=r.text("action"),
            run_id=r.text("runId"),
            snapshot_status=r.text("snapshotStatus"),
            snapshot_id=r.text("snapshotId"),
        )
        for r in o.objects("repairs")
    ]
    changed = tuple(r for r in repairs if r.action != REPAIR_IGNORE)
    return RepairResult(repairs=changed, ignored=len(repairs) - len(changed), dry_run=o.flag("dryRun"))


def parse_repair_report(body: object) -> RepairReport:
    o = Obj(body, "repair")
    return RepairReport(
        environment=_repair_result(o.child("environment")),
        queues=tuple((q.text("queue"), _repair_result(q)) for q in o.objects("queues")),
    )


def _value(o: Obj, key: str) -> int:
    return o.child(key).count("value")


def _queue_state(o: Obj) -> QueueEngineState:
    analysis = o.child("analysis")
    limit = o.opt_child("concurrencyLimit")
    return QueueEngineState(
        name=o.text("name"),
        paused=o.flag("paused", False),
        can_dequeue=analysis.flag("canDequeue"),
        reasons=analysis.texts("reasons"),
        concurrency_limit=limit.opt_count("value") if limit else None,
        current_concurrency=_value(o, "currentConcurrency"),
        current_dequeued=_value(o, "currentDequeued"),
    )


def parse_engine_report(body: object) -> EngineReport:
    o = Obj(body, "report")
    analysis = o.child("analysis")
    return EngineReport(
        concurrency_limit=_value(o, "concurrencyLimit"),
        concurrency_limit_with_burst=_value(o, "concurrencyLimitWithBurstFactor"),
        current_dequeued=_value(o, "currentDequeued"),
        current_concurrency=_value(o, "currentConcurrency"),
        can_dequeue=analysis.flag("canDequeue"),
        reasons=analysis.texts("reasons"),
        queues=tuple(_queue_state(q) for q in o.objects("queues")),
    )
