"""A bad server never hangs, crashes or bloats the client: each bad answer is served over real loopback HTTP
by a tiny asyncio server, and every call must end, in bounded time, with one clear ApiError."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import inspect
import json
import sys
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from api_support import SECRET, FakeTime, load

from tui.api import wire
from tui.api.client import EngineClient, Timeouts
from tui.api.errors import (
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    Timeout,
)
from tui.api.guard import WriteGuard
from tui.model import QueueType

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[[Reader, Writer], Coroutine[Any, Any, None]]
LIMIT = 10.0
"""No test may take longer than this; a hang fails instead of stalling the suite."""


class Hostile:
    """Loopback servers for one test; each connection's request head is kept, and all are stopped at the end."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, handler: Handler) -> int:
        async def connection(reader: Reader, writer: Writer) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)  # type: ignore[arg-type]
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                await reader.readexactly(_content_length(head))
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the client hung up, as it should
            finally:
                writer.close()

        server = await asyncio.start_server(connection, "127.0.0.1", 0)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    servers = Hostile()
    yield servers
    await servers.stop()


def client_for(port: int, clock: FakeTime, **options: Any) -> EngineClient:
    settings: dict[str, Any] = {"timeouts": Timeouts(connect=1.0, read=0.5)}
    settings.update(options)
    return EngineClient(
        f"http://127.0.0.1:{port}",
        SECRET,
        guard=WriteGuard(read_only=False),
        budget_per_second=None,
        sleep=clock.sleep,  # retries back off in virtual time; deadlines run on the real loop clock
        wall_clock=clock.time,
        **settings,
    )


async def bounded(call: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(call, LIMIT)


def head(status: str = "200 OK", headers: dict[str, str] | None = None, *, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "content-type: application/json", "connection: close"]
    if length is None:
        lines.append("transfer-encoding: chunked")
    else:
        lines.append(f"content-length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None) -> Handler:
    async def send(reader: Reader, writer: Writer) -> None:
        writer.write(head(status, headers, length=len(body)) + body)
        await writer.drain()

    return send


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# bounded responses ------------------------------------------------------------------------------------


async def test_an_endless_body_stops_at_the_size_cap_with_flat_memory(hostile: Hostile, clock: FakeTime) -> None:
    async def endless(reader: Reader, writer: Writer) -> None:
        writer.write(head() + chunk(b'{"data": ["'))
        block = chunk(b"x" * 65536)
        while True:
            writer.write(block)
            await writer.drain()

    port = await hostile.start(endless)
    async with client_for(port, clock, max_response_mb=1, timeouts=Timeouts(connect=1, read=5)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(InvalidResponse, match=r"^response from /api/v1/queues exceeded 1 MB$"):
                await bounded(client.list_queues())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert len(hostile.heads) == 1  # a refused answer is not asked for again


async def test_a_declared_huge_length_is_refused_before_reading(hostile: Hostile, clock: FakeTime) -> None:
    async def huge(reader: Reader, writer: Writer) -> None:
        writer.write(head(length=40 * 1024 * 1024) + b'{"data": [')
        await writer.drain()
        await reader.read()  # then nothing: only the declared length can give it away in time

    port = await hostile.start(huge)
    async with client_for(port, clock, timeouts=Timeouts(connect=1, read=5)) as client:
        started = time.monotonic()
        with pytest.raises(InvalidResponse, match=r"^response from /api/v1/queues exceeded 32 MB$"):
            await bounded(client.list_queues())
        assert time.monotonic() - started < 2.0


async def test_a_slowloris_body_fails_at_the_deadline(hostile: Hostile, clock: FakeTime) -> None:
    async def trickle(reader: Reader, writer: Writer) -> None:
        writer.write(head() + chunk(b'{"data": ['))
        while True:  # a byte every 50 ms: never idle long enough for a per-read timeout
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(chunk(b" "))

    port = await hostile.start(trickle)
    async with client_for(port, clock) as client:
        started = time.monotonic()
        with pytest.raises(Timeout, match=r"^no complete answer in 0.5 s$"):
            await bounded(client.list_queues())
        elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 1.5
    assert len(hostile.heads) == 1 and clock.sleeps == []  # a missed deadline is not retried


async def test_a_trickled_status_line_fails_at_the_deadline(hostile: Hostile, clock: FakeTime) -> None:
    async def trickle(reader: Reader, writer: Writer) -> None:
        for byte in head():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
        await reader.read()

    port = await hostile.start(trickle)
    async with client_for(port, clock) as client:
        started = time.monotonic()
        with pytest.raises(Timeout, match=r"^no complete answer in 0.5 s$"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert time.monotonic() - started < 1.5


async def test_an_endless_error_body_is_cut_to_its_head(hostile: Hostile, clock: FakeTime) -> None:
    async def endless_error(reader: Reader, writer: Writer) -> None:
        writer.write(head("502 Bad Gateway") + chunk(b'{"error": "upstream down", "pad": "'))
        while True:
            writer.write(chunk(b"y" * 65536))
            await writer.drain()

    port = await hostile.start(endless_error)
    async with client_for(port, clock, timeouts=Timeouts(connect=1, read=5)) as client:
        started = time.monotonic()
        with pytest.raises(ServerError, match=r"^server 502$"):
            await bounded(client.list_queues())
    assert time.monotonic() - started < 3.0
    assert len(hostile.heads) == 4  # an error answer is still retried, each cut short


def _gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to `size` bytes of a JSON string: about a thousand times smaller.

    Each megabyte of spaces is deflated after a full flush (the compressor starts afresh), so every one of them
    deflates to the same bytes: the stream repeats those instead of compressing half a gigabyte again.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    prefix, block, suffix = b'{"data": ["', b" " * (1024 * 1024), b'"]}'
    count = size // len(block)
    opening = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    deflated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    closing = packer.compress(suffix) + packer.flush()
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    length = len(prefix) + count * len(block) + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time, best compression
    trailer = crc.to_bytes(4, "little") + (length & 0xFFFFFFFF).to_bytes(4, "little")
    return header + opening + deflated * count + closing + trailer


async def test_a_compressed_bomb_never_inflates_past_the_cap(hostile: Hostile, clock: FakeTime) -> None:
    bomb = _gzip_bomb(512 * 1024 * 1024)
    port = await hostile.start(answer(bomb, headers={"content-encoding": "gzip"}))
    async with client_for(port, clock, max_response_mb=1, timeouts=Timeouts(connect=1, read=5)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(InvalidResponse, match=r"^response from /api/v1/queues exceeded 1 MB$"):
                await bounded(client.list_queues())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(bomb) < 1024 * 1024 and peak < 8 * 1024 * 1024
    assert b"accept-encoding: gzip, deflate\r\n" in hostile.heads[0].lower()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_answer_is_read(hostile: Hostile, clock: FakeTime, encoding: str) -> None:
    body = load("queues_list")
    body["pagination"] = {"currentPage": 1, "totalPages": 1, "count": 2}
    text = json.dumps(body).encode()
    packed = gzip.compress(text) if encoding == "gzip" else zlib.compress(text)
    port = await hostile.start(answer(packed, headers={"content-encoding": encoding}))
    async with client_for(port, clock) as client:
        assert len(await bounded(client.list_queues())) == len(body["data"])


@pytest.mark.parametrize(
    ("encoding", "message"), [("br", r"we did not ask for: 'br'"), ("gzip", r"does not decompress")]
)
async def test_an_encoding_we_cannot_read_is_invalid(
    hostile: Hostile, clock: FakeTime, encoding: str, message: str
) -> None:
    port = await hostile.start(answer(b"\x1f\x8b garbage that is not gzip", headers={"content-encoding": encoding}))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=message):
            await bounded(client.list_queues())


async def test_a_good_answer_within_the_limits_still_works(hostile: Hostile, clock: FakeTime) -> None:
    body = load("queues_list")
    body["pagination"] = {"currentPage": 1, "totalPages": 1, "count": 2}
    port = await hostile.start(answer(json.dumps(body).encode()))
    async with client_for(port, clock) as client:
        queues = await bounded(client.list_queues())
    assert [q.name for q in queues] == [q["name"] for q in body["data"]]


# every parse failure is an InvalidResponse ------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_nested(5000), r"^200: response is nested too deeply$"),
        (_nested(300), r"^200: response is nested deeper than 256 levels$"),
        (b'{"data": [], "pagination": {"totalPages": NaN}}', r"^200: response holds a number JSON cannot carry"),
        (b'{"data": [], "pagination": {"totalPages": -Infinity}}', r"cannot carry \(-Infinity\)$"),
        (b'{"data": [], "pagination": {"totalPages": 1e400}}', r"cannot carry \(1e400\)$"),
        (b'{"data": [], "pagination": {"totalPages": 1' + b"0" * 5000 + b"}}", r"^200: response is not valid JSON$"),
    ],
    ids=["5000-deep", "300-deep", "nan", "infinity", "overflow", "5000-digits"],
)
async def test_bodies_that_break_the_decoder(hostile: Hostile, clock: FakeTime, body: bytes, message: str) -> None:
    port = await hostile.start(answer(body))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=message):
            await bounded(client.list_queues())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-ratelimit-remaining", "inf"),
        ("x-ratelimit-remaining", "nan"),
        ("x-ratelimit-limit", "-750"),
        ("x-ratelimit-limit", "1e300"),
        ("x-ratelimit-reset", "soon"),
    ],
)
async def test_nonsense_rate_limit_headers(hostile: Hostile, clock: FakeTime, name: str, value: str) -> None:
    headers = {"x-ratelimit-remaining": "700", "x-ratelimit-limit": "750", name: value}
    port = await hostile.start(answer(json.dumps(load("queues_list")["data"][0]).encode(), headers=headers))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=rf"^header {name}: .*{value}"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
        assert client.stats().ratelimit_remaining is None


