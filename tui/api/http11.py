"""HTTP/1.1 for the client straight on asyncio streams, without httpcore, anyio or a general-purpose parser.

httpx's default transport (httpcore) loads anyio's asyncio backend on the first request: about 60 ms of imports on
the path to the console's first frame, for locks and sockets asyncio already has. And a console that polls spends
most of a small request in its HTTP machinery: h11's state machine and validation cost five times what the bytes on
the wire do. This transport writes the request head itself and reads the answer strictly, with only what the client
needs of HTTP/1.1 (RFC 9112): a status line, header fields, and a body framed by its length, chunks or the close.
It raises the same httpx errors, so the client above it cannot tell it from httpx's own: connect failures are
`ConnectError`/`ConnectTimeout` (nothing was sent), anything later is a read, write or protocol error (the request
may have arrived). Idle connections are kept per origin and reused while fresh.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import httpx

READ_BYTES = 64 * 1024
MAX_HEAD_BYTES = 100 * 1024
"""The largest response head accepted (httpcore's limit); also the longest line of a chunked body's framing."""
KEEPALIVE_SECONDS = 5.0
"""An idle connection older than this is closed rather than reused (httpx's default keep-alive expiry)."""
MAX_IDLE = 20
"""Idle connections kept per origin (httpx's default)."""
MAX_CONNECTIONS = 100
"""Connections open at once, in use or idle (httpx's default); a request past it waits up to the pool timeout."""

Origin = tuple[str, str, int]
T = TypeVar("T")

_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
"""A header name or a method (RFC 9110 §5.6.2)."""
_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")
"""A header value without the whitespace around it: no control characters, so no line breaks."""
_TARGET = re.compile(rb"[\x21-\x7e]+")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [\t\x20-\x7e\x80-\xff]*)?")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_NO_BODY = frozenset({204, 304})


class _Framing:
    """How the body after a response head ends: after `length` bytes, after a last chunk, or at the close."""

    __slots__ = ("chunked", "length")

    def __init__(self, length: int | None, chunked: bool) -> None:
        self.length = length
        self.chunked = chunked


class _Connection:
    """One socket; used by one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()
        self.keep_alive = True
        """False once an answer says the connection ends with it (or ends where its body does)."""
        self.framing = _Framing(0, False)
        """How the body of the answer being read ends."""

    def reusable(self) -> bool:
        """Still open, nothing unread, and not idle for too long (the server may have dropped it)."""
        return (
            self.keep_alive
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < KEEPALIVE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()

    async def send(self, request: httpx.Request, timeout: float | None) -> None:
        headers = request.headers.raw
        declared = request.headers.get("content-length")
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        self.writer.write(_request_head(request.method, request.url.raw_path, headers))
        assert isinstance(request.stream, httpx.AsyncByteStream)
        sent = 0
        async for chunk in request.stream:
            if not chunk:
                continue
            sent += len(chunk)
            self.writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await self._drain(timeout)
        if chunked:
            self.writer.write(b"0\r\n\r\n")
        elif sent != int(declared or 0):
            raise httpx.LocalProtocolError(f"the request body has {sent} bytes, not the {declared or 0} declared")
        await self._drain(timeout)

    async def _drain(self, timeout: float | None) -> None:
        with _mapped(httpx.WriteError):
            await _within(self.writer.drain(), timeout, httpx.WriteTimeout)

    async def response_head(self, method: str, timeout: float | None) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The final answer's status and headers (interim 1xx answers are skipped); sets how its body ends."""
        while True:
            with _mapped(httpx.ReadError):
                version, status, headers = await _within(self._read_head(), timeout, httpx.ReadTimeout)
            if status == 101:
                raise httpx.RemoteProtocolError("the server switched protocols, which was not asked for")
            if status >= 200:
                break
        self.framing = framing = _framing(method, status, headers)
        closing = version == b"0" or b"close" in _tokens(headers, b"connection")
        if closing or (framing.length is None and not framing.chunked):
            self.keep_alive = False
        return status, headers

    async def _read_head(self) -> tuple[bytes, int, list[tuple[bytes, bytes]]]:
        lines: list[bytes] = []
        size = 0
        while True:
            line = await self._line(first=not size)
            size += len(line)
            if size > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("the response head is larger than 100 KB")
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if line:
                lines.append(line)
            elif lines:
                break  # the head ends; an empty line before the status line is skipped (RFC 9112 §2.2)
        match = _STATUS.fullmatch(lines[0])
        if match is None:
            raise httpx.RemoteProtocolError(f"not an HTTP/1.1 status line: {_shown(lines[0])}")
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t") and headers:
                # An obsolete folded line continues the previous value (RFC 9112 §5.2).
                name, value = headers[-1]
                line = name + b":" + value + b" " + line.lstrip(b" \t")
                headers.pop()
            name, colon, value = line.partition(b":")
            value = value.strip(b" \t")
            if not colon or _TOKEN.fullmatch(name) is None or _VALUE.fullmatch(value) is None:
                raise httpx.RemoteProtocolError(f"malformed header line: {_shown(line)}")
            headers.append((name, value))
        return match[1], int(match[2]), headers

    async def _line(self, *, first: bool = False) -> bytes:
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as closed:
            if first and not closed.partial:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from None
            raise httpx.RemoteProtocolError("the server closed the connection in the middle of a line") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("a line of the response is longer than 100 KB") from None

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, without the chunked framing."""
        framing = self.framing
        if framing.chunked:
            while size := await self._chunk_size(timeout):
                async for data in self._exactly(size, timeout):
                    yield data
                if (await self._read(self._line(), timeout)).rstrip(b"\r\n"):
                    raise httpx.RemoteProtocolError("a chunk of the body is longer than its size says")
            while (await self._read(self._line(), timeout)).rstrip(b"\r\n"):
                pass  # trailer fields: nothing the client reads
        elif framing.length is not None:
            async for data in self._exactly(framing.length, timeout):
                yield data
        else:
            while data := await self._read(self.reader.read(READ_BYTES), timeout):
                yield data

    async def _chunk_size(self, timeout: float | None) -> int:
        line = (await self._read(self._line(), timeout)).split(b";", 1)[0].strip(b" \t\r\n")
        if _CHUNK_SIZE.fullmatch(line) is None:
            raise httpx.RemoteProtocolError(f"not a chunk size: {_shown(line)}")
        return int(line, 16)

    async def _exactly(self, size: int, timeout: float | None) -> AsyncIterator[bytes]:
        left = size
        while left:
            data = await self._read(self.reader.read(min(left, READ_BYTES)), timeout)
            if not data:
                raise httpx.RemoteProtocolError(
                    f"the server closed the connection {size - left} bytes into a body of {size}"
                )
            left -= len(data)
            yield data

    async def _read(self, awaitable: Awaitable[bytes], timeout: float | None) -> bytes:
        with _mapped(httpx.ReadError):
            return await _within(awaitable, timeout, httpx.ReadTimeout)


def _request_head(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """`GET /path HTTP/1.1` and its header lines, refusing anything that would break the framing."""
    verb = method.encode("ascii", errors="replace")
    if _TOKEN.fullmatch(verb) is None or _TARGET.fullmatch(target) is None:
        raise httpx.LocalProtocolError(f"a request line cannot carry {_shown(verb + b' ' + target)}")
    lines = [b"%s %s HTTP/1.1" % (verb, target)]
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None or _VALUE.fullmatch(value) is None:
            raise httpx.LocalProtocolError(f"a header cannot carry {_shown(name)}: it would break the request")
        lines.append(b"%s: %s" % (name, value))
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> _Framing:
    """Where the body ends (RFC 9112 §6.3): nothing for HEAD, 204 and 304; chunks; a length; else the close."""
    if method == "HEAD" or status in _NO_BODY:
        return _Framing(0, False)
    codings = _tokens(headers, b"transfer-encoding")
    if codings:
        if codings != [b"chunked"]:
            raise httpx.RemoteProtocolError("the answer uses a transfer coding other than chunked")
        return _Framing(None, True)
    lengths = {length for name, value in headers if name.lower() == b"content-length" for length in value.split(b",")}
    lengths = {length.strip() for length in lengths}
    if not lengths:
        return _Framing(None, False)
    if len(lengths) > 1 or not all(length.isdigit() for length in lengths):
        raise httpx.RemoteProtocolError("the answer's Content-Length is not one number")
    return _Framing(int(lengths.pop()), False)


def _tokens(headers: list[tuple[bytes, bytes]], wanted: bytes) -> list[bytes]:
    """The comma-separated values of every `wanted` header, lower-cased."""
    return [token.strip().lower() for name, value in headers if name.lower() == wanted for token in value.split(b",")]


def _shown(data: bytes) -> str:
    return repr(data[:60])[2:-1]


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
            async for data in connection.body(self._timeout):
                yield data
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
            status, headers = await connection.response_head(request.method, read_timeout)
        except BaseException:
            connection.close()
            self._release(origin, None)
            raise
        return httpx.Response(
            status_code=status,
            headers=headers,
            stream=_Body(self, origin, connection, read_timeout),
            extensions={"http_version": b"HTTP/1.1"},
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
        idle = self._idle.setdefault(origin, [])
        if self._closed or len(idle) >= MAX_IDLE or not connection.reusable():
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
    """Turn socket errors into the httpx error a caller expects at this step."""

    def __init__(self, error: type[httpx.TransportError]) -> None:
        self._error = error

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, httpx.TransportError):
            return
        if isinstance(exc, OSError | ssl.SSLError | EOFError):
            raise self._error(str(exc) or type(exc).__name__) from exc
