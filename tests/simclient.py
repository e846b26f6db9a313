"""The one client fixture: the real EngineClient over the in-process simulator (httpx ASGI transport, no sockets).

`sim()` starts a world (default `blank`: deployed versions and nothing else) frozen at START (speed 0), so a test
seeds exactly what it needs with `seed_queue`, `seed_run` and `seed_token` and moves time with `engine.advance`.
`Counting` sits between the client and the simulator: it counts requests and fails, holds, times out or takes
the server down on demand, the way a network or a misbehaving server would.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tui.api.client import EngineClient, RetryPolicy
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import EnvironmentType
from tui.sim import lifecycle, server
from tui.sim.engine import Engine
from tui.sim.scenarios import BLANK
from tui.sim.seeding import at, force
from tui.sim.state import Plan, Queue, Run, Token

START = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
SECRET = server.DEFAULT_SECRET_KEY
ADMIN = server.DEFAULT_ADMIN_TOKEN
URL = "http://127.0.0.1"
DRY_RUN = re.compile(r'"dryRun":\s*true')

Failure = int | httpx.Response


class Counting(httpx.AsyncBaseTransport):
    """Counts every request; fails, times out or holds POSTs whose path or body contains a string."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[tuple[str, str]] = []
        self.urls: list[httpx.URL] = []
        self.bodies: list[str] = []
        self.fail: dict[str, Failure] = {}
        """POSTs matching a key get this status (or this whole answer) instead of reaching the server."""
        self.fail_reads: dict[str, Failure] = {}
        """GETs whose path contains a key get this status (or this whole answer) instead of reaching the server."""
        self.timeout: dict[str, bool] = {}
        """POSTs matching a key time out; True: the server got it first (only the answer is lost)."""
        self.gate: asyncio.Event | None = None
        self.down = False
        """While set, every request fails to connect (the server is unreachable)."""
        self.closed = False
        """Set when a client using this transport is closed."""

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = (await request.aread()).decode(errors="replace")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append((request.method, path))
        self.urls.append(request.url)
        self.bodies.append(body)
        if request.method == "GET":
            for part, failure in self.fail_reads.items():
                if part in path:
                    if isinstance(failure, httpx.Response):
                        return failure
                    return httpx.Response(failure, json={"error": f"server {failure}"})
        if request.method == "POST":
            for part, failure in self.fail.items():
                if part in path or part in body:
                    if isinstance(failure, httpx.Response):
                        return failure
                    return httpx.Response(failure, json={"error": "simulated failure"})
            if self.gate is not None:
                await self.gate.wait()
            for part, applied in self.timeout.items():
                if part in path or part in body:
                    if applied:
                        await self.inner.handle_async_request(request)
                    raise httpx.ReadTimeout("no answer", request=request)
        return await self.inner.handle_async_request(request)

    def forget(self) -> None:
        """Start counting afresh (after a test's own set-up reads)."""
        self.requests.clear()
        self.urls.clear()
        self.bodies.clear()

    def posts(self, part: str = "", body: str = "") -> list[str]:
        """Paths of the POSTs whose path contains `part` and whose body contains `body`.

        A repair dry run is a read sent as a POST (a triage makes one in the background), so it counts only
        when `body` asks for it.
        """
        return [
            p
            for (m, p), b in zip(self.requests, self.bodies, strict=True)
            if m == "POST" and part in p and body in b and ("dryRun" in body or not DRY_RUN.search(b))
        ]

    def gets(self, part: str = "") -> list[str]:
        """Paths of the GETs whose path contains `part`."""
        return [p for m, p in self.requests if m == "GET" and part in p]


