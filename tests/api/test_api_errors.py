"""Every error class of the taxonomy, its operator message, and the connection state it leaves behind."""

from __future__ import annotations

import httpx
import pytest
from api_support import ADMIN, SECRET, FakeServer, FakeTime, load

from tui.api.client import ConnectionState, EngineClient
from tui.api.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ReadOnly,
    ServerError,
    Timeout,
    Unauthorized,
)
from tui.api.guard import WriteGuard
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


def reply(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (reply(400, {"error": "Queue is not overridden"}), BadRequest, "400: Queue is not overridden"),
        (reply(401, {"error": "Invalid API key"}), Unauthorized, "401: key rejected (Invalid API key)"),
        (reply(401), Unauthorized, "401: key rejected"),
        (reply(403, {"error": "Unauthorized", "code": "unauthorized"}), Forbidden, "403: Unauthorized"),
        (reply(404, {"error": "Queue not found"}), NotFound, "404: Queue not found"),
        (
            reply(409, {"error": "Bulk action group already completed: bulk_1"}),
            Conflict,
            "409: Bulk action group already completed: bulk_1",
        ),
        (reply(413, {"error": "Request body too large"}), BadRequest, "413: Request body too large"),
        (
            reply(422, {"error": "Waitpoints can only have 10 tags"}),
            BadRequest,
            "422: Waitpoints can only have 10 tags",
        ),
        (reply(405, {"error": "Method not allowed"}), BadRequest, "405: Method not allowed"),
        (reply(500, {"error": "Internal Server Error"}), ServerError, "server 500: Internal Server Error"),
        (reply(503), ServerError, "server 503"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError, "server 502"),
        (reply(408), Timeout, "408: the server timed out"),
        (
            reply(400, {"error": "Query Error", "details": [{"message": "Invalid status values: NOPE"}]}),
            BadRequest,
            "400: Query Error: Invalid status values: NOPE",
        ),
    ],
)
async def test_status_codes_map_to_the_taxonomy(
    make_client, server: FakeServer, response: httpx.Response, error: type[ApiError], message: str
) -> None:
    client = make_client()
    server.then(response)
    with pytest.raises(error) as caught:
        await client.reset_concurrency(QUEUE)  # a mutation: sent once, so one scripted answer suffices
    assert str(caught.value) == message
    assert caught.value.status == response.status_code
    assert len(server.requests) == 1


