"""A bad server never crashes, hangs or bloats the console: each bad answer over real loopback HTTP, the screen read.

A small HTTP/1.1 server sits in front of the in-process simulator. It answers every request from the simulator
until a test turns one route bad; the console (real EngineClient, real sockets, Pilot) must then say what went
wrong in words, mark the pane STALE, keep running, and keep its memory flat.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines, screen_text
from tui.api.client import EngineClient, Timeouts
from tui.api.guard import WriteGuard
from tui.app import PlatosApp
from tui.config import Settings

server = pytest.importorskip("tui.sim.server")

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Bad = Callable[[Reader, Writer], Coroutine[Any, Any, None]]
Edit = Callable[[Any], Any]
QUEUES = "/api/v1/queues"
REFRESH = 0.2
CAP_MB = 1


@dataclass
class Proxy:
    """Loopback HTTP in front of the simulator. `bad[path]` answers that path itself; `edit[path]` rewrites the
    simulator's JSON answer; `hits` records (monotonic time, path, status) of every answer begun."""

    upstream: httpx.AsyncClient
    bad: dict[str, Bad] = field(default_factory=dict)
    edit: dict[str, Edit] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    hits: list[tuple[float, str, int]] = field(default_factory=list)
    served: int = 0
    """Bytes the bad handlers wrote."""
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def connection(self, reader: Reader, writer: Writer) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            body = await reader.readexactly(length)
            path = target.split("?", 1)[0]
            if path in self.bad:
                self.hits.append((time.monotonic(), path, 0))
                await self.bad[path](reader, writer)
            else:
                await self._forward(writer, method, target, path, headers, body)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # the client hung up, as it should on a bad answer (or the test is over)
        finally:
            writer.close()

    async def _forward(
        self, writer: Writer, method: str, target: str, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        skip = {"host", "content-length", "connection", "accept-encoding"}
        sent = {k: v for k, v in headers.items() if k.lower() not in skip}
        answer = await self.upstream.request(method, target, headers=sent, content=body)
        content = answer.content
        if path in self.edit and answer.status_code == 200:
            content = json.dumps(self.edit[path](answer.json()), ensure_ascii=False).encode()
        out = {k: v for k, v in answer.headers.items() if k.lower() not in {*skip, "transfer-encoding"}}
        out.pop("content-encoding", None)
        out.update(self.headers.get(path, {}))
        self.hits.append((time.monotonic(), path, answer.status_code))
        writer.write(http_head(f"{answer.status_code} {answer.reason_phrase}", out, len(content)) + content)
        await writer.drain()

    def write(self, writer: Writer, data: bytes) -> None:
        self.served += len(data)
        writer.write(data)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.hits if p == path)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.upstream.aclose()