async def test_nonsense_headers_on_an_error_answer_do_not_hide_it(hostile: Hostile, clock: FakeTime) -> None:
    headers = {"x-ratelimit-remaining": "inf", "x-ratelimit-limit": "750", "x-ratelimit-reset": "nan"}
    port = await hostile.start(answer(b'{"error": "Rate limit exceeded"}', "429 Too Many Requests", headers))
    async with client_for(port, clock) as client:
        with pytest.raises(RateLimited, match=r"^429: Rate limit exceeded$"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))


def _trace(depth: int) -> dict[str, Any]:
    """A trace whose spans each have exactly one child, `depth` levels below the root."""
    span: dict[str, Any] | None = None
    for level in range(depth, -1, -1):
        span = {
            "id": f"span{level:05d}",
            "runId": "run_1",
            "data": {"message": f"level {level}", "duration": 1000, "startTime": "2026-08-21T18:01:03Z"},
            "children": [span] if span is not None else [],
        }
    return {"trace": {"traceId": "t", "rootSpan": span}}


async def test_a_trace_thousands_of_spans_deep_is_invalid(hostile: Hostile, clock: FakeTime) -> None:
    port = await hostile.start(answer(_deep_trace_text(3000)))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=r"nested too deeply|deeper than 256 levels"):
            await bounded(client.run_trace("run_1"))


def _deep_trace_text(depth: int) -> bytes:
    # Written out as text: json.dumps itself cannot encode something this deep.
    span = b'{"id": "s", "runId": "run_1", "data": {"message": "m", "startTime": "2026-08-21T18:01:03Z"}, "children": ['
    return b'{"trace": {"traceId": "t", "rootSpan": ' + span * depth + b"]}" * depth + b"}}"


async def test_a_trace_a_hundred_spans_deep_is_read(hostile: Hostile, clock: FakeTime) -> None:
    port = await hostile.start(answer(json.dumps(_trace(120)).encode()))
    async with client_for(port, clock) as client:
        trace = await bounded(client.run_trace("run_1"))
    levels = [(depth, span.message) for depth, span in trace.root.walk()]
    assert levels == [(level, f"level {level}") for level in range(121)]