async def test_rate_limited_carries_the_wait(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    reset_ms = int((clock.wall + 42) * 1000)
    server.then(reply(429, {"error": "Rate limit exceeded"}, {"x-ratelimit-reset": str(reset_ms)}))
    with pytest.raises(RateLimited) as caught:
        await client.reset_concurrency(QUEUE)
    assert caught.value.retry_after == pytest.approx(42, abs=0.01)
    assert str(caught.value) == "429: rate limited, retry in 42 s (Rate limit exceeded)"


async def test_rate_limited_without_header_uses_body(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(reply(429, {"error": "Rate limit exceeded", "secondsUntilReset": 7.5}))
    with pytest.raises(RateLimited) as caught:
        await client.reset_concurrency(QUEUE)
    assert caught.value.retry_after == 7.5 and str(caught.value) == "429: Rate limit exceeded"


async def test_a_429_that_is_not_the_rate_limiter(make_client, server: FakeServer) -> None:
    client = make_client()
    text = "You can only run 3 bulk replays at a time in this environment"
    server.then(reply(429, {"error": text}, {"x-should-retry": "false"}))
    with pytest.raises(RateLimited) as caught:
        await client.create_bulk_action("replay", run_ids=["run_1"])
    assert str(caught.value) == f"429: {text}" and caught.value.retry_after == 0


async def test_redirects_are_not_followed(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(httpx.Response(301, headers={"location": "https://elsewhere.example/api/v1/queues"}))
    with pytest.raises(BadRequest, match=r"^301: unexpected redirect \(not followed\)$"):
        await client.list_queues()
    assert len(server.requests) == 1


async def test_admin_paths_say_admin_token(make_client, server: FakeServer) -> None:
    client = make_client()
    server.route("GET", r"/admin/.*", lambda r: reply(401, {"error": "Invalid or Missing API key"}))
    with pytest.raises(Unauthorized, match=r"^401: admin token rejected \(Invalid or Missing API key\)$"):
        await client.engine_report()
    assert server.paths == [
        "/api/v1/auth/jwt/claims",
        "/admin/api/v1/environments/cmd8w1f3k0004l50q7z2r9yxa/engine/report",
    ]


async def test_admin_403_message(make_client, server: FakeServer) -> None:
    client = make_client()
    server.route(
        "GET", r"/admin/.*", lambda r: reply(403, {"error": "You must be an admin to perform this action"})
    )
    with pytest.raises(Forbidden, match=r"^403: You must be an admin to perform this action$"):
        await client.engine_report()


@pytest.mark.parametrize(
    ("exc", "error", "message"),
    [
        (
            httpx.ReadTimeout("read"),
            OutcomeUnknown,
            "timed out after 10 s; the outcome is unknown, check before retrying",
        ),
        (
            httpx.WriteTimeout("write"),
            OutcomeUnknown,
            "timed out after 10 s; the outcome is unknown, check before retrying",
        ),
        (httpx.ConnectTimeout("connect"), Timeout, "connect timed out after 3 s; nothing was sent"),
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            ConnectionFailed,
            "could not connect: [Errno 111] Connection refused; nothing was sent",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            OutcomeUnknown,
            "connection failed: Server disconnected without sending a response.; the outcome is unknown, "
            "check before retrying",
        ),
        (
            httpx.ReadError("reset"),
            OutcomeUnknown,
            "connection failed: reset; the outcome is unknown, check before retrying",
        ),
    ],
)
async def test_transport_failures_of_a_mutation(
    make_client, server: FakeServer, exc: Exception, error: type[ApiError], message: str
) -> None:
    client = make_client()
    server.then(exc)
    with pytest.raises(error) as caught:
        await client.cancel_run("run_1")
    assert str(caught.value) == message
    assert len(server.requests) == 1
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_timeouts_of_a_read_say_how_long(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(*[httpx.ReadTimeout("read")] * 4)
    with pytest.raises(Timeout, match=r"^timed out after 10 s$"):
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert len(server.requests) == 4
    assert client.stats().state is ConnectionState.DISCONNECTED


async def test_custom_timeouts_are_reported(make_client, server: FakeServer) -> None:
    from tui.api.client import Timeouts

    client = make_client(timeouts=Timeouts(connect=1.5, read=4))
    server.then(httpx.ReadTimeout("read"))
    with pytest.raises(OutcomeUnknown, match=r"^timed out after 4 s;"):
        await client.cancel_run("run_1")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>hello</html>"), "200: response is not valid JSON"),
        (httpx.Response(200, json=[1, 2]), "queue: expected object, got array"),
        (
            httpx.Response(200, json={**load("queues_list")["data"][0], "running": "4"}),
            "queue.running: expected integer, got string",
        ),
    ],
)
async def test_bad_2xx_bodies_are_invalid_responses(
    make_client, server: FakeServer, response: httpx.Response, message: str
) -> None:
    client = make_client()
    server.then(response)
    with pytest.raises(InvalidResponse) as caught:
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert str(caught.value) == message
    assert len(server.requests) == 1  # a schema mismatch is not retried
    assert client.stats().last_error == message


async def test_read_only_is_raised_before_any_io(make_client, server: FakeServer) -> None:
    client = make_client(guard=WriteGuard(read_only=True))
    with pytest.raises(ReadOnly, match="read-only"):
        await client.cancel_run("run_1")
    assert server.requests == []


async def test_missing_admin_token_is_a_configuration_error(make_client, server: FakeServer) -> None:
    client = make_client(admin_token=None)
    for call in (
        client.engine_report(),
        client.repair_queues(["task/a"]),
        client.repair_queues(dry_run=False),
    ):
        with pytest.raises(ConfigurationError) as caught:
            await call
        assert str(caught.value) == "no admin token configured: set admin_token_env or PLATOS_ADMIN_TOKEN"
    assert server.requests == []


async def test_every_error_is_an_api_error() -> None:
    for cls in (
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        BadRequest,
        ServerError,
        Timeout,
        ConnectionFailed,
        InvalidResponse,
        ReadOnly,
        ConfigurationError,
    ):
        assert issubclass(cls, ApiError)
    assert issubclass(RateLimited, ApiError)


async def test_state_transitions(make_client, server: FakeServer, clock: FakeTime) -> None:
    client = make_client()
    assert client.stats().state is ConnectionState.CONNECTING and client.stats().last_error is None
    await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().state is ConnectionState.CONNECTED

    server.then(reply(401, {"error": "Invalid API key"}))
    with pytest.raises(Unauthorized):
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().state is ConnectionState.UNAUTHORIZED
    assert client.stats().last_error == "401: key rejected (Invalid API key)"

    seen: list[ConnectionState] = []
    original_sleep = clock.sleep

    async def watching_sleep(seconds: float) -> None:
        seen.append(client.stats().state)
        await original_sleep(seconds)

    client._http._sleep = watching_sleep  # observe the state while the client waits between attempts
    server.then(httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    await client.retrieve_queue("process-video", QueueType.TASK)
    assert seen == [ConnectionState.RETRYING, ConnectionState.RETRYING]
    assert client.stats().state is ConnectionState.CONNECTED and client.stats().last_error is None

    server.then(*[httpx.ConnectError("refused")] * 4)
    with pytest.raises(ConnectionFailed):
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().state is ConnectionState.DISCONNECTED
    assert client.stats().last_error == "could not connect: refused"

    server.then(*[reply(503)] * 4)
    with pytest.raises(ServerError):
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().state is ConnectionState.CONNECTED and client.stats().last_error == "server 503"

    server.then(reply(404, {"error": "queue-not-found"}))
    with pytest.raises(NotFound):
        await client.retrieve_queue("nope", QueueType.TASK)
    assert client.stats().last_error == "server 503"  # kept until the next success

    await client.retrieve_queue("process-video", QueueType.TASK)
    assert client.stats().last_error is None


async def test_messages_never_carry_secrets(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(reply(401, {"error": f"Invalid API key {SECRET}"}))
    with pytest.raises(Unauthorized) as caught:
        await client.retrieve_queue("process-video", QueueType.TASK)
    assert SECRET not in str(caught.value) and "***" in str(caught.value)

    server.then(reply(400, {"error": "key tr_dev_SomebodyElsesKey123 and tr_pat_abc123 are wrong"}))
    with pytest.raises(BadRequest) as caught2:
        await client.reset_concurrency(QUEUE)
    assert "tr_dev_Somebody" not in str(caught2.value) and "tr_pat_abc" not in str(caught2.value)

    server.then(httpx.ConnectError(f"refused while sending Bearer {ADMIN}"))
    with pytest.raises(ConnectionFailed) as caught3:
        await client.cancel_run("run_1")
    assert ADMIN not in str(caught3.value)

    for text in (repr(client), str(client), repr(client.stats()), str(client.stats())):
        assert SECRET not in text and ADMIN not in text


async def test_server_strings_are_sanitised(make_client, server: FakeServer) -> None:
    client = make_client()
    server.then(reply(400, {"error": "\x1b]0;pwned\x07bad\nthing" + "!" * 500}))
    with pytest.raises(BadRequest) as caught:
        await client.reset_concurrency(QUEUE)
    text = str(caught.value)
    assert "\x1b" not in text and "\x07" not in text and "\n" not in text and len(text) < 220


def test_construction_never_shows_secrets() -> None:
    client = EngineClient("https://engine.example.test", SECRET, admin_token=ADMIN)
    assert SECRET not in repr(client) and ADMIN not in repr(client)
    assert SECRET not in repr(vars(client._http)) and ADMIN not in repr(vars(client._http))
    with pytest.raises(ConfigurationError) as caught:
        EngineClient("http://engine.example.test", SECRET, admin_token=ADMIN)
    assert SECRET not in str(caught.value)


async def test_a_403_is_about_the_route_not_the_connection(make_client, server: FakeServer) -> None:
    # A scoped key refused on one route still works on the others: the top bar must not say UNAUTHORIZED.
    client = make_client()
    server.then(reply(403, {"error": "Unauthorized", "code": "unauthorized"}))
    with pytest.raises(Forbidden):
        await client.list_tokens()
    assert client.stats().state is ConnectionState.CONNECTED
    server.then(reply(401, {"error": "Invalid API key"}))
    with pytest.raises(Unauthorized):
        await client.list_tokens()
    assert client.stats().state is ConnectionState.UNAUTHORIZED


async def test_the_server_clock_comes_from_every_answer_s_date_header(make_client, server: FakeServer, clock) -> None:
    from datetime import UTC, datetime
    from email.utils import format_datetime

    client = make_client()
    assert client.clock_skew is None
    assert client.server_now() == datetime.fromtimestamp(clock.time(), UTC)  # no answer yet: our own clock
    behind = format_datetime(datetime.fromtimestamp(clock.time() - 1200, UTC), usegmt=True)
    server.then(reply(503, {"error": "x"}, {"date": behind}), reply(200, load("whoami"), {"date": behind}))
    await client.environment()  # read 0.5 s later, after a retry: the Date (whole seconds) says the same second
    assert client.clock_skew == pytest.approx(-1200.0)
    clock.advance(60)
    assert client.server_now() == datetime.fromtimestamp(clock.time() - 1200.0, UTC)
    server.then(reply(200, load("whoami"), {"date": "not a date"}))
    await client.environment()
    assert client.clock_skew == pytest.approx(-1200.0)  # an unreadable Date changes nothing