def http_head(status: str, headers: dict[str, str], length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("transfer-encoding: chunked" if length is None else f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


JSON_TYPE = {"content-type": "application/json"}


@asynccontextmanager
async def hostile_console(
    scenario: str = "healthy", clock_skew: float = 0.0
) -> AsyncIterator[tuple[PlatosApp, Pilot[Any], Proxy]]:
    """The console over real HTTP to the proxy, loaded once with good answers before the test turns a route bad."""
    sim_app = server.create_app(server.SimOptions(scenario=scenario, speed=1, seed=1, clock_skew=clock_skew))
    proxy = Proxy(httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim"))
    listener = await asyncio.start_server(proxy.connection, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = Settings(
        profile="hostile",
        url=f"http://127.0.0.1:{port}",
        secret_key=server.DEFAULT_SECRET_KEY,
        env_label="hostile",
        refresh_seconds=REFRESH,
        max_response_mb=CAP_MB,
    )

    def make_client(config: Settings) -> EngineClient:
        return EngineClient(
            config.url,
            config.secret_key,
            budget_per_second=None,
            guard=WriteGuard(read_only=True),
            timeouts=Timeouts(connect=1.0, read=0.5),
            max_response_mb=config.max_response_mb,
        )

    app = PlatosApp(settings, make_client=make_client)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(
                pilot, lambda: app.session is not None and app.session.pane("queues").updated_at is not None, 10
            )
            yield app, pilot, proxy
            assert app.failure is None and app.is_running  # no crash, so no traceback to print
            assert "Traceback" not in screen_text(app)
    finally:
        listener.close()
        await proxy.stop()


def top(app: PlatosApp) -> str:
    return screen_lines(app)[0]


def shown(app: PlatosApp) -> str:
    """The screen's text and every notification shown on it (a toast may have gone by the time we look)."""
    return screen_text(app) + "\n" + "\n".join(n.message for n in app._notifications)


async def shows(pilot: Pilot[Any], app: PlatosApp, *words: str, timeout: float = 6.0) -> None:
    """Wait until the screen (panes, top bar, notifications) carries every one of `words`."""
    await wait_for(pilot, lambda: all(w in shown(app) for w in words), timeout)


# the bad answers ----------------------------------------------------------------------------------------


def fixed(body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None) -> Callable[[Proxy], Bad]:
    def bad(proxy: Proxy) -> Bad:
        async def send(reader: Reader, writer: Writer) -> None:
            proxy.write(writer, http_head(status, {**JSON_TYPE, **(headers or {})}, len(body)) + body)
            await writer.drain()

        return send

    return bad


def endless(proxy: Proxy) -> Bad:
    async def send(reader: Reader, writer: Writer) -> None:
        proxy.write(writer, http_head("200 OK", JSON_TYPE) + chunk(b'{"data": ["'))
        block = chunk(b"x" * 65536)
        while True:
            proxy.write(writer, block)
            await writer.drain()

    return send


def slowloris(proxy: Proxy) -> Bad:
    async def send(reader: Reader, writer: Writer) -> None:
        proxy.write(writer, http_head("200 OK", JSON_TYPE) + chunk(b'{"data": ['))
        while True:  # a byte every 50 ms: never idle long enough for a per-read timeout
            await writer.drain()
            await asyncio.sleep(0.05)
            proxy.write(writer, chunk(b" "))

    return send


def over_the_cap(proxy: Proxy) -> Bad:
    async def send(reader: Reader, writer: Writer) -> None:
        proxy.write(writer, http_head("200 OK", JSON_TYPE, 40 * 1024 * 1024) + b'{"data": [')
        await writer.drain()
        await reader.read()

    return send


DEEP = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (slowloris, ["no complete answer in 0.5 s"]),
        (over_the_cap, [f"response from {QUEUES} exceeded {CAP_MB} MB"]),
        (fixed(DEEP), ["response is nested too deeply"]),
        (
            fixed(b'{"data": []}', headers={"x-ratelimit-remaining": "inf", "x-ratelimit-limit": "750"}),
            ["header x-ratelimit-remaining"],
        ),
        (
            fixed(b'{"error": "maintenance"}', "503 Service Unavailable", {"retry-after": "3600"}),
            ["server 503: maintenance (retry in 3600 s)"],
        ),
    ],
    ids=["slowloris", "over-the-cap", "deep-json", "non-finite-header", "distant-retry-after"],
)
async def test_a_bad_answer_is_named_and_the_pane_goes_stale(bad: Callable[[Proxy], Bad], words: list[str]) -> None:
    async with hostile_console() as (app, pilot, proxy):
        started = time.monotonic()
        proxy.bad[QUEUES] = bad(proxy)
        await shows(pilot, app, "queues: ", *words)
        await wait_for(pilot, lambda: "STALE" in top(app), 6)
        assert time.monotonic() - started < 8  # every bad answer ends within the deadline, none hangs a poll
        proxy.bad.clear()
        await wait_for(pilot, lambda: "STALE" not in top(app) and "CONNECTED" in top(app), 6)


async def test_an_endless_body_is_cut_at_the_cap_and_memory_stays_flat() -> None:
    async with hostile_console() as (app, pilot, proxy):
        proxy.bad[QUEUES] = endless(proxy)
        await shows(pilot, app, f"response from {QUEUES} exceeded {CAP_MB} MB")
        await wait_for(pilot, lambda: "STALE" in top(app), 6)
        tracemalloc.start()
        try:
            served, polls = proxy.served, proxy.count(QUEUES)
            await wait_for(pilot, lambda: proxy.count(QUEUES) >= polls + 4, 10)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        served = proxy.served - served
        # Four more endless answers, each read to the 1 MB cap and dropped: the console's allocations peak
        # at a few MB (one capped body plus what the screen draws), whatever the server keeps sending.
        assert served >= 4 * CAP_MB * 1024 * 1024
        print(f"endless body: peak {peak / 1e6:.1f} MB traced while {served / 1e6:.1f} MB were served")
        assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while {served / 1e6:.1f} MB were served"


def negative_queued(body: Any) -> Any:
    body["data"][0]["queued"] = -5
    return body


async def test_negative_counts_are_invalid_not_health() -> None:
    async with hostile_console() as (app, pilot, proxy):
        proxy.edit[QUEUES] = negative_queued
        await shows(
            pilot, app, "queues: queues.data[0].queued: must not be negative, got -5. Showing the last good data."
        )
        await wait_for(pilot, lambda: "STALE" in top(app), 6)
        # The nonsense never reaches the table: it keeps the last good counts, marked STALE.
        assert all("-5" not in line for line in screen_lines(app)[1:])


INVISIBLE = "pay\u200bments\u202e"


def invisible_name(body: Any) -> Any:
    for queue in body["data"]:
        queue["name"] = INVISIBLE + queue["name"]
    return body


async def test_invisible_characters_are_shown() -> None:
    async with hostile_console() as (app, pilot, proxy):
        proxy.edit[QUEUES] = invisible_name
        await shows(pilot, app, "pay\ufffdments\ufffd")
        text = screen_text(app)
        assert "\u200b" not in text and "\u202e" not in text


@pytest.mark.parametrize("status", ["429 Too Many Requests", "503 Service Unavailable"])
async def test_retry_after_is_waited_for_then_data_is_fresh_again(status: str) -> None:
    async with hostile_console() as (app, pilot, proxy):
        busy = fixed(b'{"error": "busy"}', status, {"retry-after": "1"})(proxy)

        async def once(reader: Reader, writer: Writer) -> None:
            del proxy.bad[QUEUES]  # the next attempt goes to the simulator
            await busy(reader, writer)

        proxy.bad[QUEUES] = once
        await wait_for(pilot, lambda: QUEUES not in proxy.bad, 5)
        refused = max(t for t, p, s in proxy.hits if p == QUEUES and s == 0)
        await wait_for(pilot, lambda: any(t > refused and p == QUEUES for t, p, _ in proxy.hits), 5)
        retried = min(t for t, p, _ in proxy.hits if p == QUEUES and t > refused)
        assert retried - refused >= 0.95  # Retry-After: 1, honoured
        await wait_for(pilot, lambda: "STALE" not in top(app) and "CONNECTED" in top(app), 6)


async def test_a_server_clock_20_minutes_behind_is_shown_and_ages_follow_it() -> None:
    async with hostile_console(clock_skew=-20 * 60) as (app, pilot, _):
        await wait_for(pilot, lambda: "server clock −20 m" in top(app), 6)
        assert "STALE" not in top(app) and "CONNECTED" in top(app)
        assert app.session is not None
        lag = app.session.clock().timestamp() - time.time()
        assert -20 * 60 - 5 < lag < -20 * 60 + 5  # the console judges ages by the server's clock