def test_trace_parsing_does_not_recurse() -> None:
    body = _trace(120)
    frames = len(inspect.stack(0))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 60)  # far fewer frames than a recursive walk of 120 levels needs
    try:
        trace = wire.parse_trace(body)
    finally:
        sys.setrecursionlimit(limit)
    assert max(depth for depth, _ in trace.root.walk()) == 120


async def test_an_out_of_range_date_is_invalid(hostile: Hostile, clock: FakeTime) -> None:
    queue = {**load("queues_list")["data"][0]}
    queue["concurrency"] = {"base": 5, "overriddenAt": "9999-12-31T23:59:59-23:00"}
    port = await hostile.start(answer(json.dumps(queue).encode()))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=r"^queue.concurrency.overriddenAt: date-time out of range"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))


# nonsense numbers are invalid, not data ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"running": -1}, r"^queue.running: must not be negative, got -1$"),
        ({"queued": -5}, r"^queue.queued: must not be negative, got -5$"),
        ({"concurrencyLimit": -10}, r"^queue.concurrencyLimit: must not be negative"),
        ({"concurrency": {"base": -2}}, r"^queue.concurrency.base: must not be negative"),
        ({"concurrencyLimitOverridePercent": -0.5}, r"^queue.concurrencyLimitOverridePercent: must not be negative"),
    ],
)
async def test_negative_queue_numbers(
    hostile: Hostile, clock: FakeTime, change: dict[str, Any], message: str
) -> None:
    port = await hostile.start(answer(json.dumps({**load("queues_list")["data"][0], **change}).encode()))
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=message):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"waitMs": {"p50": -1, "p95": 10}}, r"^metrics.waitMs.p50: must not be negative"),
        ({"peakQueued": -3}, r"^metrics.peakQueued: must not be negative"),
        ({"startedPerMin": -0.1}, r"^metrics.startedPerMin: must not be negative"),
        ({"bucketIntervalMs": -60000}, r"^metrics.bucketIntervalMs: must not be negative"),
        ({"depthTrend": [1, -2]}, r"^metrics.depthTrend\[1\]: must not be negative"),
    ],
)
async def test_negative_queue_metrics(
    hostile: Hostile, clock: FakeTime, change: dict[str, Any], message: str
) -> None:
    port = await hostile.start(answer(json.dumps({**load("queue_metrics"), **change}).encode()))
    queue = wire.parse_queue(load("queues_list")["data"][0])
    async with client_for(port, clock) as client:
        with pytest.raises(InvalidResponse, match=message):
            await bounded(client.queue_metrics(queue))


# Retry-After ------------------------------------------------------------------------------------------


def in_turn(*handlers: Handler) -> Handler:
    """One handler per connection, in order; the last one answers every connection after that."""
    queue = list(handlers)

    async def next_answer(reader: Reader, writer: Writer) -> None:
        handler = queue.pop(0) if len(queue) > 1 else queue[0]
        await handler(reader, writer)

    return next_answer


QUEUE_JSON = json.dumps(load("queues_list")["data"][0]).encode()


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "waited"),
    [
        ("429 Too Many Requests", {"retry-after": "2"}, 2.5),
        ("503 Service Unavailable", {"retry-after": "3"}, 3.5),
        ("503 Service Unavailable", {"retry-after": "DATE+4"}, 4.5),
        ("429 Too Many Requests", {"retry-after": "5", "x-ratelimit-reset": "RESET+1"}, 5.5),
        ("429 Too Many Requests", {"retry-after": "1", "x-ratelimit-reset": "RESET+6"}, 6.5),
    ],
    ids=["429-seconds", "503-seconds", "503-date", "429-retry-after-later", "429-reset-later"],
)
async def test_retry_after_is_honoured(
    hostile: Hostile, clock: FakeTime, status: str, headers: dict[str, str], waited: float
) -> None:
    for name, value in headers.items():
        if value.startswith("DATE+"):
            headers[name] = http_date(clock.wall + float(value[5:]))
        elif value.startswith("RESET+"):
            headers[name] = str(int((clock.wall + float(value[6:])) * 1000))
    port = await hostile.start(in_turn(answer(b'{"error": "busy"}', status, headers), answer(QUEUE_JSON)))
    async with client_for(port, clock, jitter=lambda: 0.5) as client:
        queue = await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert queue.name == load("queues_list")["data"][0]["name"]
    assert clock.sleeps == [pytest.approx(waited, abs=0.01)] and len(hostile.heads) == 2


