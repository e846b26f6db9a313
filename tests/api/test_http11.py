"""Http11Transport over real loopback sockets: keep-alive, bodies, early closes, cancellation, TLS, error kinds."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from tui.api.http11 import MAX_CONNECTIONS, Http11Transport

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Answer = Callable[[bytes, bytes], bytes]
"""(request head, request body) -> the raw bytes sent back."""


def ok(body: bytes = b"hello", *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class Server:
    """A loopback HTTP/1.1 server answering each request with `answer`; counts connections, keeps requests."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.writers: list[Writer] = []
        self._server: asyncio.Server | None = None

    async def start(self, context: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: Reader, writer: Writer) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                reply = self.answer(head, body)
                if not reply:
                    break
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower() or reply.startswith(b"HTTP/1.0"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or the test is over
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self.writers:
                writer.close()
            await self._server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Coroutine[Any, Any, tuple[Server, httpx.AsyncClient]]]]:
    started: list[tuple[Server, httpx.AsyncClient]] = []

    async def start(
        answer: Answer = lambda head, body: ok(), *, context: ssl.SSLContext | None = None, verify: bool = False
    ) -> tuple[Server, httpx.AsyncClient]:
        server = Server(answer)
        port = await server.start(context)
        scheme = "https" if context is not None else "http"
        client = httpx.AsyncClient(
            base_url=f"{scheme}://127.0.0.1:{port}", transport=Http11Transport(verify=verify), timeout=2.0
        )
        started.append((server, client))
        return server, client

    yield start
    for server, client in started:
        await client.aclose()
        await server.stop()


async def test_sequential_requests_share_one_connection(serve) -> None:
    server, client = await serve()
    for _ in range(3):
        response = await client.get("/api/v1/queues?page=2")
        assert (response.status_code, response.content) == (200, b"hello")
    assert server.connections == 1
    assert server.requests[0][0].startswith(b"GET /api/v1/queues?page=2 HTTP/1.1\r\n")
    assert b"host: 127.0.0.1:" in server.requests[0][0].lower()


async def test_a_request_body_arrives_whole(serve) -> None:
    server, client = await serve(lambda head, body: ok(body[::-1]))
    response = await client.post("/api/v1/runs/run_1/cancel", json={"reason": "stuck"})
    assert response.content == b'{"reason":"stuck"}'[::-1]
    assert server.requests[0][1] == b'{"reason":"stuck"}'


async def test_chunked_and_close_delimited_bodies(serve) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    server, client = await serve(lambda head, body: chunked)
    assert (await client.get("/a")).content == b"hello world"
    assert (await client.get("/b")).content == b"hello world"
    assert server.connections == 1
    server, client = await serve(lambda head, body: b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
    assert (await client.get("/c")).content == b"until the end"


async def test_connection_close_is_not_reused(serve) -> None:
    server, client = await serve(lambda head, body: ok(close=True))
    for _ in range(2):
        assert (await client.get("/")).status_code == 200
    assert server.connections == 2


async def test_an_idle_connection_the_server_dropped_is_replaced(serve) -> None:
    server, client = await serve()
    await client.get("/")
    server.writers[0].close()
    await asyncio.sleep(0.05)  # the client's loop sees the close
    assert (await client.get("/")).status_code == 200
    assert server.connections == 2


async def test_a_half_read_body_closes_its_connection(serve) -> None:
    server, client = await serve(lambda head, body: ok(b"x" * 200_000))
    async with client.stream("GET", "/") as response:
        async for _ in response.aiter_raw():
            break
    assert (await client.get("/")).content == b"x" * 200_000
    assert server.connections == 2


async def test_a_cancelled_request_frees_its_slot_and_connection(serve) -> None:
    _, client = await serve(lambda head, body: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    transport = client._transport
    assert isinstance(transport, Http11Transport)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.get("/")
    assert transport._slots is not None and transport._slots._value == MAX_CONNECTIONS
    assert transport._idle.get(("http", "127.0.0.1", int(client.base_url.port or 0)), []) == []


async def test_error_kinds_match_httpx() -> None:
    with socket_closed() as port:
        async with httpx.AsyncClient(transport=Http11Transport(verify=False)) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")


async def test_no_answer_and_a_truncated_body_are_protocol_errors(serve) -> None:
    _, client = await serve(lambda head, body: b"")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await client.get("/")
    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhalf"
    _, client = await serve(lambda head, body: truncated)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/")
    _, client = await serve(lambda head, body: b"garbage\r\n\r\n")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/")


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: Reader, writer: Writer) -> None:
        await reader.read(1024)
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=Http11Transport(verify=False), timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"http://127.0.0.1:{port}/")
    finally:
        server.close()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_tls_is_verified_and_spoken(serve, self_signed: ssl.SSLContext) -> None:
    _, client = await serve(context=self_signed, verify=True)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await client.get("/")
    server, client = await serve(context=self_signed, verify=False)
    for _ in range(2):
        assert (await client.get("/")).content == b"hello"
    assert server.connections == 1


