"""Conformance of the simulator's real-server behaviours (issue 12): each answer validates against the OpenAPI file
(API.md §13's deviations applied, as in test_conformance.py) or, where the file says nothing, against API.md.

Preview keys without a branch (401), restricted keys (403), short pages with `next` set, the Date header and a
skewed clock, 429 with a reset in the future, an unknown token (500) and a repair that cannot be computed (500).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from test_conformance import API, SDK_RUN_STATUSES, check, deviate, spec, validator_for

from tui.sim.server import DEFAULT_ADMIN_TOKEN, SimOptions, create_app

__all__ = ["spec"]  # the OpenAPI file, as a fixture

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PREVIEW_KEY = "tr_preview_pl4tosprev1ewbranchkey1"
ADMIN = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}
# API.md §1.6: a valid credential without the scope.
FORBIDDEN = {
    "type": "object",
    "required": ["error", "code", "param", "type"],
    "properties": {
        "error": {"const": "Unauthorized"},
        "code": {"const": "unauthorized"},
        "param": {"const": "access_token"},
        "type": {"const": "authorization"},
    },
    "additionalProperties": False,
}
# API.md §1.6 and §2.1: a refused key and the route builder's catch-all (the file lists them, bodiless).
UNAUTHORIZED = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"enum": ["Invalid API key", "Invalid or Missing API key"]}},
    "additionalProperties": False,
}
INTERNAL = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"const": "Internal Server Error"}},
    "additionalProperties": False,
}
BODIES = {401: UNAUTHORIZED, 500: INTERNAL}
# API.md §2.2: the rate limiter's problem+json.
RATE_LIMITED = {
    "type": "object",
    "required": ["title", "status", "type", "detail", "reset", "limit", "remaining", "secondsUntilReset", "error"],
    "properties": {
        "title": {"const": "Rate Limit Exceeded"},
        "status": {"const": 429},
        "type": {"type": "string"},
        "detail": {"type": "string"},
        "reset": {"type": "integer"},
        "limit": {"type": "integer"},
        "remaining": {"type": "integer"},
        "secondsUntilReset": {"type": "number"},
        "error": {"type": "string"},
    },
    "additionalProperties": False,
}


class Sim:
    """One simulator over ASGI, with the spec (deviations applied) to validate its answers against."""

    def __init__(self, spec: dict[str, Any], **options: Any) -> None:
        self.app = create_app(SimOptions(**{"scenario": "incident", "speed": 0, "seed": 1, **options}))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")
        self.doc = deviate(spec, SDK_RUN_STATUSES)

    @property
    def engine(self) -> Any:
        return self.app.state.sim.engine

    async def get(
        self,
        url: str,
        spec_path: str | None,
        status: int,
        *,
        headers: dict[str, str] = API,
        schema: dict[str, Any] | None = None,
        method: str = "GET",
        body: Any = None,
    ) -> httpx.Response:
        answer = await self.http.request(method, url, headers=headers, json=body)
        assert answer.status_code == status, f"{url}: {answer.status_code} {answer.text[:200]}"
        if spec_path is not None:
            documented = self.doc["paths"][spec_path][method.lower()]["responses"]
            assert str(status) in documented, f"{method} {spec_path} does not list {status}"
            if "content" in documented[str(status)]:
                check(validator_for(self.doc, spec_path, method.lower(), str(status)), answer.json(), url)
            else:  # listed without a body schema: the body is API.md's
                schema = schema or BODIES[status]
        if schema is not None:
            check(Draft202012Validator(schema), answer.json(), url)
        return answer


@pytest.fixture
async def sims(spec: dict[str, Any]) -> AsyncIterator[list[Sim]]:
    made: list[Sim] = []
    yield made
    for sim in made:
        await sim.http.aclose()


def server_time(answer: httpx.Response) -> datetime:
    return email.utils.parsedate_to_datetime(answer.headers["date"])


async def test_a_preview_key_without_a_branch_is_401_and_with_one_conforms(
    spec: dict[str, Any], sims: list[Sim]
) -> None:
    sim = Sim(spec, secret_key=PREVIEW_KEY)
    sims.append(sim)
    bare = {**API, "Authorization": f"Bearer {PREVIEW_KEY}"}
    branch = {**bare, "x-trigger-branch": "feature-x"}
    for url, path in (
        ("/api/v1/runs?page[size]=10", "/api/v1/runs"),
        ("/api/v1/queues", "/api/v1/queues"),
        ("/api/v1/waitpoints/tokens", "/api/v1/waitpoints/tokens"),
        ("/api/v1/deployments", "/api/v1/deployments"),
    ):
        await sim.get(url, path, 401, headers=bare)
        await sim.get(url, path, 401, headers={**bare, "x-trigger-branch": "  "})
        await sim.get(url, path, 200, headers=branch)
    run = (await sim.get("/api/v1/runs?page[size]=1", "/api/v1/runs", 200, headers=branch)).json()["data"][0]
    await sim.get(f"/api/v3/runs/{run['id']}", "/api/v3/runs/{runId}", 401, headers=bare)
    await sim.get(f"/api/v3/runs/{run['id']}", "/api/v3/runs/{runId}", 200, headers=branch)


async def test_a_restricted_key_is_403_on_the_token_routes_and_conforms_elsewhere(
    spec: dict[str, Any], sims: list[Sim]
) -> None:
    sim = Sim(spec)
    sims.append(sim)
    scoped = {**API, "Authorization": f"Bearer {sim.app.state.sim.scoped_key}"}
    tokens = (await sim.get("/api/v1/waitpoints/tokens", "/api/v1/waitpoints/tokens", 200)).json()["data"]
    # The OpenAPI file lists no 403 for these routes; the body is API.md §1.6's.
    await sim.get("/api/v1/waitpoints/tokens", None, 403, headers=scoped, schema=FORBIDDEN)
    await sim.get(f"/api/v1/waitpoints/tokens/{tokens[0]['id']}", None, 403, headers=scoped, schema=FORBIDDEN)
    await sim.get(
        f"/api/v1/waitpoints/tokens/{tokens[0]['id']}/complete", None, 403, headers=scoped, schema=FORBIDDEN,
        method="POST", body={"data": {}},
    )  # fmt: skip
    await sim.get("/api/v1/runs?page[size]=10", "/api/v1/runs", 200, headers=scoped)
    await sim.get("/api/v1/queues", "/api/v1/queues", 200, headers=scoped)


async def test_short_pages_with_next_set_conform_and_lead_to_every_run(spec: dict[str, Any], sims: list[Sim]) -> None:
    sim = Sim(spec, scenario="healthy", start=START, replica_lag=5.0)
    sims.append(sim)
    engine = sim.engine
    created = [
        engine.create_run("send-email", created_at=engine.now - timedelta(minutes=30 - i), tags=["lag"], enqueue=False)
        for i in range(5)
    ]
    for run in created[-2:]:
        engine.cancel(run)  # just now: the lagging replica still holds them as QUEUED
    pages, after = [], None
    while True:
        url = "/api/v1/runs?filter[tag]=lag&filter[status]=QUEUED&page[size]=2"
        answer = await sim.get(url + (f"&page[after]={after}" if after else ""), "/api/v1/runs", 200)
        body = answer.json()
        pages.append([run["id"] for run in body["data"]])
        after = body["pagination"].get("next")
        if after is None:
            break
    assert len(pages[0]) < 2 and len(pages) > 1  # a short (here empty) page, and `next` was still set
    assert sorted(i for page in pages for i in page) == sorted(r.friendly for r in created[:3])


async def test_every_answer_is_dated_by_the_servers_clock_also_when_it_is_skewed(
    spec: dict[str, Any], sims: list[Sim]
) -> None:
    sim = Sim(spec, speed=1, clock_skew=-20 * 60)
    sims.append(sim)
    bad_key = {**API, "Authorization": "Bearer tr_dev_000000000000000000000000"}
    answers = [
        await sim.get("/api/v1/queues", "/api/v1/queues", 200),
        await sim.get("/api/v1/runs?page[size]=5", "/api/v1/runs", 200),
        await sim.get("/api/v3/runs/run_nope", "/api/v3/runs/{runId}", 404),
        await sim.get("/api/v1/runs", "/api/v1/runs", 401, headers=bad_key),
        await sim.get("/api/v1/waitpoints/tokens/waitpoint_nope", "/api/v1/waitpoints/tokens/{waitpointId}", 500),
    ]
    for answer in answers:
        behind = time.time() - server_time(answer).timestamp()
        assert 20 * 60 - 5 < behind < 20 * 60 + 5, answer.headers["date"]
        assert abs(server_time(answer) - sim.engine.now) < timedelta(seconds=2)
    # The timestamps the server returns follow the same clock as its Date header.
    queue_page = answers[1].json()["data"]
    newest = max(datetime.fromisoformat(run["createdAt"].replace("Z", "+00:00")) for run in queue_page)
    assert newest <= server_time(answers[1]) + timedelta(seconds=1)


@pytest.mark.parametrize("how", ["storm", "drained"])
async def test_a_429_carries_a_reset_in_the_future(spec: dict[str, Any], sims: list[Sim], how: str) -> None:
    sim = Sim(spec, speed=1)
    sims.append(sim)
    if how == "storm":
        await sim.http.post("/_sim/faults", headers=ADMIN, json={"ratelimit_storm": True})
    else:
        bucket = sim.app.state.sim.bucket
        bucket.tokens, bucket.stamp = 0.0, time.monotonic()
    sent = time.time() * 1000
    limited = await sim.get("/api/v1/runs?page[size]=5", None, 429, schema=RATE_LIMITED)
    reset = int(limited.headers["x-ratelimit-reset"])
    assert reset > sent and limited.json()["reset"] == reset
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.headers["x-ratelimit-remaining"] == "0" and "date" in limited.headers


async def test_an_unknown_token_is_a_500_that_conforms(spec: dict[str, Any], sims: list[Sim]) -> None:
    sim = Sim(spec)
    sims.append(sim)
    path = "/api/v1/waitpoints/tokens/{waitpointId}"
    answer = await sim.get("/api/v1/waitpoints/tokens/waitpoint_nope", path, 500)
    assert answer.json() == {"error": "Internal Server Error"}


async def test_a_repair_of_a_slot_without_a_snapshot_is_a_500(spec: dict[str, Any], sims: list[Sim]) -> None:
    sim = Sim(spec)
    sims.append(sim)
    engine = sim.engine
    repair = f"/admin/api/v1/environments/{engine.env.id}/engine/repair-queues"
    await sim.get(repair, None, 200, headers=ADMIN, method="POST", body={"dryRun": True})
    engine.env.operational.add("cmnosnapshot000000000000")
    for dry_run in (True, False):
        answer = await sim.get(
            repair, None, 500, headers=ADMIN, method="POST", body={"dryRun": dry_run}, schema=INTERNAL
        )
        assert "date" in answer.headers
