"""The wire layer against the API.md §14 examples, plus hand-picked quirks (durations, statuses, secrets)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from api_support import load

from tui.api import wire
from tui.api.errors import InvalidResponse
from tui.model import (
    LEGACY_STATUS_ALIASES,
    BulkActionStatus,
    BulkActionType,
    QueueType,
    RunStatus,
    TokenStatus,
)


def test_queue_list_example() -> None:
    queues, total_pages = wire.parse_queue_page(load("queues_list"))
    assert total_pages == 4
    video, email = queues
    assert (video.name, video.type, video.running, video.queued) == ("process-video", QueueType.TASK, 4, 37)
    assert (video.concurrency_limit, video.base_limit, video.override_limit) == (4, 10, 4)
    assert video.overridden and video.overridden_at == datetime(2026, 8, 20, 14, 2, 11, 408000, tzinfo=UTC)
    assert video.overridden_by is None and video.stored_name == "task/process-video"
    assert email.paused and email.concurrency_limit is None and not email.overridden
    assert email.stored_name == "shared-email"


def test_queue_metrics_example() -> None:
    metrics = wire.parse_queue_metrics(load("queue_metrics"))
    assert metrics.queue == "task/process-video" and metrics.period == "1h"
    assert (metrics.wait_p50_ms, metrics.wait_p95_ms) == (41250, 188400)
    assert (metrics.peak_queued, metrics.started_count, metrics.throttled_count) == (52, 118, 96)
    assert metrics.started_per_min == pytest.approx(1.97)
    assert metrics.bucket_interval_ms == 300000
    assert metrics.depth_trend == (0, 0, 12, 30, 44, 52, 51, 47, 45, 41, 39, 37)
    assert metrics.window_to > metrics.window_from


def test_queue_metrics_null_percentiles() -> None:
    body = load("queue_metrics")
    body["waitMs"] = {"p50": None, "p95": None}
    metrics = wire.parse_queue_metrics(body)
    assert metrics.wait_p50_ms is None and metrics.wait_p95_ms is None


def test_run_retrieve_example() -> None:
    detail = wire.parse_run_detail(load("run_retrieve"))
    run = detail.run
    assert run.id == "run_cmeo2x0k9a000208l4h2v1c3d7" and run.status is RunStatus.WAITING
    assert run.task_identifier == "approve-order" and run.version == "20260821.3"
    assert run.tags == ("customer:acme", "order:9921") and run.metadata == {"step": "awaiting-approval"}
    assert run.duration_ms == 2318 and run.cost_in_cents == pytest.approx(0.0231)
    assert run.started_at is not None and run.finished_at is None and not run.terminal
    assert detail.has_payload and detail.payload == {"orderId": 9921}
    assert not detail.has_output and detail.output is None
    assert detail.attempt_count == 1 and detail.trigger_function == "trigger"
    assert detail.related.children == () and detail.related.parent is None


def test_run_detail_tracks_offloaded_payload_and_null_output() -> None:
    body = load("run_retrieve")
    del body["payload"]
    body["payloadPresignedUrl"] = "https://objects.example/p"
    body["output"] = None
    body["status"] = "COMPLETED"
    detail = wire.parse_run_detail(body)
    assert not detail.has_payload and detail.payload_presigned_url == "https://objects.example/p"
    assert detail.has_output and detail.output is None


def test_run_detail_related_runs_and_error() -> None:
    body = load("run_retrieve")
    child = {k: v for k, v in load("runs_list")["data"][1].items() if k != "env"}
    body["relatedRuns"] = {"root": child, "parent": child, "children": [child, child]}
    body["error"] = {"message": "boom", "name": "Error", "stackTrace": "at x"}
    detail = wire.parse_run_detail(body)
    assert detail.related.root is not None and detail.related.root.status is RunStatus.DEQUEUED
    assert len(detail.related.children) == 2
    assert detail.error is not None and detail.error.message == "boom" and detail.error.stack_trace == "at x"


def test_runs_list_example() -> None:
    page = wire.parse_run_page(load("runs_list"))
    assert [run.status for run in page.items] == [RunStatus.WAITING, RunStatus.DEQUEUED]
    assert page.items[0].env_id == "cmd8w1f3k0004l50q7z2r9yxa" and page.items[0].env_name == "prod"
    assert page.items[1].idempotency_key is None and page.items[1].metadata is None
    assert page.next == "eyJjIjoxNzg3MzM1MTIwMDIwLCJyIjoiY21lbzJ3N3JiMDAwMXp6MGhxNGQ1azhwZSJ9"
    assert page.previous is None
    assert all(run.queue is None for run in page.items)


@pytest.mark.parametrize(
    ("legacy", "current"),
    [
        ("REATTEMPTING", RunStatus.EXECUTING),
        ("FROZEN", RunStatus.WAITING),
        ("WAITING_FOR_DEPLOY", RunStatus.PENDING_VERSION),
        ("INTERRUPTED", RunStatus.FAILED),
    ],
)
def test_legacy_statuses_are_mapped(legacy: str, current: RunStatus) -> None:
    body = load("runs_list")
    body["data"][0]["status"] = legacy
    assert wire.parse_run_page(body).items[0].status is current


def test_unknown_status_names_the_field() -> None:
    body = load("runs_list")
    body["data"][1]["status"] = "HIBERNATING"
    with pytest.raises(InvalidResponse, match=r"^runs\.data\[1\]\.status: unknown value 'HIBERNATING'$"):
        wire.parse_run_page(body)


def test_trace_clickhouse_durations_are_nanoseconds() -> None:
    body = load("trace_clickhouse")
    assert wire.parse_trace(body).root.duration_ms == 0
    body["trace"]["rootSpan"]["data"]["duration"] = 1_500_000_000
    body["trace"]["rootSpan"]["children"][0]["data"]["duration"] = 2_000_000
    trace = wire.parse_trace(body)
    assert trace.root.duration_ms == pytest.approx(1500.0)
    assert trace.root.children[0].duration_ms == pytest.approx(2.0)
    assert trace.trace_id == "8f3c2a91d04b7e65c1a2b3c4d5e6f708" and not trace.truncated
    assert [span.message for span in trace.open_spans()] == ["approve-order", "Attempt 1", "wait.forToken()"]
    deepest = trace.open_spans()[-1]
    assert deepest.parent_id == "0f1e2d3c4b5a6978" and deepest.attempt_number == 1
    assert deepest.properties is None


def test_trace_postgres_durations_are_milliseconds() -> None:
    trace = wire.parse_trace(load("trace_postgres"))
    assert trace.root.duration_ms == 1500 and trace.root.children[0].duration_ms == 250
    wait = trace.root.children[0]
    assert wait.properties == {"id": "waitpoint_cmeo2x3ab0007l40z1y2x3w4v"}
    assert wait.events[0].name == "exception" and wait.events[0].time is not None


def test_trace_properties_on_a_deep_span_decide_the_unit() -> None:
    body = load("trace_clickhouse")
    deepest = body["trace"]["rootSpan"]["children"][0]["children"][0]
    deepest["data"]["properties"] = {"id": "waitpoint_x"}
    body["trace"]["rootSpan"]["data"]["duration"] = 1500
    assert wire.parse_trace(body).root.duration_ms == 1500


def test_trace_event_with_odd_time_is_kept_without_time() -> None:
    body = load("trace_postgres")
    body["trace"]["rootSpan"]["children"][0]["data"]["events"][0]["time"] = "1787335120020000000"
    event = wire.parse_trace(body).root.children[0].events[0]
    assert event.name == "exception" and event.time is None


def test_span_detail_example() -> None:
    span = wire.parse_span_detail(load("span_detail"))
    assert span.waitpoint_id == "waitpoint_cmeo2x3ab0007l40z1y2x3w4v"
    assert span.entity_type == "waitpoint" and span.is_partial and span.parent_id == "0f1e2d3c4b5a6978"
    assert span.triggered_runs == () and span.events == ()


def test_span_detail_triggered_runs() -> None:
    body = load("span_detail")
    body["parentId"] = None
    body["triggeredRuns"] = [
        {
            "runId": "run_c1",
            "taskIdentifier": "child",
            "status": "EXECUTING",
            "createdAt": "2026-08-21T18:00:00Z",
        }
    ]
    span = wire.parse_span_detail(body)
    assert span.parent_id is None and span.triggered_runs[0].run_id == "run_c1"


def test_tokens_list_example() -> None:
    page = wire.parse_token_page(load("tokens_list"))
    first, second = page.items
    assert first.status is TokenStatus.WAITING and first.idempotency_key == "approve-order-9921"
    assert first.timeout_at is not None and first.tags == ("order:9921",)
    assert second.timeout_at is None and second.idempotency_key is None and second.tags == ()
    assert page.next == "cmeo1r8kq0002l70ax9b8c7d6"


def test_token_detail_keeps_output_as_text() -> None:
    detail = wire.parse_token_detail(load("token_retrieve"))
    assert detail.token.status is TokenStatus.COMPLETED and detail.token.completed_at is not None
    assert detail.output == '{"approved":true}' and detail.output_type == "application/json"
    assert not detail.output_is_error


def test_repair_example() -> None:
    report = wire.parse_repair_report(load("repair_queues"))
    assert report.environment.dry_run and report.environment.ignored == 2  # counted, not kept
    assert len(report.environment.repairs) == 1
    assert [r.friendly_run_id for r in report.environment.leaks] == ["run_cmeo1k2pa0003ab0c4d5e6f7g"]
    assert [name for name, _ in report.queues] == ["task/process-video", "shared-email"]
    assert report.queues[0][1].leaks[0].snapshot_status == "QUEUED"
    assert report.leak_count == 2


def test_engine_report() -> None:
    report = wire.parse_engine_report(load("engine_report"))
    assert (report.concurrency_limit, report.concurrency_limit_with_burst) == (25, 50)
    assert (report.current_dequeued, report.current_concurrency) == (4, 6)
    assert report.can_dequeue and report.reasons == ()
    video, email = report.queues
    assert video.name == "task/process-video" and not video.can_dequeue and video.concurrency_limit == 4
    assert email.paused and email.reasons == ("Queue is paused.",)


def test_engine_report_null_queue_limit() -> None:
    body = load("engine_report")
    body["queues"][0]["concurrencyLimit"] = {"value": None}
    assert wire.parse_engine_report(body).queues[0].concurrency_limit is None


def test_bulk_action() -> None:
    bulk = wire.parse_bulk_action(load("bulk_action"))
    assert bulk.type is BulkActionType.CANCEL and bulk.status is BulkActionStatus.PENDING
    assert (bulk.total, bulk.success, bulk.failure) == (40, 12, 1)
    assert bulk.completed_at is None and bulk.name == "cancel stuck videos"


def test_deployments_keep_unknown_status_and_null_dates() -> None:
    page = wire.parse_deployment_page(load("deployments_list"))
    assert [d.status for d in page.items] == ["DEPLOYED", "INSTALLING"]
    assert page.items[1].deployed_at is None and page.next == "cmenza1b20000dep0z9w8v7u5"
    current = wire.parse_deployment(load("deployment_current"))
    assert current.version == "20260821.3" and current.deployed_at is not None


def test_whoami_never_keeps_the_echoed_key() -> None:
    body = load("whoami")
    info = wire.parse_environment(body)
    assert (info.id, info.slug, info.type) == ("cmd8w1f3k0004l50q7z2r9yxa", "prod", "PRODUCTION")
    assert info.concurrency_limit == 25 and info.burst_factor == 2.0 and not info.paused
    assert body["apiKey"] not in repr(info) and body["apiKey"] not in str(vars_of(info))


def vars_of(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]


def test_whoami_with_wrong_key_type_does_not_matter() -> None:
    body = load("whoami")
    body["apiKey"] = 12345  # ignored, never read
    assert wire.parse_environment(body).id == "cmd8w1f3k0004l50q7z2r9yxa"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda b: b["data"][0].__setitem__("running", "4"),
            r"^queues\.data\[0\]\.running: expected integer, got string$",
        ),
        (
            lambda b: b["data"][1].__setitem__("paused", 1),
            r"^queues\.data\[1\]\.paused: expected boolean, got integer$",
        ),
        (
            lambda b: b["data"][0].__setitem__("type", "virtual"),
            r"^queues\.data\[0\]\.type: unknown value 'virtual'$",
        ),
        (lambda b: b["data"][0].pop("id"), r"^queues\.data\[0\]\.id: missing$"),
        (lambda b: b.__setitem__("data", {}), r"^queues\.data: expected array, got object$"),
        (
            lambda b: b["data"][0]["concurrency"].__setitem__("overriddenAt", "yesterday"),
            r"^queues\.data\[0\]\.concurrency\.overriddenAt: expected ISO date-time, got 'yesterday'$",
        ),
        (
            lambda b: b["data"][0].__setitem__("concurrencyLimit", 2.5),
            r"^queues\.data\[0\]\.concurrencyLimit: expected integer, got number$",
        ),
    ],
)
def test_wrong_types_name_the_field(mutate, message: str) -> None:
    body = load("queues_list")
    mutate(body)
    with pytest.raises(InvalidResponse, match=message):
        wire.parse_queue_page(body)


def test_single_queue_label() -> None:
    body = copy.deepcopy(load("queues_list")["data"][0])
    body["running"] = "lots"
    with pytest.raises(InvalidResponse, match=r"^queue\.running: expected integer, got string$"):
        wire.parse_queue(body)


def test_non_object_body() -> None:
    with pytest.raises(InvalidResponse, match=r"^run: expected object, got array$"):
        wire.parse_run_detail([])


def test_deep_trace_field_path() -> None:
    body = load("trace_clickhouse")
    body["trace"]["rootSpan"]["children"][0]["children"][0]["data"]["isPartial"] = "yes"
    with pytest.raises(
        InvalidResponse,
        match=r"^trace\.rootSpan\.children\[0\]\.children\[0\]\.data\.isPartial: "
        r"expected boolean, got string$",
    ):
        wire.parse_trace(body)


def test_error_messages_sanitise_server_strings() -> None:
    body = load("runs_list")
    body["data"][0]["status"] = "\x1b[31mEVIL" + "x" * 200
    with pytest.raises(InvalidResponse) as caught:
        wire.parse_run_page(body)
    assert "\x1b" not in str(caught.value) and len(str(caught.value)) < 120


def test_values_read_before_are_read_again_the_same_and_an_alias_stays_with_its_caller() -> None:
    """The reader remembers times and enum values it has read: a second read gives the same answer, a bad value
    still names its field, and a legacy alias one caller accepts is not accepted by another."""
    from tui.api.reader import Obj

    first = Obj({"at": "2026-11-28T08:00:00.000Z", "status": "EXECUTING"}, "run")
    assert first.when("at") == datetime(2026, 11, 28, 8, tzinfo=UTC) == first.when("at")
    legacy = next(iter(LEGACY_STATUS_ALIASES))
    aliased = Obj({"status": legacy}, "run")
    assert aliased.choice("status", RunStatus, LEGACY_STATUS_ALIASES) is LEGACY_STATUS_ALIASES[legacy]
    with pytest.raises(InvalidResponse, match=r"^run\.status: unknown value"):
        aliased.choice("status", RunStatus)
    assert first.choice("status", RunStatus) is RunStatus.EXECUTING is first.choice("status", RunStatus)
    with pytest.raises(InvalidResponse, match=r"^run\.at: expected ISO date-time"):
        Obj({"at": "2026-11-28T08:00:00.000Zz"}, "run").when("at")
    with pytest.raises(InvalidResponse, match=r"^run\.at: expected string, got array"):
        Obj({"at": ["2026-11-28T08:00:00.000Z"]}, "run").when("at")
