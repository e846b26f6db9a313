"""The simulator's HTTP server: the platos / Trigger.dev v4 management API over a simulated engine."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tui.sim import routes_admin, routes_queues, routes_runs
from tui.sim.engine import Engine
from tui.sim.faults import FaultLayer, parse_faults
from tui.sim.http import ApiError, Ctx, verify_jwt
from tui.sim.scenarios import build

# Fixed dev credentials in the real formats (API.md §1.2): `tr_dev_` + 24 alnum, `tr_pat_` + 40 of [1-9a-km-z].
DEFAULT_SECRET_KEY = "tr_dev_pl4tosdem0simu1at0rkey12"
DEFAULT_ADMIN_TOKEN = "tr_pat_p4tosdem9simu2at9radm3ntokenabcdefghijkm"
NON_ADMIN_TOKEN = "tr_pat_n9nadm3nuserpatabcdefghijkmnpqrstuvwxyz2"
# An additional (scoped) secret key of the same environment, in the real `tr_<env>_sk_` + 24 alnum format.
SCOPED_SECRET_KEY = "tr_dev_sk_sc0pedk3yn0tokenr0utes12"
SCOPED_REFUSED = ("/api/v1/waitpoints/tokens",)
"""Path prefixes the scoped key is refused on: routes that declare no authorization block (API.md §1.2)."""
SCOPED_LACKS = re.compile(r"^/api/v1/deployments/[^/]+/promote$")
"""Routes needing a scope the scoped key was not given: it has no `write:deployments` (API.md §9)."""
FORBIDDEN = {"error": "Unauthorized", "code": "unauthorized", "param": "access_token", "type": "authorization"}
BUCKET_MAX = 750
REFILL = 250
REFILL_SECONDS = 10.0


@dataclass
class SimOptions:
    """How to start the simulator."""

    host: str = "127.0.0.1"
    port: int = 8030
    scenario: str = "incident"
    secret_key: str | None = None
    admin_token: str | None = None
    speed: float = 1.0
    seed: int = 1
    queues: int | None = None
    runs: int | None = None
    faults: str | None = None
    public: bool = False
    start: datetime | None = None
    replica_lag: float = 0.0
    """Seconds the run list's replica trails (short pages, just-changed runs missing); 0 for tests."""
    clock_skew: float = 0.0
    """Seconds the server's clock is ahead of this machine's (negative: behind); moves the engine's clock."""


@dataclass
class Bucket:
    """The environment's shared rate-limit token bucket (API.md §2.2)."""

    tokens: float = BUCKET_MAX
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> tuple[bool, int, int]:
        now = time.monotonic()
        self.tokens = min(BUCKET_MAX, self.tokens + (now - self.stamp) * REFILL / REFILL_SECONDS)
        self.stamp = now
        allowed = self.tokens >= 1
        if allowed:
            self.tokens -= 1
        missing = max(0.0, 1 - self.tokens)
        reset_ms = int((time.time() + missing * REFILL_SECONDS / REFILL) * 1000)
        return allowed, int(self.tokens), reset_ms


class Sim:
    """Everything one server instance holds: the engine, its keys, faults and the rate limiter."""

    def __init__(self, options: SimOptions) -> None:
        start = options.start
        if options.clock_skew:
            start = (start or datetime.now(UTC)) + timedelta(seconds=options.clock_skew)
        self.engine: Engine = build(
            options.scenario,
            seed=options.seed,
            start=start,
            speed=options.speed,
            queues=options.queues,
            runs=options.runs,
        )
        self.options = options
        self.secret_key = options.secret_key or DEFAULT_SECRET_KEY
        self.admin_token = options.admin_token or DEFAULT_ADMIN_TOKEN
        self.scoped_key = _scoped_key(self.secret_key)
        self.engine.replica_lag = options.replica_lag
        self.bucket = Bucket()
        self.faults = FaultLayer(parse_faults(options.faults) if options.faults else None)
        self.lock = asyncio.Lock()
        self.on_switch: Callable[[Engine], None] = lambda engine: None

    def switch(self, scenario: str) -> None:
        """Rebuild the world for another scenario, keeping the virtual clock where it is."""
        self.engine = build(scenario, seed=self.options.seed, start=self.engine.now, speed=self.engine.speed)
        self.engine.replica_lag = self.options.replica_lag
        self.on_switch(self.engine)


