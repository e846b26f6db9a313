"""HTTP details beyond test_api_fidelity.py: admin auth, run filters and cursors, queue lookups, real metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from conftest import ADMIN_HEADERS, V2, Client

from tui.sim import views
from tui.sim.server import NON_ADMIN_TOKEN
from tui.sim.state import Plan


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data  # a streamed body: httpx sends no Content-Length


async def test_admin_auth_is_401_for_bad_tokens_and_403_for_non_admins(client: Client) -> None:
    report = f"/admin/api/v1/environments/{client.engine.env.id}/engine/report"
    assert (await client.get(report, headers=V2)).status_code == 401
    assert (await client.get(report, headers={})).json() == {"error": "Invalid or Missing API key"}
    denied = await client.get(report, headers={"Authorization": f"Bearer {NON_ADMIN_TOKEN}"})
    assert (denied.status_code, denied.json()) == (403, {"error": "You must be an admin to perform this action"})
    assert (await client.get(report, headers=ADMIN_HEADERS)).status_code == 200
    assert "x-ratelimit-limit" not in (await client.get(report, headers=ADMIN_HEADERS)).headers
    other_env = await client.get("/admin/api/v1/environments/nope/engine/report", headers=ADMIN_HEADERS)
    assert (other_env.status_code, other_env.json()) == (404, {"error": "Environment not found"})
    sim_state = await client.get("/_sim/state", headers={"Authorization": f"Bearer {NON_ADMIN_TOKEN}"})
    assert sim_state.status_code == 403


async def test_body_quirks(client: Client) -> None:
    queue = client.engine.queues["task/agent-turn"].id
    reset = f"/api/v1/queues/{queue}/concurrency/reset"
    empty = await client.http.post(reset, headers=V2)
    assert (empty.status_code, empty.json()) == (400, {"error": "Request body is empty"})
    bad = await client.http.post(reset, content=b"{nope", headers=V2)
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid JSON"})
    not_overridden = await client.post(reset, {})
    assert (not_overridden.status_code, not_overridden.json()) == (400, {"error": "Queue is not overridden"})
    streamed = await client.http.post("/api/v1/waitpoints/tokens", content=_chunks(b"{}"), headers=V2)
    assert (streamed.status_code, streamed.json()) == (413, {"error": "Request body too large"})
    huge = await client.post("/api/v1/waitpoints/tokens", {"tags": ["x" * 100] * 120})
    assert huge.status_code == 413
    too_many_tags = await client.post("/api/v1/waitpoints/tokens", {"tags": [f"t{i}" for i in range(11)]})
    assert too_many_tags.status_code == 422
    wrong_method = await client.http.get("/api/v2/runs/run_x/cancel", headers=V2)
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"error": "Method not allowed"})
    repair = f"/admin/api/v1/environments/{client.engine.env.id}/engine/repair-queues"
    assert (await client.http.post(repair, headers=ADMIN_HEADERS)).status_code == 500


async def test_token_idempotency_and_timeout(client: Client) -> None:
    first = await client.ok("POST", "/api/v1/waitpoints/tokens", {"idempotencyKey": "k1", "timeout": "1m"})
    again = await client.ok("POST", "/api/v1/waitpoints/tokens", {"idempotencyKey": "k1"})
    assert (first["isCached"], again["isCached"], again["id"]) == (False, True, first["id"])
    await client.advance(70)
    detail = await client.ok("GET", f"/api/v1/waitpoints/tokens/{first['id']}")
    assert detail["status"] == "TIMED_OUT" and detail["outputIsError"] is True
    assert json.loads(detail["output"])["code"] == "TRIGGER_WAITPOINT_TIMEOUT"
    listed = await client.ok("GET", "/api/v1/waitpoints/tokens", **{"filter[status]": "TIMED_OUT"})
    assert first["id"] in [t["id"] for t in listed["data"]]
    bad = await client.get("/api/v1/waitpoints/tokens", **{"filter[status]": "NOPE"})
    assert bad.status_code == 400 and bad.json()["error"] == "Query Error"


async def test_queue_list_offset_pages(client: Client) -> None:
    first = await client.ok("GET", "/api/v1/queues", perPage=3)
    assert first["pagination"] == {"currentPage": 1, "totalPages": 3, "count": 7}
    names = [q["name"] for q in (await client.ok("GET", "/api/v1/queues", perPage=500))["data"]]
    assert names == sorted(names) and len(names) == 7  # perPage above 100 is capped, not refused
    assert (await client.ok("GET", "/api/v1/queues", page=9))["data"] == []
    assert (await client.get("/api/v1/queues", page=0)).status_code == 400
    by_name = await client.ok("GET", "/api/v1/queues/task%2Fagent-turn", type="task")
    assert by_name["name"] == "agent-turn" and by_name["type"] == "task"
    assert (await client.ok("GET", "/api/v1/queues/shared-email", type="custom"))["type"] == "custom"
    assert (await client.get("/api/v1/queues/shared-email", type="task")).status_code == 404


async def test_metrics_window_and_unknown_queue(client: Client) -> None:
    metrics = await client.ok("GET", "/api/v1/queues/send-email/metrics")  # type=task default adds task/
    assert metrics["queue"] == "task/send-email" and metrics["startedCount"] == 0
    real = await client.ok("GET", "/api/v1/queues/shared-email/metrics", type="custom", period="24h")
    assert real["bucketIntervalMs"] == 7_200_000 and len(real["depthTrend"]) == 12
    assert real["startedCount"] > 100 and real["startedPerMin"] == round(real["startedCount"] / 1440, 2)
    assert real["waitMs"]["p50"] is not None and real["waitMs"]["p95"] >= real["waitMs"]["p50"]
    assert real["to"] >= "2026-08-21T18:00:00.000Z" and real["to"].endswith(":00:00.000Z")
    assert (await client.ok("GET", "/api/v1/queues/queue_xyz/metrics"))["peakQueued"] == 0
    for period in ("0h", "8d", "1y"):
        assert (await client.get("/api/v1/queues/send-email/metrics", period=period)).status_code == 400


def _decode(cursor: str) -> dict[str, object]:
    value: dict[str, object] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return value


async def test_run_list_cursor_pagination(client: Client) -> None:
    first = await client.ok("GET", "/api/v1/runs")
    assert len(first["data"]) == 25 and "previous" not in first["pagination"]
    assert set(_decode(first["pagination"]["next"])) == {"c", "r"}
    seen: list[str] = [r["id"] for r in first["data"]]
    cursor = first["pagination"]["next"]
    second = await client.ok("GET", "/api/v1/runs", **{"page[after]": cursor})
    back = await client.ok("GET", "/api/v1/runs", **{"page[before]": second["pagination"]["previous"]})
    assert [r["id"] for r in back["data"]] == list(reversed(seen))  # rows just newer, oldest first
    while cursor:
        page = await client.ok("GET", "/api/v1/runs", **{"page[after]": cursor, "page[size]": 100})
        seen += [r["id"] for r in page["data"]]
        cursor = page["pagination"].get("next")
    assert len(seen) == len(set(seen))
    created = [client.engine.runs[i.removeprefix("run_")].created_at for i in seen]
    assert created == sorted(created, reverse=True)
    week = client.engine.now - timedelta(days=7)
    assert len(seen) == sum(1 for r in client.engine.runs.values() if r.created_at >= week)
    for size in (0, 101, "x"):
        assert (await client.get("/api/v1/runs", **{"page[size]": size})).status_code == 400


async def test_run_list_window_and_filters(client: Client) -> None:
    engine = client.engine
    old = engine.create_run("send-email", created_at=engine.now - timedelta(days=8), plan=Plan(duration=1))
    ids = {r["id"] for r in (await client.ok("GET", "/api/v1/runs", **{"page[size]": 100}))["data"]}
    assert old.friendly not in ids
    aged = await client.ok("GET", "/api/v1/runs", **{"filter[createdAt][period]": "9d", "filter[tag]": "none"})
    assert aged["data"] == []
    window = {
        "filter[createdAt][from]": str(int((engine.now - timedelta(days=9)).timestamp() * 1000)),
        "filter[createdAt][to]": (engine.now - timedelta(days=7)).isoformat(),
        "filter[taskIdentifier]": "send-email",
    }
    assert [r["id"] for r in (await client.ok("GET", "/api/v1/runs", **window))["data"]] == [old.friendly]
    task_queue = await client.ok("GET", "/api/v1/runs", **{"filter[queue]": "task/agent-turn", "page[size]": 100})
    assert task_queue["data"] and {r["taskIdentifier"] for r in task_queue["data"]} == {"agent-turn"}
    assert (await client.ok("GET", "/api/v1/runs", **{"filter[queue]": "agent-turn"}))["data"] == []
    tagged = await client.ok("GET", "/api/v1/runs", **{"filter[tag]": "approval,stuck", "page[size]": 100})
    assert tagged["data"] and all({"approval", "stuck"} & set(r["tags"]) for r in tagged["data"])
    assert (await client.get("/api/v1/runs", **{"filter[isTest]": "maybe"})).status_code == 400
    repeated = await client.http.get(
        "/api/v1/runs?filter[taskIdentifier]=nope&filter[taskIdentifier]=send-email", headers=V2
    )
    assert repeated.json()["data"]  # a repeated key keeps its last value (API.md §2.1)


async def test_the_token_jwt_completes_only_its_token(client: Client) -> None:
    created = await client.post("/api/v1/waitpoints/tokens", {})
    other = (await client.ok("POST", "/api/v1/waitpoints/tokens", {}))["id"]
    jwt = created.headers["x-trigger-jwt"]
    bearer = {"Authorization": f"Bearer {jwt}"}
    assert (await client.post(f"/api/v1/waitpoints/tokens/{other}/complete", {}, headers=bearer)).status_code == 403
    done = await client.post(f"/api/v1/waitpoints/tokens/{created.json()['id']}/complete", {}, headers=bearer)
    assert (done.status_code, done.json()) == (200, {"success": True})
    forged = {"Authorization": f"Bearer {jwt[:-4]}AAAA"}
    assert (await client.post(f"/api/v1/waitpoints/tokens/{other}/complete", {}, headers=forged)).status_code == 401
    assert (await client.get("/api/v1/queues", headers=bearer)).json() == {"error": "Invalid API key"}


async def test_exempt_paths_without_a_key_and_unexpected_errors(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = await client.http.post("/api/v1/auth/jwt/claims")
    assert (bare.status_code, bare.json()) == (401, {"error": "Invalid or Missing API key"})

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "queue_item", explode)
    broken = await client.get("/api/v1/queues")
    assert (broken.status_code, broken.json()) == (500, {"error": "Internal Server Error"})
    assert "x-ratelimit-limit" in broken.headers


async def test_bulk_by_filter_progresses_over_virtual_time_and_aborts(client: Client) -> None:
    queued = [r for r in client.engine.with_status("PENDING") if r.queue == "task/process-video"]
    assert len(queued) > 25  # the incident's paused queue
    body = {"action": "cancel", "name": "drain", "filter": {"status": "QUEUED", "taskIdentifier": "process-video"}}
    bulk_id = (await client.ok("POST", "/api/v1/bulk-actions", body))["id"]
    first = await client.ok("GET", f"/api/v1/bulk-actions/{bulk_id}")
    assert first["status"] == "PENDING" and first["counts"] == {"total": len(queued), "success": 0, "failure": 0}
    await client.advance(10)
    partial = await client.ok("GET", f"/api/v1/bulk-actions/{bulk_id}")
    assert partial["status"] == "PENDING" and 0 < partial["counts"]["success"] < len(queued)
    assert (await client.ok("POST", f"/api/v1/bulk-actions/{bulk_id}/abort")) == {"id": bulk_id}
    await client.advance(60)
    aborted = await client.ok("GET", f"/api/v1/bulk-actions/{bulk_id}")
    assert aborted["status"] == "ABORTED" and aborted["counts"] == partial["counts"] and "completedAt" in aborted
    touched = await client.ok("GET", "/api/v1/runs", **{"filter[bulkAction]": bulk_id, "page[size]": 100})
    assert len(touched["data"]) == partial["counts"]["success"] and {r["status"] for r in touched["data"]} == {
        "CANCELED"
    }
    assert (await client.post(f"/api/v1/bulk-actions/{bulk_id}/abort")).status_code == 409
    replay = await client.ok("POST", "/api/v1/bulk-actions", {"action": "replay", "runIds": [touched["data"][0]["id"]]})
    await client.advance(10)
    done = await client.ok("GET", f"/api/v1/bulk-actions/{replay['id']}")
    assert done["type"] == "REPLAY" and done["status"] == "COMPLETED" and done["counts"]["success"] == 1
    replayed = await client.ok("GET", "/api/v1/runs", **{"filter[bulkAction]": replay["id"]})
    assert [r["status"] for r in replayed["data"]] == ["QUEUED"]  # a fresh run in the paused queue
