"""HTTP/1.1 for the client straight on asyncio streams and h11, without httpcore and anyio.

httpx's default transport (httpcore) loads anyio's asyncio backend on the first request: about 60 ms of imports on
the path to the console's first frame, for locks and sockets asyncio already has. This transport speaks the same
HTTP/1.1 (h11 is httpcore's own parser) and raises the same httpx errors, so the client above it cannot tell them
apart: connect failures are `ConnectError`/`ConnectTimeout` (nothing was sent), anything later is a read or
protocol error (the request may have arrived). Idle connections are kept per origin and reused while fresh.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import h11
import httpx

READ_BYTES = 64 * 1024
MAX_HEAD_BYTES = 100 * 1024
"""The largest response head accepted (httpcore's limit)."""
KEEPALIVE_SECONDS = 5.0
"""An idle connection older than this is closed rather than reused (httpx's default keep-alive expiry)."""
MAX_IDLE = 20
"""Idle connections kept per origin (httpx's default)."""
MAX_CONNECTIONS = 100
"""Connections open at once, in use or idle (httpx's default); a request past it waits up to the pool timeout."""

Origin = tuple[str, str, int]
T = TypeVar("T")


class _Connection:
    """One socket and its h11 state machine; used by one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = time.monotonic()

    def reusable(self) -> bool:
        """Still open, nothing unread, and not idle for too long (the server may have dropped it)."""
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < KEEPALIVE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()

    async def send(self, request: httpx.Request, timeout: float | None) -> None:
        head = h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
        await self._write(self.h11.send(head), timeout)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for chunk in request.stream:
            await self._write(self.h11.send(h11.Data(data=chunk)), timeout)
        await self._write(self.h11.send(h11.EndOfMessage()), timeout)

    async def _write(self, data: bytes | None, timeout: float | None) -> None:
        if not data:
            return
        with _mapped(httpx.WriteError):
            self.writer.write(data)
            await _within(self.writer.drain(), timeout, httpx.WriteTimeout)

    async def next_event(self, timeout: float | None) -> h11.Event:
        while True:
            with _mapped(httpx.RemoteProtocolError):
                event = self.h11.next_event()
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:
                raise httpx.RemoteProtocolError("the server answered more than was asked")
            with _mapped(httpx.ReadError):
                data = await _within(self.reader.read(READ_BYTES), timeout, httpx.ReadTimeout)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            with _mapped(httpx.RemoteProtocolError):
                self.h11.receive_data(data)


class _Body(httpx.AsyncByteStream):
    """A response body read as it arrives; the connection goes back to the pool once the body is complete."""

    def __init__(self, transport: Http11Transport, origin: Origin, connection: _Connection, timeout: float | None):
        self._transport = transport
        self._origin = origin
        self._connection: _Connection | None = connection
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await connection.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a response body")
        except BaseException:
            await self.aclose()
            raise
        self._connection = None
        self._transport._release(self._origin, connection)

    async def aclose(self) -> None:
        # A body left half-read leaves the connection mid-message: it can only be closed.
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            self._transport._release(self._origin, None)


class Http11Transport(httpx.AsyncBaseTransport):
    """httpx's transport interface over asyncio streams: HTTP/1.1, TLS verified with httpx's own context."""

    def __init__(self, *, verify: bool = True) -> None:
        # Loading the CA bundle costs ~30 ms: done here, where the client is built (off the UI thread at start-up).
        self._ssl: ssl.SSLContext | None = _tls(verified=True) if verify else None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        await _within(self._slots.acquire(), timeouts.get("pool"), httpx.PoolTimeout)
        try:
            connection = self._take_idle(origin) or await self._connect(origin, timeouts.get("connect"))
        except BaseException:
            self._slots.release()
            raise
        read_timeout = timeouts.get("read")
        try:
            await connection.send(request, timeouts.get("write"))
            while True:
                event = await connection.next_event(read_timeout)
                if isinstance(event, h11.Response):
                    break
                if not isinstance(event, h11.InformationalResponse):
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")
        except BaseException:
            connection.close()
            self._release(origin, None)
            raise
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, origin, connection, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(event.reason)},
        )

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin, [])
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        secure = scheme == "https"
        with _mapped(httpx.ConnectError):
            reader, writer = await _within(
                asyncio.open_connection(
                    host.strip("[]"),
                    port,
                    ssl=self._tls() if secure else None,
                    server_hostname=host if secure else None,
                    limit=MAX_HEAD_BYTES,
                ),
                timeout,
                httpx.ConnectTimeout,
            )
        return _Connection(reader, writer)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _tls(verified=False)
        return self._ssl

    def _release(self, origin: Origin, connection: _Connection | None) -> None:
        """A request is over: its slot is free, and its connection (None once closed) kept if it can serve again."""
        if self._slots is not None:
            self._slots.release()
        if connection is None:
            return
        state = connection.h11
        if self._closed or state.our_state is not h11.DONE or state.their_state is not h11.DONE:
            connection.close()
            return
        try:
            state.start_next_cycle()
        except h11.LocalProtocolError:
            connection.close()
            return
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= MAX_IDLE or not connection.reusable():
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _tls(*, verified: bool) -> ssl.SSLContext:
    """The context httpx itself would build for `verify` (no environment variables), offering HTTP/1.1 only."""
    context = httpx.create_ssl_context(verify=verified, trust_env=False)
    context.set_alpn_protocols(["http/1.1"])
    return context


async def _within(awaitable: Awaitable[T], timeout: float | None, error: type[httpx.TimeoutException]) -> T:
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except TimeoutError:
        raise error(f"timed out after {timeout:g} s" if timeout is not None else "timed out") from None


class _mapped:
    """Turn socket and parser errors into the httpx error a caller expects at this step."""

    def __init__(self, error: type[httpx.TransportError]) -> None:
        self._error = error

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, httpx.TransportError):
            return
        if isinstance(exc, OSError | h11.ProtocolError | ssl.SSLError | EOFError):
            raise self._error(str(exc) or type(exc).__name__) from exc
