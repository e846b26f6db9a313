"""The client over real loopback sockets: refused connections, silent servers, and a plain HTTP answer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from api_support import SECRET, FakeTime

from tui.api.client import ConnectionState, EngineClient, Timeouts
from tui.api.errors import ConnectionFailed, OutcomeUnknown, ServerError
from tui.api.guard import WriteGuard

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Coroutine[Any, Any, int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def make(port: int, clock: FakeTime, **options: Any) -> EngineClient:
    return EngineClient(
        f"http://127.0.0.1:{port}",
        SECRET,
        guard=WriteGuard(read_only=False),
        budget_per_second=None,
        sleep=clock.sleep,
        **options,
    )


async def test_refused_connection(clock: FakeTime) -> None:
    async with make(free_port(), clock) as client:
        with pytest.raises(ConnectionFailed, match=r"^could not connect"):
            await client.list_queues()
        assert len(clock.sleeps) == 3 and client.stats().state is ConnectionState.DISCONNECTED
        with pytest.raises(ConnectionFailed, match=r"nothing was sent$"):
            await client.cancel_run("run_1")


async def test_silent_server_times_out_and_a_mutation_is_not_resent(serve, clock: FakeTime) -> None:
    seen: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        await reader.read()  # hold the connection open, answer nothing, until the client hangs up

    port = await serve(silent)
    async with make(port, clock, timeouts=Timeouts(connect=1, read=0.2)) as client:
        with pytest.raises(OutcomeUnknown, match=r"^no complete answer in 0.2 s; the outcome is unknown"):
            await client.cancel_run("run_1")
    assert len(seen) == 1 and seen[0].startswith(b"POST /api/v2/runs/run_1/cancel ")


async def test_plain_http_answer(serve, clock: FakeTime) -> None:
    async def failing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"error":"Something went wrong, please try again."}'
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    port = await serve(failing)
    async with make(port, clock) as client:
        with pytest.raises(ServerError, match=r"^server 500: Something went wrong, please try again\.$"):
            await client.list_queues()
    assert clock.sleeps == [pytest.approx(s, rel=0.3) for s in (0.5, 1.0, 2.0)]