Handler = Callable[[Ctx], Awaitable[Any]]


COMPLETE_PATH = re.compile(r"^/api/v1/waitpoints/tokens/([^/]+)/complete$")


def _auth_api(sim: Sim, request: Request, *, limited: bool) -> None:
    header = request.headers.get("authorization")
    if not header and limited:
        # The rate-limit middleware answers first on limited paths (API.md §1.6).
        raise ApiError(
            401,
            {
                "title": "Unauthorized",
                "status": 401,
                "type": "https://docs.trigger.dev/errors/unauthorized",
                "detail": "No authorization header provided",
                "error": "No authorization header provided",
            },
            problem=True,
        )
    token = (header or "").removeprefix("Bearer ").strip()
    if not token:
        raise ApiError(401, {"error": "Invalid or Missing API key"})
    preview = token.startswith("tr_preview_") and token in (sim.secret_key, sim.scoped_key)
    if preview and not request.headers.get("x-trigger-branch", "").strip():
        # A preview key authenticates the parent environment only through a branch (API.md §1.2); the exact
        # wording of the real refusal is inferred.
        raise ApiError(401, {"error": "Invalid API key"})
    if token == sim.secret_key:
        return
    if token == sim.scoped_key:
        if request.url.path.startswith(SCOPED_REFUSED) or SCOPED_LACKS.match(request.url.path):
            raise ApiError(403, FORBIDDEN)
        return
    complete = COMPLETE_PATH.match(request.url.path)
    if complete and token.count(".") == 2:
        # The token-create response's public JWT may complete that one token (API.md §1.3, §7.4).
        claims = verify_jwt(token, sim.secret_key, time.time())
        if claims is None:
            raise ApiError(401, {"error": "Public Access Token is invalid"})
        if f"write:waitpoints:{unquote(complete.group(1))}" not in claims.get("scopes", []):
            raise ApiError(403, FORBIDDEN)
        return
    raise ApiError(401, {"error": "Invalid API key"})


def _scoped_key(secret_key: str) -> str:
    """The scoped key of the environment whose root key is `secret_key` (same environment prefix)."""
    prefix = secret_key[: secret_key.index("_", 3) + 1] if secret_key.count("_") >= 2 else "tr_dev_"
    return prefix + SCOPED_SECRET_KEY.removeprefix("tr_dev_")


def _auth_admin(sim: Sim, request: Request) -> None:
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if token == NON_ADMIN_TOKEN:
        raise ApiError(403, {"error": "You must be an admin to perform this action"})
    if token != sim.admin_token:
        raise ApiError(401, {"error": "Invalid or Missing API key"})


