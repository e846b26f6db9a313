"""A small stateful HTTP engine behind httpx.MockTransport, to run actions through the real EngineClient."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from tui.api.client import EngineClient
from tui.api.guard import WriteGuard

SECRET = "tr_dev_httpfakekey0123456789ab"
ADMIN = "tr_pat_" + "h" * 40
BASE = "https://engine.example.test"


def _run(run_id: str, status: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "taskIdentifier": "agent-turn",
        "status": status,
        "createdAt": "2026-11-28T06:40:00.000Z",
        "startedAt": "2026-11-28T06:45:00.000Z",
        "updatedAt": "2026-11-28T06:45:00.000Z",
        "costInCents": 0,
        "baseCostInCents": 0,
        "durationMs": 0,
        "isTest": False,
        "depth": 0,
        "tags": [],
        "attemptCount": 1,
        "attempts": [],
        "relatedRuns": {"children": []},
    }


def _queue(name: str, paused: bool, limit: int | None) -> dict[str, Any]:
    return {
        "id": f"queue_{name}",
        "name": name,
        "type": "task",
        "running": 0,
        "queued": 0,
        "paused": paused,
        "concurrencyLimit": limit,
        "concurrency": {
            "current": limit,
            "base": None,
            "override": None,
            "overriddenAt": None,
            "overriddenBy": None,
        },
    }


class HttpEngine:
    """Answers the handful of endpoints the actions use; records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.runs: dict[str, str] = {"run_1": "EXECUTING"}
        self.paused = False
        self.failures: list[httpx.Response | Exception] = []
        """Answers for the next mutations, in order (an exception is raised after the effect is applied)."""
        self.gate: asyncio.Event | None = None

    def client(self, guard: WriteGuard) -> EngineClient:
        return EngineClient(
            BASE,
            SECRET,
            admin_token=ADMIN,
            guard=guard,
            budget_per_second=None,
            transport=httpx.MockTransport(self.handle),
        )

    @property
    def mutations(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests if r.method == "POST"]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and (m := re.fullmatch(r"/api/v3/runs/([^/]+)", path)):
            if m.group(1) not in self.runs:
                return httpx.Response(404, json={"error": "Not found"}, headers={"x-should-retry": "false"})
            return httpx.Response(200, json=_run(m.group(1), self.runs[m.group(1)]))
        if request.method == "GET" and (m := re.fullmatch(r"/api/v1/queues/([^/]+)", path)):
            return httpx.Response(200, json=_queue(m.group(1), self.paused, 10))
        if request.method != "POST":
            return httpx.Response(404, json={"error": "Not found"})
        if self.gate is not None:
            await self.gate.wait()
        if m := re.fullmatch(r"/api/v2/runs/([^/]+)/cancel", path):
            answer = self._next()
            if not isinstance(answer, httpx.Response):
                self.runs[m.group(1)] = "CANCELED"
            if isinstance(answer, Exception):
                raise answer
            return answer or httpx.Response(200, json={"id": m.group(1)})
        if m := re.fullmatch(r"/api/v1/queues/([^/]+)/pause", path):
            body = json.loads(request.content)
            answer = self._next()
            if isinstance(answer, httpx.Response):
                return answer
            self.paused = body["action"] == "pause"
            return httpx.Response(200, json=_queue(m.group(1), self.paused, 10))
        return httpx.Response(404, json={"error": "Resource not found"})

    def _next(self) -> httpx.Response | Exception | None:
        return self.failures.pop(0) if self.failures else None
