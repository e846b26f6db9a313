"""Each method sends what API.md says (paths, query parameters, bodies) and returns typed results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from api_support import FakeServer, load

from tui.api.errors import BadRequest, ServerError
from tui.model import Queue, QueueType, RunStatus, TokenStatus

VIDEO = Queue(
    id="queue_4k8s2m9qd7h3x1p5nbcwe",
    name="process-video",
    type=QueueType.TASK,
    running=4,
    queued=37,
    paused=False,
    concurrency_limit=4,
)
SLASHED = Queue(
    id="queue_9vqa3t6yh2r8m4k1s7dzf",
    name="team/emails",
    type=QueueType.CUSTOM,
    running=0,
    queued=0,
    paused=False,
    concurrency_limit=None,
)


def params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def body(request: httpx.Request) -> object:
    return json.loads(request.content)


async def test_list_runs_filters(client, server: FakeServer) -> None:
    start = datetime(2026, 8, 21, 17, 0, tzinfo=UTC)
    page = await client.list_runs(
        statuses=[RunStatus.DEQUEUED, RunStatus.EXECUTING],
        tasks=["process-video", "approve-order"],
        queue=("process-video", QueueType.TASK),
        tags=["customer:acme"],
        created_from=start,
        created_to=datetime(2026, 8, 21, 20, 0, tzinfo=timezone(timedelta(hours=2))),
        bulk_action="bulk_1",
        page_size=500,
        after="cursor==",
    )
    request = server.requests[0]
    assert request.url.path == "/api/v1/runs"
    assert params(request) == {
        "filter[status]": "DEQUEUED,EXECUTING",
        "filter[taskIdentifier]": "process-video,approve-order",
        "filter[queue]": "task/process-video",
        "filter[tag]": "customer:acme",
        "filter[createdAt][from]": str(int(start.timestamp() * 1000)),
        "filter[createdAt][to]": str(int(datetime(2026, 8, 21, 18, 0, tzinfo=UTC).timestamp() * 1000)),
        "filter[bulkAction]": "bulk_1",
        "page[size]": "100",
        "page[after]": "cursor==",
    }
    assert [run.queue for run in page.items] == ["task/process-video", "task/process-video"]
    assert page.next is not None


async def test_list_runs_defaults_and_custom_queue(client, server: FakeServer) -> None:
    page = await client.list_runs()
    assert params(server.requests[0]) == {"page[size]": "100"}
    assert all(run.queue is None for run in page.items)
    page = await client.list_runs(queue=("shared-email", QueueType.CUSTOM), page_size=0)
    assert params(server.requests[1]) == {"filter[queue]": "shared-email", "page[size]": "1"}
    assert {run.queue for run in page.items} == {"shared-email"}


async def test_a_period_is_sent_alone_and_never_with_a_range(client, server: FakeServer) -> None:
    # The real server lets a period override from/to, so sending both would silently drop the range.
    await client.list_runs(period="7d")
    assert params(server.requests[0]) == {"filter[createdAt][period]": "7d", "page[size]": "100"}
    moment = datetime(2026, 8, 21, 17, 0, tzinfo=UTC)
    for both in ({"created_from": moment}, {"created_to": moment}):
        with pytest.raises(ValueError, match="not both"):
            await client.list_runs(period="7d", **both)
        with pytest.raises(ValueError, match="not both"):
            await client.list_tokens(period="1d", **both)
    assert len(server.requests) == 1


async def test_a_short_page_is_not_the_end_and_fill_reads_on(client, server: FakeServer) -> None:
    # The list is re-filtered after paging (API.md §4.2): an empty page can still have `next`.
    two = load("runs_list")
    empty = {"data": [], "pagination": {"next": "c1", "previous": "p0"}}
    page = await client.list_runs(page_size=3)
    assert len(page.items) == 2 and page.next is not None  # fill=1: one request, the short page as it came
    server.then(httpx.Response(200, json=empty), httpx.Response(200, json=two), httpx.Response(200, json=two))
    page = await client.list_runs(page_size=3, fill=5)
    assert [params(r).get("page[after]") for r in server.requests[1:]] == [None, "c1", two["pagination"]["next"]]
    assert len(page.items) == 4 and page.next == two["pagination"]["next"] and page.previous == "p0"


async def test_list_runs_naive_datetimes_are_utc(client, server: FakeServer) -> None:
    await client.list_runs(created_from=datetime(2026, 1, 1, 0, 0))
    assert params(server.requests[0])["filter[createdAt][from]"] == "1767225600000"


async def test_retrieve_cancel_replay(client, server: FakeServer) -> None:
    detail = await client.retrieve_run("run_cmeo2x0k9a000208l4h2v1c3d7")
    assert detail.run.status is RunStatus.WAITING
    assert await client.cancel_run("run_abc") == "run_abc"
    assert await client.replay_run("run_abc") == "run_replayed0001"
    assert server.paths == [
        "/api/v3/runs/run_cmeo2x0k9a000208l4h2v1c3d7",
        "/api/v2/runs/run_abc/cancel",
        "/api/v1/runs/run_abc/replay",
    ]
    assert [r.method for r in server.requests] == ["GET", "POST", "POST"]
    assert server.requests[1].content == b"" and server.requests[2].content == b""


async def test_trace_and_span(client, server: FakeServer) -> None:
    trace = await client.run_trace("run_1")
    assert trace.open_spans()[-1].message == "wait.forToken()"
    span = await client.span_detail("run_1", "5566778899aabbcc")
    assert span.waitpoint_id == "waitpoint_cmeo2x3ab0007l40z1y2x3w4v"
    assert server.paths == ["/api/v1/runs/run_1/trace", "/api/v1/runs/run_1/spans/5566778899aabbcc"]


async def test_list_queues_follows_every_page(client, server: FakeServer) -> None:
    example = load("queues_list")["data"]

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = [dict(example[0], name=f"q{number}-{i}", id=f"queue_{number}_{i}") for i in range(2)]
        return httpx.Response(
            200, json={"data": items, "pagination": {"currentPage": number, "totalPages": 3, "count": 6}}
        )

    server.route("GET", r"/api/v1/queues", page)
    queues = await client.list_queues()
    assert [q.name for q in queues] == ["q1-0", "q1-1", "q2-0", "q2-1", "q3-0", "q3-1"]
    assert [params(r) for r in server.requests] == [{"page": str(n), "perPage": "100"} for n in (1, 2, 3)]


async def test_list_queues_stops_on_an_empty_page(client, server: FakeServer) -> None:
    server.route(
        "GET",
        r"/api/v1/queues",
        lambda r: httpx.Response(
            200, json={"data": [], "pagination": {"currentPage": 1, "totalPages": 0, "count": 0}}
        ),
    )
    assert await client.list_queues() == []
    assert len(server.requests) == 1


async def test_queue_routes_use_name_type_and_encode_slashes(client, server: FakeServer) -> None:
    await client.retrieve_queue("team/emails", QueueType.CUSTOM)
    await client.pause_queue(SLASHED, True)
    await client.pause_queue(VIDEO, False)
    await client.override_concurrency(VIDEO, 2)
    await client.reset_concurrency(VIDEO)
    await client.queue_metrics(SLASHED, "1h")
    raw = [r.url.raw_path.decode() for r in server.requests]
    assert raw == [
        "/api/v1/queues/team%2Femails?type=custom",
        "/api/v1/queues/team%2Femails/pause",
        "/api/v1/queues/process-video/pause",
        "/api/v1/queues/process-video/concurrency/override",
        "/api/v1/queues/process-video/concurrency/reset",
        "/api/v1/queues/team%2Femails/metrics?type=custom&period=1h",
    ]
    assert [body(r) for r in server.requests[1:5]] == [
        {"type": "custom", "action": "pause"},
        {"type": "task", "action": "resume"},
        {"type": "task", "concurrencyLimit": 2},
        {"type": "task"},
    ]


async def test_metrics_never_use_the_queue_id(client, server: FakeServer) -> None:
    metrics = await client.queue_metrics(VIDEO)
    assert metrics.started_count == 118
    request = server.requests[0]
    assert VIDEO.id not in str(request.url)
    assert params(request) == {"type": "task", "period": "15m"}


@pytest.mark.parametrize("limit", [-1, 100_001, True])
async def test_override_rejects_impossible_limits_before_sending(client, server: FakeServer, limit) -> None:
    with pytest.raises(BadRequest):
        await client.override_concurrency(VIDEO, limit)
    assert server.requests == []


async def test_tokens(client, server: FakeServer) -> None:
    page = await client.list_tokens(
        statuses=[TokenStatus.WAITING, TokenStatus.TIMED_OUT],
        tags=["order:9921"],
        idempotency_key="k",
        page_size=10,
        after="cmeo1",
        period="1d",
    )
    assert params(server.requests[0]) == {
        "filter[status]": "WAITING,TIMED_OUT",
        "filter[tags]": "order:9921",
        "filter[idempotencyKey]": "k",
        "filter[createdAt][period]": "1d",
        "page[size]": "10",
        "page[after]": "cmeo1",
    }
    assert len(page.items) == 2
    detail = await client.retrieve_token("waitpoint_cmeo2x3ab0007l40z1y2x3w4v")
    assert detail.output == '{"approved":true}'
    await client.complete_token("waitpoint_1", {"approved": True})
    await client.complete_token("waitpoint_2", None)
    assert body(server.requests[2]) == {"data": {"approved": True}}
    assert body(server.requests[3]) == {}
    assert server.paths[2:] == [
        "/api/v1/waitpoints/tokens/waitpoint_1/complete",
        "/api/v1/waitpoints/tokens/waitpoint_2/complete",
    ]


async def test_unknown_token_is_a_server_error_that_says_so(client, server: FakeServer) -> None:
    server.route(
        "GET",
        r"/api/v1/waitpoints/tokens/[^/]+",
        lambda r: httpx.Response(500, json={"error": "Internal Server Error"}),
    )
    with pytest.raises(ServerError) as caught:
        await client.retrieve_token("waitpoint_nope")
    assert str(caught.value) == "server 500: Internal Server Error (the token may not exist)"


async def test_bulk_actions(client, server: FakeServer) -> None:
    assert (
        await client.create_bulk_action("cancel", run_ids=["run_1", "run_2"], name="stuck") == "bulk_new0001"
    )
    filters = {"status": ["DEQUEUED"], "queue": {"type": "task", "name": "process-video"}, "period": "1h"}
    await client.create_bulk_action("replay", filter=filters)
    assert body(server.requests[0]) == {"action": "cancel", "runIds": ["run_1", "run_2"], "name": "stuck"}
    assert body(server.requests[1]) == {"action": "replay", "filter": filters}
    bulk = await client.retrieve_bulk_action("bulk_1")
    assert bulk.total == 40
    assert await client.abort_bulk_action("bulk_1") == "bulk_1"
    assert server.paths[2:] == ["/api/v1/bulk-actions/bulk_1", "/api/v1/bulk-actions/bulk_1/abort"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "delete", "run_ids": ["run_1"]},
        {"action": "cancel"},
        {"action": "cancel", "run_ids": ["run_1"], "filter": {"status": "QUEUED"}},
    ],
)
async def test_bulk_action_arguments_are_checked_first(client, server: FakeServer, kwargs) -> None:
    action = kwargs.pop("action")
    with pytest.raises(ValueError):
        await client.create_bulk_action(action, **kwargs)
    assert server.requests == []


async def test_deployments(client, server: FakeServer) -> None:
    current = await client.current_deployment()
    assert current is not None and current.version == "20260821.3"
    page = await client.list_deployments(page_size=1, after="dep_1")
    assert params(server.requests[1]) == {"page[size]": "5", "page[after]": "dep_1"}
    assert len(page.items) == 2


async def test_environment_never_keeps_the_key(client, server: FakeServer) -> None:
    info = await client.environment()
    assert info.concurrency_limit == 25 and info.burst_factor == 2
    assert "ECHOEDKEY" not in repr(info) and "ECHOEDKEY" not in repr(vars(client))


async def test_environment_id_from_claims_is_cached(client, server: FakeServer) -> None:
    assert await client.environment_id() == "cmd8w1f3k0004l50q7z2r9yxa"
    assert await client.environment_id() == "cmd8w1f3k0004l50q7z2r9yxa"
    assert server.paths == ["/api/v1/auth/jwt/claims"]
    assert server.requests[0].method == "POST"


async def test_environment_id_falls_back_to_whoami(client, server: FakeServer) -> None:
    server.route(
        "POST", r"/api/v1/auth/jwt/claims", lambda r: httpx.Response(404, json={"error": "Not found"})
    )
    assert await client.environment_id() == "cmd8w1f3k0004l50q7z2r9yxa"
    assert server.paths == ["/api/v1/auth/jwt/claims", "/api/v1/whoami"]


async def test_environment_id_does_not_hide_a_rejected_key(client, server: FakeServer) -> None:
    from tui.api.errors import Unauthorized

    server.route(
        "POST", r"/api/v1/auth/jwt/claims", lambda r: httpx.Response(401, json={"error": "Invalid API key"})
    )
    with pytest.raises(Unauthorized):
        await client.environment_id()
    assert server.paths == ["/api/v1/auth/jwt/claims"]


async def test_repair_queues(client, server: FakeServer) -> None:
    report = await client.repair_queues(["task/process-video", "shared-email"])
    request = server.requests[-1]
    assert request.url.path == "/admin/api/v1/environments/cmd8w1f3k0004l50q7z2r9yxa/engine/repair-queues"
    assert body(request) == {"dryRun": True, "queues": ["task/process-video", "shared-email"]}
    assert report.leak_count == 2
    await client.repair_queues(dry_run=False)
    assert body(server.requests[-1]) == {"dryRun": False, "queues": []}


async def test_engine_report_merges_pages(client, server: FakeServer) -> None:
    example = load("engine_report")

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        count = 100 if number == 1 else 3
        queues = [dict(example["queues"][0], name=f"task/q{number}-{i}") for i in range(count)]
        return httpx.Response(200, json=dict(example, queues=queues))

    server.route("GET", r"/admin/api/v1/environments/[^/]+/engine/report", page)
    report = await client.engine_report()
    assert len(report.queues) == 103 and report.concurrency_limit == 25
    pages = [params(r) for r in server.requests if r.url.path.startswith("/admin/")]
    assert pages == [{"page": "1", "per_page": "100"}, {"page": "2", "per_page": "100"}]


async def test_engine_report_single_page(client, server: FakeServer) -> None:
    report = await client.engine_report()
    assert [q.name for q in report.queues] == ["task/process-video", "shared-email"]


async def test_ids_are_encoded_in_paths(client, server: FakeServer) -> None:
    await client.retrieve_bulk_action("../../admin/x")
    assert server.requests[0].url.raw_path.decode() == "/api/v1/bulk-actions/..%2F..%2Fadmin%2Fx"
    assert server.requests[0].headers["authorization"].endswith("SECRETKEY0123456789abcdef")