async def test_a_distant_retry_after_is_raised_at_once(hostile: Hostile, clock: FakeTime) -> None:
    port = await hostile.start(answer(b'{"error": "maintenance"}', "503 Service Unavailable", {"retry-after": "3600"}))
    async with client_for(port, clock) as client:
        with pytest.raises(ServerError, match=r"^server 503: maintenance \(retry in 3600 s\)$"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert clock.sleeps == [] and len(hostile.heads) == 1


async def test_a_rate_limit_carries_the_retry_after(hostile: Hostile, clock: FakeTime) -> None:
    port = await hostile.start(answer(b"{}", "429 Too Many Requests", {"retry-after": http_date(clock.wall + 60)}))
    async with client_for(port, clock) as client:
        with pytest.raises(RateLimited, match=r"^429: rate limited, retry in 60 s$") as error:
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert error.value.retry_after == pytest.approx(60, abs=1)


@pytest.mark.parametrize("value", ["soon", "-5", "1e9999", "Thu, 99 Foo 2026 25:61:00 GMT"])
async def test_a_garbled_retry_after_falls_back_to_backoff(hostile: Hostile, clock: FakeTime, value: str) -> None:
    busy = answer(b"{}", "503 Service Unavailable", {"retry-after": value})
    port = await hostile.start(in_turn(busy, answer(QUEUE_JSON)))
    async with client_for(port, clock, jitter=lambda: 0.5) as client:
        await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert clock.sleeps == [0.5]


# invisible characters ---------------------------------------------------------------------------------


async def test_server_text_in_errors_shows_its_invisible_characters(hostile: Hostile, clock: FakeTime) -> None:
    message = json.dumps({"error": "queue pay\u200bments is \u202eúsed\u2066 here\ufeff"}).encode()
    port = await hostile.start(answer(message, "404 Not Found"))
    async with client_for(port, clock) as client:
        with pytest.raises(NotFound) as error:
            await bounded(client.retrieve_queue("payments", QueueType.CUSTOM))
    assert str(error.value) == "404: queue pay\ufffdments is \ufffdúsed\ufffd here\ufffd"


# a mutation whose answer never came -------------------------------------------------------------------


async def _hang_up(reader: Reader, writer: Writer) -> None:
    writer.close()  # read the request, then drop the connection without a word


async def _stall(reader: Reader, writer: Writer) -> None:
    await reader.read()  # read the request, then say nothing until the client gives up


@pytest.mark.parametrize(
    ("handler", "reason"),
    [(_hang_up, r"connection failed: Server disconnected"), (_stall, r"no complete answer in 0.5 s")],
    ids=["dropped", "silent"],
)
async def test_a_mutation_without_an_answer_has_an_unknown_outcome(
    hostile: Hostile, clock: FakeTime, handler: Handler, reason: str
) -> None:
    port = await hostile.start(handler)
    async with client_for(port, clock) as client:
        with pytest.raises(OutcomeUnknown, match=rf"^{reason}.*; the outcome is unknown, check before retrying$"):
            await bounded(client.cancel_run("run_1"))
    assert len(hostile.heads) == 1 and clock.sleeps == []  # sent once, never again


async def test_a_read_without_an_answer_is_retried_not_unknown(hostile: Hostile, clock: FakeTime) -> None:
    port = await hostile.start(_hang_up)
    async with client_for(port, clock) as client:
        with pytest.raises(ConnectionFailed, match=r"^connection failed: Server disconnected"):
            await bounded(client.retrieve_queue("q", QueueType.CUSTOM))
    assert len(hostile.heads) == 4
