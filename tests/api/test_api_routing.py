"""Credentials go only where they belong, every request carries the version headers, http is refused,
and read-only mode stops every mutation before the network."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import httpx
import pytest
from api_support import ADMIN, SECRET, FakeServer, load

from tui import __version__
from tui.api.client import EngineClient
from tui.api.errors import ConfigurationError, ReadOnly, Unauthorized
from tui.api.guard import WriteGuard
from tui.model import Queue, QueueType

QUEUE = Queue(
    id="queue_1",
    name="process-video",
    type=QueueType.TASK,
    running=0,
    queued=0,
    paused=False,
    concurrency_limit=4,
)

Call = Callable[[EngineClient], Awaitable[object]]

READS: dict[str, Call] = {
    "list_runs": lambda c: c.list_runs(queue=("process-video", QueueType.TASK)),
    "retrieve_run": lambda c: c.retrieve_run("run_1"),
    "run_trace": lambda c: c.run_trace("run_1"),
    "span_detail": lambda c: c.span_detail("run_1", "5566778899aabbcc"),
    "list_queues": lambda c: c.list_queues(),
    "retrieve_queue": lambda c: c.retrieve_queue("process-video", QueueType.TASK),
    "queue_metrics": lambda c: c.queue_metrics(QUEUE),
    "list_tokens": lambda c: c.list_tokens(),
    "retrieve_token": lambda c: c.retrieve_token("waitpoint_1"),
    "retrieve_bulk_action": lambda c: c.retrieve_bulk_action("bulk_1"),
    "current_deployment": lambda c: c.current_deployment(),
    "list_deployments": lambda c: c.list_deployments(),
    "environment": lambda c: c.environment(),
    "environment_id": lambda c: c.environment_id(),
    "server_time": lambda c: c.server_time(),
    "engine_report": lambda c: c.engine_report(),
}
WRITES: dict[str, Call] = {
    "cancel_run": lambda c: c.cancel_run("run_1"),
    "replay_run": lambda c: c.replay_run("run_1"),
    "pause_queue": lambda c: c.pause_queue(QUEUE, True),
    "override_concurrency": lambda c: c.override_concurrency(QUEUE, 2),
    "reset_concurrency": lambda c: c.reset_concurrency(QUEUE),
    "complete_token": lambda c: c.complete_token("waitpoint_1", {"approved": True}),
    "create_bulk_action": lambda c: c.create_bulk_action("cancel", run_ids=["run_1"]),
    "abort_bulk_action": lambda c: c.abort_bulk_action("bulk_1"),
    "repair_queues": lambda c: c.repair_queues(["task/process-video"], dry_run=False),
    "promote_deployment": lambda c: c.promote_deployment("20261203.2", allow_rollbacks=True),
}


def test_the_tables_cover_every_public_method() -> None:
    public = {
        name
        for name, member in inspect.getmembers(EngineClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "aclose"
    }
    assert public == set(READS) | set(WRITES)


async def test_credentials_go_only_where_they_belong(make_client, server: FakeServer) -> None:
    client = make_client()
    for call in [*READS.values(), *WRITES.values()]:
        await call(client)
    await client.repair_queues(["task/process-video"], dry_run=True)
    assert {request.url.path.split("/")[1] for request in server.requests} == {"api", "admin"}
    for request in server.requests:
        path = request.url.path
        everything = str(request.url) + repr(request.headers.raw) + request.content.decode()
        if path.startswith("/admin/api/"):
            assert request.headers["authorization"] == f"Bearer {ADMIN}"
            assert SECRET not in everything, path
        else:
            assert path.startswith("/api/")
            assert request.headers["authorization"] == f"Bearer {SECRET}"
            assert ADMIN not in everything, path
        assert everything.count("Bearer") == 1


async def test_version_headers_on_every_request(make_client, server: FakeServer) -> None:
    client = make_client()
    for call in [*READS.values(), *WRITES.values()]:
        await call(client)
    # The environment id is cached, and server_time asks for nothing more once it is.
    assert len(server.requests) >= len(READS) + len(WRITES) - 2
    for request in server.requests:
        assert request.headers["x-trigger-api-version"] == "2025-07-16"
        assert request.headers["user-agent"] == f"platos-tui/{__version__}"


async def test_bodies_carry_content_length(make_client, server: FakeServer) -> None:
    client = make_client()
    for call in WRITES.values():
        await call(client)
    posts = [request for request in server.requests if request.method == "POST"]
    assert posts and all("content-length" in request.headers for request in posts)
    with_body = [request for request in posts if request.content]
    assert all(request.headers["content-type"] == "application/json" for request in with_body)


@pytest.mark.parametrize("name", sorted(WRITES))
async def test_read_only_refuses_every_mutation_without_io(
    make_client, server: FakeServer, name: str
) -> None:
    client = make_client(guard=WriteGuard(read_only=True))
    with pytest.raises(ReadOnly):
        await WRITES[name](client)
    assert server.requests == []


async def test_default_guard_is_read_only(make_client, server: FakeServer) -> None:
    client = make_client(guard=None)
    with pytest.raises(ReadOnly):
        await client.cancel_run("run_1")
    assert server.requests == []
    client.guard.elevate(60, "incident 42")
    assert await client.cancel_run("run_1") == "run_1"


async def test_elevation_lapses(make_client, server: FakeServer) -> None:
    now = [0.0]
    guard = WriteGuard(read_only=True, clock=lambda: now[0])
    guard.elevate(30, "incident")
    client = make_client(guard=guard)
    assert await client.cancel_run("run_1") == "run_1"
    now[0] = 31.0
    with pytest.raises(ReadOnly):
        await client.cancel_run("run_1")
    assert len(server.requests) == 1


async def test_dry_run_repair_is_a_read(make_client, server: FakeServer) -> None:
    client = make_client(guard=WriteGuard(read_only=True))
    report = await client.repair_queues(["task/process-video"])
    assert report.environment.dry_run
    assert server.paths[-1].endswith("/engine/repair-queues")


@pytest.mark.parametrize(
    "url",
    [
        "http://engine.example.test",
        "http://10.0.0.5:3030",
        "http://[2001:db8::1]/",
        "http://localhost.evil.com",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="refusing plain http://") as caught:
        EngineClient(url, SECRET)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:3030",
        "http://127.0.0.1:8030/",
        "http://127.8.9.10",
        "http://[::1]:3030",
        "https://x.io",
    ],
)
def test_loopback_and_https_are_accepted(url: str) -> None:
    EngineClient(url, SECRET)


def test_insecure_http_can_be_allowed_explicitly() -> None:
    EngineClient("http://engine.internal:3030", SECRET, allow_insecure_http=True)


@pytest.mark.parametrize("url", ["ftp://engine.example.test", "engine.example.test", "https://", ""])
def test_invalid_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid server URL"):
        EngineClient(url, SECRET)


def test_a_secret_key_is_required() -> None:
    with pytest.raises(ConfigurationError, match="no secret key configured"):
        EngineClient("https://x.io", "")


async def test_base_path_prefix_is_kept(make_client, server: FakeServer) -> None:
    client = make_client(base_url="https://gateway.example.test/platos/")
    server.then(httpx.Response(200, json=load("queues_list")["data"][0]))
    await client.retrieve_queue("process-video", QueueType.TASK)
    assert server.requests[0].url.path == "/platos/api/v1/queues/process-video"
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


PREVIEW = "tr_preview_abcdefghijklmnopqrstuvwx"


async def test_the_branch_goes_with_every_api_call_and_never_to_admin(make_client, server: FakeServer) -> None:
    client = make_client(secret_key=PREVIEW, branch="feature-x")
    await client.list_queues()
    await client.repair_queues(dry_run=True)
    sent = {request.url.path: request.headers.get("x-trigger-branch") for request in server.requests}
    assert sent["/api/v1/queues"] == "feature-x" and sent["/api/v1/auth/jwt/claims"] == "feature-x"
    assert [v for path, v in sent.items() if path.startswith("/admin/")] == [None]


async def test_a_preview_key_refused_without_a_branch_says_how_to_set_one(make_client, server: FakeServer) -> None:
    server.then(httpx.Response(401, json={"error": "Invalid API key"}))
    with pytest.raises(Unauthorized, match="PLATOS_BRANCH or TRIGGER_PREVIEW_BRANCH"):
        await make_client(secret_key=PREVIEW).list_queues()
    assert "x-trigger-branch" not in server.requests[0].headers
    with pytest.raises(ConfigurationError, match="branch"):
        make_client(secret_key=PREVIEW, branch="bad\nname")