class socket_closed:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


# ----- the answer, read strictly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # Extensions on chunk sizes and trailer fields are read past.
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n", b"abc"),
        # An interim answer comes before the final one.
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        # A folded header line continues the one before it.
        (b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        # Bare line feeds, as some servers send them.
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", b"ok"),
        # The same length twice is one length.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", b"ok"),
    ],
)
async def test_answers_real_servers_send_are_read(serve, reply: bytes, expected: bytes) -> None:
    server, client = await serve(lambda head, body: reply)
    for _ in range(2):
        assert (await client.get("/")).content == expected
    assert server.connections == 1


async def test_no_content_has_no_body_and_keeps_the_connection(serve) -> None:
    server, client = await serve(lambda head, body: b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    for _ in range(2):
        response = await client.delete("/")
        assert (response.status_code, response.content) == (204, b"")
    server.answer = lambda head, body: b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"
    assert (await client.get("/")).content == b""
    assert server.connections == 1


async def test_a_folded_header_keeps_its_value() -> None:
    server = Server(lambda head, body: b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n")
    port = await server.start()
    try:
        async with httpx.AsyncClient(transport=Http11Transport(verify=False)) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).headers["x-long"] == "a b"
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nX-Bell: a\x07b\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "longer than its size"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "switched protocols"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 110_000 + b"\r\n\r\n", "100 KB"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 20_000 + b"\r\n", "100 KB"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n", "in the middle of a line"),
    ],
)
async def test_a_broken_answer_is_a_protocol_error_that_names_the_fault(serve, reply: bytes, message: str) -> None:
    _, client = await serve(lambda head, body: reply)
    with pytest.raises(httpx.RemoteProtocolError, match=message):
        await client.get("/")


async def test_a_broken_answer_closes_its_connection(serve) -> None:
    replies = iter([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", ok()])
    server, client = await serve(lambda head, body: next(replies))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/")
    assert (await client.get("/")).content == b"hello"
    assert server.connections == 2


@pytest.mark.parametrize(
    "headers", [{"x-branch": "main\r\nX-Injected: 1"}, {"x-branch": "a\nb"}, {"bad name": "1"}, {"x-nul": "a\x00b"}]
)
async def test_a_header_that_would_break_the_request_is_refused_before_sending(serve, headers: dict) -> None:
    server, client = await serve()
    with pytest.raises(httpx.LocalProtocolError):
        await client.get("/", headers=headers)
    assert server.requests == []


async def test_a_streamed_request_body_is_sent_in_chunks() -> None:
    received: list[bytes] = []

    async def echo(reader: Reader, writer: Writer) -> None:
        received.append(await reader.readuntil(b"0\r\n\r\n"))
        writer.write(ok())
        await writer.drain()
        writer.close()

    async def parts() -> Any:
        yield b"ab"
        yield b""
        yield b"cd"

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=Http11Transport(verify=False)) as client:
            assert (await client.post(f"http://127.0.0.1:{port}/", content=parts())).content == b"hello"
    finally:
        server.close()
    head, _, body = received[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"
