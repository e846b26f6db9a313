"""Retry rules: reads retry with capped jittered backoff, honour x-should-retry and x-ratelimit-reset;
mutations are sent exactly once; interactive look-ups of a missing run fail at once."""

from __future__ import annotations

import httpx
import pytest
from api_support import FakeServer, FakeTime, load

from tui.api.client import RetryPolicy
from tui.api.errors import (
    ApiError,
    ConnectionFailed,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
)
from tui.model import Queue, QueueType

QUEUE = Queue(
    id="queue_1",
    name="process-video",
    type=QueueType.TASK,
    running=0,
    queued=0,
    paused=False,
    concurrency_limit=None,
)
QUEUE_BODY = load("queues_list")["data"][0]


def status(code: int, headers: dict[str, str] | None = None, body: object = None) -> httpx.Response:
    return httpx.Response(code, json=body if body is not None else {"error": "x"}, headers=headers)


def good() -> httpx.Response:
    return httpx.Response(200, json=QUEUE_BODY)


async def read(client) -> Queue:
    return await client.retrieve_queue("process-video", QueueType.TASK)


async def test_5xx_is_retried_then_succeeds(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    server.then(status(503), status(500), good())
    queue = await read(client)
    assert queue.name == "process-video"
    assert len(server.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_gives_up_after_four_attempts(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    server.then(*[status(502)] * 6)
    with pytest.raises(ServerError, match=r"^server 502"):
        await read(client)
    assert len(server.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_backoff_is_capped(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client(retry=RetryPolicy(attempts=8))
    server.then(*[status(500)] * 8)
    with pytest.raises(ServerError):
        await read(client)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize(("jitter", "expected"), [(0.0, [0.375, 0.75, 1.5]), (1.0, [0.625, 1.25, 2.5])])
async def test_backoff_is_jittered(
    make_client, server: FakeServer, clock: FakeTime, jitter, expected
) -> None:
    client = make_client(jitter=lambda: jitter)
    server.then(*[status(500)] * 4)
    with pytest.raises(ServerError):
        await read(client)
    assert clock.sleeps == pytest.approx(expected)


@pytest.mark.parametrize("code", [408, 409, 500, 502, 503, 504])
async def test_retryable_statuses(make_client, server: FakeServer, code: int) -> None:
    client = make_client()
    server.then(status(code), good())
    await read(client)
    assert len(server.requests) == 2


@pytest.mark.parametrize("code", [400, 401, 403, 404, 413, 422])
async def test_other_statuses_are_not_retried(make_client, server: FakeServer, code: int) -> None:
    client = make_client()
    server.then(status(code), good())
    with pytest.raises(ApiError):
        await read(client)
    assert len(server.requests) == 1


async def test_connect_errors_and_timeouts_are_retried_for_reads(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(
        httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("drop"), good()
    )
    await read(client)
    assert len(server.requests) == 4


async def test_connect_errors_exhausted(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(ConnectionFailed, match=r"^could not connect: refused$"):
        await read(client)
    assert len(server.requests) == 4


async def test_429_waits_for_the_reset(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    reset = str(int((clock.wall + 3) * 1000))
    server.then(
        status(429, {"x-ratelimit-reset": reset, "x-ratelimit-remaining": "0", "x-ratelimit-limit": "750"}),
        good(),
    )
    await read(client)
    assert len(server.requests) == 2
    assert clock.sleeps == [pytest.approx(3.5)]  # reset - now + jitter (0.5 s here)


async def test_429_with_a_distant_reset_is_raised_at_once(
    make_client, server: FakeServer, clock: FakeTime
) -> None:
    client = make_client()
    server.then(status(429, {"x-ratelimit-reset": str(int((clock.wall + 60) * 1000))}), good())
    with pytest.raises(RateLimited) as caught:
        await read(client)
    assert caught.value.retry_after == pytest.approx(60, abs=0.01)
    assert len(server.requests) == 1 and clock.sleeps == []


async def test_429_without_reset_backs_off(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    server.then(status(429), status(429, {"x-ratelimit-reset": str(int((clock.wall - 5) * 1000))}), good())
    await read(client)
    assert clock.sleeps == [0.5, 1.0]


async def test_should_retry_false_stops_retries(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(503, {"x-should-retry": "false"}), good())
    with pytest.raises(ServerError):
        await read(client)
    assert len(server.requests) == 1


async def test_should_retry_true_forces_a_retry(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(400, {"x-should-retry": "true"}), good())
    await read(client)
    assert len(server.requests) == 2


async def test_should_retry_true_on_404_for_a_background_read(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(404, {"x-should-retry": "true"}), good())
    await read(client)
    assert len(server.requests) == 2


async def test_retrieve_run_404_fails_at_once(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    server.then(*[status(404, {"x-should-retry": "true"}, {"error": "Run not found"})] * 5)
    with pytest.raises(NotFound, match=r"^404: Run not found$"):
        await client.retrieve_run("run_missing")
    with pytest.raises(NotFound):
        await client.run_trace("run_missing")
    with pytest.raises(NotFound):
        await client.span_detail("run_missing", "abc")
    assert len(server.requests) == 3 and clock.sleeps == []


async def test_retrieve_run_still_retries_5xx(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(503), httpx.Response(200, json=load("run_retrieve")))
    detail = await client.retrieve_run("run_cmeo2x0k9a000208l4h2v1c3d7")
    assert detail.run.task_identifier == "approve-order" and len(server.requests) == 2


async def test_current_deployment_404_is_none_at_once(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(404, {"x-should-retry": "true"}, {"error": "Not found"}))
    assert await client.current_deployment() is None
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        status(503),
        status(500),
        status(429, {"x-should-retry": "true"}),
        status(409),
        status(408),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["503", "500", "429", "409", "408", "timeout", "connect", "dropped"],
)
async def test_mutations_are_never_retried(make_client, server: FakeServer, clock: FakeTime, failure) -> None:
    client = make_client()
    mutations = [
        lambda: client.cancel_run("run_1"),
        lambda: client.replay_run("run_1"),
        lambda: client.pause_queue(QUEUE, True),
        lambda: client.override_concurrency(QUEUE, 3),
        lambda: client.reset_concurrency(QUEUE),
        lambda: client.complete_token("waitpoint_1", {"ok": True}),
        lambda: client.create_bulk_action("cancel", run_ids=["run_1"]),
        lambda: client.abort_bulk_action("bulk_1"),
        lambda: client.repair_queues(["task/a"], dry_run=False),
        lambda: client.promote_deployment("20261203.2", allow_rollbacks=True),
    ]
    await client.environment_id()  # so the repair's only request is the mutation itself
    for mutation in mutations:
        before = len(server.requests)
        server.then(failure, good())
        with pytest.raises(ApiError):
            await mutation()
        assert len(server.requests) == before + 1
        server.script.clear()
    assert clock.sleeps == []


async def test_mutation_timeout_says_outcome_unknown(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknown, match=r"^timed out after 10 s; the outcome is unknown") as error:
        await client.complete_token("waitpoint_1", {"approved": True})
    assert error.value.reason == "timed out after 10 s"
    server.then(httpx.RemoteProtocolError("Server disconnected without sending a response."))
    with pytest.raises(OutcomeUnknown, match=r"^connection failed: Server disconnected"):
        await client.cancel_run("run_1")


async def test_dry_run_repair_and_claims_are_reads(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(status(503), httpx.Response(200, json={"sub": "env_1", "pub": True}))
    assert await client.environment_id() == "env_1"
    server.then(status(502), httpx.Response(200, json=load("repair_queues")))
    report = await client.repair_queues(["task/process-video"], dry_run=True)
    assert report.leak_count == 2
    assert len(server.requests) == 4


async def test_a_token_lookup_made_once_is_one_attempt(make_client, server: FakeServer) -> None:
    # An unknown token is a 500 on the real server (API.md §7.3): for a guessed id, retrying only repeats it.
    client = make_client()
    server.then(*[status(500, body={"error": "Internal Server Error"})] * 5)
    with pytest.raises(ServerError, match="the token may not exist"):
        await client.retrieve_token("waitpoint_gone", once=True)
    assert len(server.requests) == 1
    with pytest.raises(ServerError):
        await client.retrieve_token("waitpoint_gone")
    assert len(server.requests) == 5


async def test_a_repair_dry_run_500_is_final_and_says_what_failed(make_client, server: FakeServer) -> None:
    client = make_client()
    await client.environment_id()
    server.then(status(500, body={"error": "Internal Server Error"}), httpx.Response(200, json=load("repair_queues")))
    with pytest.raises(ServerError, match=r"^the engine could not compute a repair: 500$"):
        await client.repair_queues(dry_run=True)
    assert len(server.requests) == 2