@dataclass
class Sim:
    """A simulated environment: its engine, its ASGI app and the counting transport in front of it."""

    app: Any
    engine: Engine
    transport: Counting

    @property
    def now(self) -> datetime:
        return self.engine.now

    def ago(self, **kwargs: float) -> datetime:
        return self.engine.now - timedelta(**kwargs)

    def client(
        self,
        *,
        secret_key: str = SECRET,
        read_only: bool = False,
        admin: bool = True,
        guard: WriteGuard | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> EngineClient:
        """The real client over this simulator; `clock` is its monotonic clock (the request rate is measured on it)."""
        extra: dict[str, Any] = {}
        if retry is not None:
            extra["retry"] = retry
        if sleep is not None:
            extra["sleep"] = sleep
        if clock is not None:
            extra["clock"] = clock
        return EngineClient(
            URL,
            secret_key,
            admin_token=ADMIN if admin else None,
            transport=self.transport,
            budget_per_second=None,
            guard=guard if guard is not None else WriteGuard(read_only=read_only),
            wall_clock=lambda: self.engine.now.timestamp(),  # this machine's clock agrees with the server's
            **extra,
        )

    async def advance(self, seconds: float) -> None:
        """A verifier's or a poller's sleep: simulated time moves, the event loop gets a turn."""
        self.engine.advance(seconds)
        await asyncio.sleep(0)


def settings(
    *, production: bool = False, admin: bool = True, read_only: bool = False, refresh: float = 1.0, **kwargs: Any
) -> Settings:
    """Settings that point at the simulator (the URL is only a label: the transport is in-process)."""
    return Settings(
        profile="prod" if production else "dev",
        url=URL,
        secret_key=SECRET,
        admin_token=ADMIN if admin else None,
        env_type=EnvironmentType.PRODUCTION if production else EnvironmentType.DEVELOPMENT,
        env_label="prod-eu" if production else "development",
        read_only=read_only,
        refresh_seconds=refresh,
        **kwargs,
    )


def sim(scenario: str = BLANK, *, seed: int = 1, start: datetime = START) -> Sim:
    """A fresh simulated world for one test, its clock frozen at `start` (it moves only by `advance`)."""
    app = server.create_app(server.SimOptions(scenario=scenario, speed=0, seed=seed, start=start))
    return Sim(app, app.state.sim.engine, Counting(app))


# ---------------------------------------------------------------- seeding a blank world


def seed_queue(
    engine: Engine, name: str, *, kind: str = "task", limit: int | None = 10, paused: bool = False
) -> Queue:
    """A queue as a deploy declares it (`kind` "task" or "custom")."""
    queue = engine.add_queue(name, kind, limit)
    queue.paused = paused
    return queue


STUCK = Plan(duration=math.inf)
"""Works forever: the run stays EXECUTING however far the clock moves."""
PULLED = Plan(duration=10.0, never_starts=True, heartbeats=True)
"""Pulled by a worker that never starts it but keeps heartbeating: DEQUEUED for good."""


def seed_run(
    engine: Engine,
    task: str,
    status: str = "EXECUTING",
    *,
    minutes: float = 14,
    created: float | None = None,
    queue: str | None = None,
    plan: Plan | None = None,
    version: str | None = None,
    token: Token | None = None,
    **fields: Any,
) -> Run:
    """A run in an API status (QUEUED, DEQUEUED, EXECUTING, WAITING or a final one), as the engine leaves one.

    It was created `created` minutes ago (default: one more than `minutes`) and has been in its status for
    `minutes`. `fields` go to `create_run` (tags, payload, metadata, idempotency_key, parent).
    """
    created_at = engine.now - timedelta(minutes=created if created is not None else minutes + 1)
    since = engine.now - timedelta(minutes=minutes)
    if status == "QUEUED":
        with at(engine, created_at):
            return engine.create_run(task, queue=queue, plan=plan or STUCK, **fields)
    if status == "WAITING":
        plan = plan or Plan(duration=2.0, wait_token=True)
        token = token or seed_token(engine, minutes=minutes)
    elif status == "DEQUEUED":
        plan = plan or PULLED
    with at(engine, created_at):
        run = engine.create_run(task, queue=queue, plan=plan or STUCK, **fields)
    if token is not None:
        run.token = token.iid
    if version is not None:
        run.version = version
    if status in ("EXECUTING", "DEQUEUED", "WAITING"):
        force(engine, run, since, executing=status != "DEQUEUED")
        return run
    force(engine, run, created_at + timedelta(seconds=3))
    with at(engine, since):
        final = FINAL[status]
        failed = final != "COMPLETED_SUCCESSFULLY"
        error = {"message": f"{final.lower()}: simulated", "name": "Error"} if failed else None
        lifecycle.finish(engine, run, final, error=error, cancelled=final == "CANCELED")
    if final == "COMPLETED_SUCCESSFULLY":
        run.output = {"ok": True}
    return run


FINAL = {
    "COMPLETED": "COMPLETED_SUCCESSFULLY",
    "FAILED": "COMPLETED_WITH_ERRORS",
    "CANCELED": "CANCELED",
    "CRASHED": "CRASHED",
    "SYSTEM_FAILURE": "SYSTEM_FAILURE",
    "EXPIRED": "EXPIRED",
    "TIMED_OUT": "TIMED_OUT",
}


def seed_token(
    engine: Engine,
    *,
    minutes: float = 30,
    timeout: str | None = None,
    tags: tuple[str, ...] = ("approval",),
    key: str | None = None,
) -> Token:
    """A waitpoint token created `minutes` ago that nobody completes unless the test does."""
    created = engine.now - timedelta(minutes=minutes)
    with at(engine, created):
        return engine.create_token(idempotency_key=key, timeout=timeout, tags=tags, created_at=created)


def seed_starts(engine: Engine, queue: Queue, started: int, *, seconds_ago: float = 30.0) -> None:
    """The queue's metrics sample `seconds_ago`: `started` runs began in it (the engine samples as it ticks)."""
    stamp = (engine.now - timedelta(seconds=seconds_ago)).timestamp()
    engine.history.record(
        queue.stored,
        stamp,
        queued=len(queue.waiting),
        running=len(queue.dequeued),
        limit=engine.queue_limit(queue),
        started=started,
        waits=[800.0] * started,
    )


QUICK_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.02)
"""The client's retries of a failed read, as many as usual, just sooner."""


def quick_retries(monkeypatch: Any) -> None:
    """Every EngineClient made without its own `retry` (the command line's) retries failed reads sooner: a test of
    an unreachable server waits for no backoff sleeps."""
    monkeypatch.setitem(EngineClient.__init__.__kwdefaults__, "retry", QUICK_RETRY)