def endpoint(
    sim: Sim, handler: Handler, *, admin: bool = False, limited: bool = True, public: bool = False
) -> Callable[..., Any]:
    """Wrap a handler with faults, auth, the rate limiter and the error envelope."""

    async def run(request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            fault = await sim.faults.before(request)
            if fault is not None:
                return _dated(sim, fault)
            if admin:
                _auth_admin(sim, request)
            elif not public:
                if limited:
                    allowed, remaining, reset = sim.bucket.take()
                    if sim.faults.storm:
                        # Other clients drained the shared bucket: its next token is one refill step away.
                        allowed, remaining = False, 0
                        reset = int((time.time() + REFILL_SECONDS / REFILL) * 1000)
                    headers = {
                        "x-ratelimit-limit": str(BUCKET_MAX),
                        "x-ratelimit-remaining": str(max(0, remaining)),
                        "x-ratelimit-reset": str(reset),
                    }
                    if not allowed:
                        return _dated(sim, _rate_limited(reset, headers))
                _auth_api(sim, request, limited=limited)
            async with sim.lock:
                sim.engine.sync()
                ctx = Ctx(request, sim.engine, await _body(request), sim.secret_key, str(request.base_url).rstrip("/"))
                result = await handler(ctx)
            response = result if isinstance(result, Response) else JSONResponse(result)
        except ApiError as error:
            response = error.response()
        except Exception:
            # Like the route builder's catch-all (API.md §2.1); also keeps tracebacks off the demo's terminal.
            response = JSONResponse({"error": "Internal Server Error"}, status_code=500)
        response.headers.update(headers)
        return sim.faults.after(_dated(sim, response))

    return run


def _dated(sim: Sim, response: Response) -> Response:
    # The server's own clock, as every real answer carries it (RFC 9110 Date): the engine's virtual time.
    response.headers["date"] = format_datetime(sim.engine.now.astimezone(UTC), usegmt=True)
    return response


async def _body(request: Request) -> bytes | None:
    return await request.body() if request.method == "POST" else None


def _rate_limited(reset: int, headers: dict[str, str]) -> Response:
    seconds = max(0.0, reset / 1000 - time.time())
    detail = f"Rate limit exceeded. Retry in {seconds:.1f} seconds."
    body = {
        "title": "Rate Limit Exceeded",
        "status": 429,
        "type": "https://docs.trigger.dev/errors/rate-limit",
        "detail": detail,
        "reset": reset,
        "limit": BUCKET_MAX,
        "remaining": 0,
        "secondsUntilReset": seconds,
        "error": detail,
    }
    return JSONResponse(body, status_code=429, headers=headers, media_type="application/problem+json")


def create_app(options: SimOptions) -> Starlette:
    """The ASGI app; `app.state.engine` (also `app.state.sim.engine`) is the live engine."""
    sim = Sim(options)
    table: list[tuple[str, str, Handler, dict[str, bool]]] = [
        *routes_runs.ROUTES,
        *routes_queues.ROUTES,
        *routes_admin.ROUTES,
    ]
    routes = [Route(path, endpoint(sim, handler, **flags), methods=[method]) for method, path, handler, flags in table]
    routes += _sim_routes(sim)
    app = Starlette(routes=routes, exception_handlers={405: _method_not_allowed})
    app.state.sim = sim
    app.state.engine = sim.engine

    def follow(engine: Engine) -> None:
        app.state.engine = engine

    sim.on_switch = follow
    return app


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    headers = getattr(exc, "headers", None) or {}
    return JSONResponse({"error": "Method not allowed"}, status_code=405, headers=dict(headers))


def _sim_routes(sim: Sim) -> list[Route]:
    """Controls for tests and demos under /_sim/ (admin token; never part of the platos API)."""

    async def state(ctx: Ctx) -> Any:
        engine = sim.engine
        return {
            "scenario": engine.scenario,
            "now": engine.now.isoformat(),
            "workers": engine.workers,
            "environmentId": engine.env.id,
            "runs": len(engine.runs),
            "queues": {s: {"queued": len(q.waiting), "running": len(q.dequeued)} for s, q in engine.queues.items()},
        }

    async def workers(ctx: Ctx) -> Any:
        size = ctx.json_body().get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ApiError(400, {"error": "size must be a non-negative integer"})
        sim.engine.scale_workers(size)
        return {"workers": sim.engine.workers}

    async def advance(ctx: Ctx) -> Any:
        seconds = ctx.json_body().get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 7 * 86400:
            raise ApiError(400, {"error": "seconds must be a number between 0 and 604800"})
        sim.engine.advance(float(seconds))
        return {"now": sim.engine.now.isoformat()}

    async def faults(ctx: Ctx) -> Any:
        try:
            sim.faults.configure(ctx.json_body())
        except ValueError as exc:
            raise ApiError(400, {"error": str(exc)}) from None
        return sim.faults.describe()

    async def scenario(ctx: Ctx) -> Any:
        name = ctx.json_body().get("name")
        try:
            sim.switch(str(name))
        except ValueError as exc:
            raise ApiError(400, {"error": str(exc)}) from None
        return {"scenario": sim.engine.scenario, "environmentId": sim.engine.env.id}

    def control(handler: Handler, method: str) -> Route:
        async def run(request: Request) -> Response:
            try:
                _auth_admin(sim, request)
                async with sim.lock:
                    sim.engine.sync()
                    body = await _body(request)
                    ctx = Ctx(request, sim.engine, body, sim.secret_key, str(request.base_url).rstrip("/"))
                    return JSONResponse(await handler(ctx))
            except ApiError as error:
                return error.response()
            except Exception:
                return JSONResponse({"error": "Internal Server Error"}, status_code=500)

        return Route(f"/_sim/{handler.__name__}", run, methods=[method])

    return [
        control(state, "GET"),
        control(workers, "POST"),
        control(advance, "POST"),
        control(faults, "POST"),
        control(scenario, "POST"),
    ]


class RunningSim:
    """A simulator serving in a background thread."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str, sim: Sim) -> None:
        self._server, self._thread, self.url, self._sim = server, thread, url, sim
        self.secret_key = sim.secret_key
        self.admin_token = sim.admin_token
        self.scoped_key = sim.scoped_key
        self.environment_id = sim.engine.env.id

    @property
    def engine(self) -> Engine:
        return self._sim.engine

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def _bound(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (0 picks a free one), held until the server listens on it.

    Picking a free port and letting the server bind it later races any other process doing the same:
    parallel test workers took each other's ports that way. The socket is TCP by number, as the server's own would
    be: asyncio turns Nagle off only on such sockets, and with it on every answer waited 40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_host(options: SimOptions) -> None:
    if not options.public and not is_loopback(options.host):
        raise ValueError(f"refusing to bind non-loopback host {options.host!r} without public=True (--public)")


def start_in_background(options: SimOptions) -> RunningSim:
    """Serve on loopback in a daemon thread (port 0 picks a free port) and return once it accepts connections."""
    _check_host(options)
    sock = _bound(options.host, options.port)
    port: int = sock.getsockname()[1]
    app = create_app(options)
    config = uvicorn.Config(
        app, host=options.host, port=port, log_level="error", lifespan="off", access_log=False, date_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="platos-sim", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    return RunningSim(server, thread, f"http://{options.host}:{port}", app.state.sim)


def serve(options: SimOptions) -> None:
    """Serve in the foreground until Ctrl-C, after printing where and with which keys."""
    _check_host(options)
    sock = _bound(options.host, options.port)  # before the world is built: a taken port fails at once
    options = replace(options, port=sock.getsockname()[1])
    started = time.perf_counter()
    app = create_app(options)
    sim: Sim = app.state.sim
    took = time.perf_counter() - started
    print(
        f"platos simulator: scenario {sim.engine.scenario}, {len(sim.engine.queues)} queues, "
        f"{len(sim.engine.runs)} runs (ready in {took:.1f} s)"
    )
    print(f"  url:            http://{options.host}:{options.port}")
    print(f"  secret key:     {sim.secret_key}")
    print(f"  admin token:    {sim.admin_token}")
    print(f"  scoped key:     {sim.scoped_key} (refused on waitpoint token routes and promote)")
    print(f"  environment id: {sim.engine.env.id}")
    print(
        f"  try:  PLATOS_API_URL=http://{options.host}:{options.port} PLATOS_SECRET_KEY={sim.secret_key} platos-tui",
        flush=True,  # a script reading the port it picked (`--port 0`) from a pipe gets it now, not at exit
    )
    config = uvicorn.Config(
        app, host=options.host, port=options.port, log_level="warning", lifespan="off", date_header=False
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
