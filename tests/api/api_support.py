"""Helpers for the API client tests: example payloads, a scripted in-process server and a fake clock."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

DATA = Path(__file__).parent / "data"
SECRET = "tr_prod_SECRETKEY0123456789abcdef"
ADMIN = "tr_pat_adminpat123456789abcdefghjkmnpqrstuvwxyz12345"
BASE = "https://engine.example.test"


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


Responder = Callable[[httpx.Request], httpx.Response]


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Responder:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def _queue_page(request: httpx.Request) -> httpx.Response:
    body = load("queues_list")
    body["pagination"] = {"currentPage": 1, "totalPages": 1, "count": 2}
    return httpx.Response(200, json=body)


def _id_echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": request.url.path.split("/")[-2]})


def default_routes() -> list[tuple[str, str, Responder]]:
    """A canned answer for every endpoint the client uses (API.md §14 examples and the schemas)."""
    queue = load("queues_list")["data"][0]
    return [
        ("GET", r"/api/v1/runs", ok(load("runs_list"))),
        ("GET", r"/api/v3/runs/[^/]+", ok(load("run_retrieve"))),
        ("POST", r"/api/v2/runs/[^/]+/cancel", _id_echo),
        ("POST", r"/api/v1/runs/[^/]+/replay", ok({"id": "run_replayed0001"})),
        ("GET", r"/api/v1/runs/[^/]+/trace", ok(load("trace_clickhouse"))),
        ("GET", r"/api/v1/runs/[^/]+/spans/[^/]+", ok(load("span_detail"))),
        ("GET", r"/api/v1/queues", _queue_page),
        ("GET", r"/api/v1/queues/[^/]+/metrics", ok(load("queue_metrics"))),
        ("GET", r"/api/v1/queues/[^/]+", ok(queue)),
        ("POST", r"/api/v1/queues/[^/]+/pause", ok(queue)),
        ("POST", r"/api/v1/queues/[^/]+/concurrency/(override|reset)", ok(queue)),
        ("GET", r"/api/v1/waitpoints/tokens", ok(load("tokens_list"))),
        ("GET", r"/api/v1/waitpoints/tokens/[^/]+", ok(load("token_retrieve"))),
        ("POST", r"/api/v1/waitpoints/tokens/[^/]+/complete", ok({"success": True})),
        ("POST", r"/api/v1/bulk-actions", ok({"id": "bulk_new0001"}, 202)),
        ("GET", r"/api/v1/bulk-actions/[^/]+", ok(load("bulk_action"))),
        ("POST", r"/api/v1/bulk-actions/[^/]+/abort", _id_echo),
        ("GET", r"/api/v1/deployments/current", ok(load("deployment_current"))),
        ("POST", r"/api/v1/deployments/[^/]+/promote", ok({"id": "deployment_1", "version": "1", "shortCode": "s"})),
        ("GET", r"/api/v1/deployments", ok(load("deployments_list"))),
        ("GET", r"/api/v1/whoami", ok(load("whoami"))),
        ("POST", r"/api/v1/auth/jwt/claims", ok({"sub": "cmd8w1f3k0004l50q7z2r9yxa", "pub": True})),
        ("POST", r"/admin/api/v1/environments/[^/]+/engine/repair-queues", ok(load("repair_queues"))),
        ("GET", r"/admin/api/v1/environments/[^/]+/engine/report", ok(load("engine_report"))),
    ]


class FakeServer:
    """Records every request; answers from its script first, then from its routes."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: deque[httpx.Response | Responder | Exception] = deque()
        self.routes = default_routes()

    def then(self, *items: httpx.Response | Responder | Exception) -> FakeServer:
        self.script.extend(items)
        return self

    def route(self, method: str, pattern: str, responder: Responder) -> None:
        self.routes.insert(0, (method, pattern, responder))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            item = self.script.popleft()
            if isinstance(item, Exception):
                raise item
            return item if isinstance(item, httpx.Response) else item(request)
        path = request.url.raw_path.decode().split("?")[0]  # still encoded, so %2F stays inside one segment
        for method, pattern, responder in self.routes:
            if method == request.method and re.fullmatch(pattern, path):
                return responder(request)
        return httpx.Response(404, json={"error": "Not found"})

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that only advances them."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.wall = 1_787_000_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.wall += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds
