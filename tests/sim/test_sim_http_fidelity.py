"""API.md §4-§10 on the simulator: list semantics, queues, metrics, tokens, mutations, bulk actions, admin."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sim_http import ADMIN, API, KEY, open_client
from sim_http import runs as _runs

from tui.sim.http import verify_jwt
from tui.sim.server import DEFAULT_SECRET_KEY


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for http in open_client():
        yield http


# -- §4.2 list semantics ----------------------------------------------------------------------------------------
async def test_run_list_pagination_is_newest_first_with_opaque_cursors(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/v1/runs", headers=API)).json()
    assert len(first["data"]) == 25 and "previous" not in first["pagination"]
    stamps = [r["createdAt"] for r in first["data"]]
    assert stamps == sorted(stamps, reverse=True)
    cursor = first["pagination"]["next"]
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert set(decoded) == {"c", "r"} and "run_" + decoded["r"] == first["data"][-1]["id"]
    second = (await client.get("/api/v1/runs", headers=API, params={"page[after]": cursor})).json()
    assert second["data"][0]["createdAt"] <= stamps[-1]
    assert not {r["id"] for r in second["data"]} & {r["id"] for r in first["data"]}
    assert second["pagination"]["previous"]
    back = await client.get("/api/v1/runs", headers=API, params={"page[before]": second["pagination"]["previous"]})
    assert {r["id"] for r in back.json()["data"]} <= {r["id"] for r in first["data"]}
    too_big = await client.get("/api/v1/runs", headers=API, params={"page[size]": "101"})
    assert too_big.status_code == 400


async def test_run_list_defaults_to_seven_days(client: httpx.AsyncClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    old = engine.create_run("send-email", created_at=engine.now - timedelta(days=9), tags=["ancient"], enqueue=False)
    default = await _runs(client, **{"filter[tag]": "ancient"})
    assert default == []
    wide = await _runs(client, **{"filter[tag]": "ancient", "filter[createdAt][period]": "10d"})
    assert [r["id"] for r in wide] == [old.friendly]


async def test_a_period_overrides_from_and_to(client: httpx.AsyncClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    recent = engine.create_run("send-email", created_at=engine.now - timedelta(minutes=5), tags=["p"], enqueue=False)
    long_ago = str(int((engine.now - timedelta(days=3)).timestamp() * 1000))
    by_range = await _runs(client, **{"filter[tag]": "p", "filter[createdAt][to]": long_ago})
    assert by_range == []
    both = {"filter[tag]": "p", "filter[createdAt][to]": long_ago, "filter[createdAt][period]": "1h"}
    assert [r["id"] for r in await _runs(client, **both)] == [recent.friendly]


async def test_list_items_carry_env_and_omit_unset_optionals(client: httpx.AsyncClient) -> None:
    for run in await _runs(client):
        assert run["env"]["name"] and run["taskKind"] == "STANDARD"
        assert None not in run.values(), run  # absent, never null (API.md preamble)
        assert run["tags"] == sorted(run["tags"])


# -- §5 queues and metrics ---------------------------------------------------------------------------------
async def test_queue_pagination_and_lookup_by_name(client: httpx.AsyncClient) -> None:
    page = (await client.get("/api/v1/queues", headers=API, params={"perPage": "2", "page": "1"})).json()
    assert len(page["data"]) == 2 and page["pagination"]["currentPage"] == 1
    count = page["pagination"]["count"]
    assert page["pagination"]["totalPages"] == -(-count // 2)
    capped = (await client.get("/api/v1/queues", headers=API, params={"perPage": "500"})).json()
    assert len(capped["data"]) == min(100, count)
    names = [q["name"] for q in capped["data"]]
    assert names == sorted(names)
    past = (await client.get("/api/v1/queues", headers=API, params={"page": "999"})).json()
    assert past["data"] == []
    task = next(q for q in capped["data"] if q["type"] == "task")
    by_name = await client.get(f"/api/v1/queues/{task['name']}", headers=API, params={"type": "task"})
    assert by_name.json()["id"] == task["id"]
    prefixed = await client.get(f"/api/v1/queues/task%2F{task['name']}", headers=API, params={"type": "task"})
    assert prefixed.json()["id"] == task["id"]


async def test_override_and_reset_rules(client: httpx.AsyncClient) -> None:
    queue = (await client.get("/api/v1/queues", headers=API)).json()["data"][0]
    path = f"/api/v1/queues/{queue['id']}/concurrency"
    both = await client.post(f"{path}/override", headers=API, json={"concurrencyLimit": 1, "percent": 10})
    assert both.status_code == 400 and "exactly one" in both.json()["error"]
    too_high = await client.post(f"{path}/override", headers=API, json={"concurrencyLimit": 100000})
    assert too_high.status_code == 400 and "cannot exceed the environment limit" in too_high.json()["error"]
    not_overridden = await client.post(f"{path}/reset", headers=API, json={})
    assert (not_overridden.status_code, not_overridden.json()) == (400, {"error": "Queue is not overridden"})
    done = (await client.post(f"{path}/override", headers=API, json={"concurrencyLimit": 2})).json()
    assert done["concurrencyLimit"] == 2 and done["concurrency"]["override"] == 2
    assert done["concurrency"]["base"] == queue["concurrencyLimit"]
    assert "concurrencyLimitOverridePercent" not in done  # only list and retrieve carry it
    restored = (await client.post(f"{path}/reset", headers=API, json={})).json()
    assert restored["concurrencyLimit"] == queue["concurrencyLimit"] and restored["concurrency"]["base"] is None


async def test_metrics_window_is_snapped_and_unknown_queues_are_zero(client: httpx.AsyncClient) -> None:
    queue = next(q for q in (await client.get("/api/v1/queues", headers=API)).json()["data"] if q["type"] == "task")
    body = (await client.get(f"/api/v1/queues/{queue['name']}/metrics", headers=API, params={"period": "1h"})).json()
    assert body["queue"] == f"task/{queue['name']}" and body["bucketIntervalMs"] == 300_000
    start, end = (datetime.fromisoformat(body[k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert end - start == timedelta(hours=1) and end.timestamp() % 300 == 0
    assert len(body["depthTrend"]) == 12
    unknown = (await client.get("/api/v1/queues/no-such-queue/metrics", headers=API)).json()
    assert unknown["startedCount"] == 0 and unknown["waitMs"] == {"p50": None, "p95": None}
    assert unknown["depthTrend"] == [0] * 12
    bad = await client.get(f"/api/v1/queues/{queue['name']}/metrics", headers=API, params={"period": "0h"})
    assert (bad.status_code, bad.json()["error"]) == (400, "Query Error")


# -- §7 waitpoint tokens ------------------------------------------------------------------------------------
async def test_token_lifecycle_idempotency_and_callback(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/waitpoints/tokens", headers=API, json={"idempotencyKey": "ord-1", "tags": ["b", "a"], "timeout": "1h"}
    )
    assert created.status_code == 200 and created.json()["isCached"] is False
    assert json.loads(created.headers["x-trigger-jwt-claims"])["pub"] is True
    again = (await client.post("/api/v1/waitpoints/tokens", headers=API, json={"idempotencyKey": "ord-1"})).json()
    assert again["id"] == created.json()["id"] and again["isCached"] is True
    token_id = again["id"]
    item = (await client.get(f"/api/v1/waitpoints/tokens/{token_id}", headers=API)).json()
    assert item["status"] == "WAITING" and item["tags"] == ["a", "b"] and item["timeoutAt"] == item["completedAfter"]
    too_many = await client.post("/api/v1/waitpoints/tokens", headers=API, json={"tags": [str(i) for i in range(11)]})
    assert too_many.status_code == 422
    url = httpx.URL(created.json()["url"])
    wrong = await client.post(url.path[:-4] + "0000", json={"ok": True})
    assert wrong.status_code == 401
    digest = hmac.new(DEFAULT_SECRET_KEY.encode(), token_id.removeprefix("waitpoint_").encode(), hashlib.sha256)
    assert url.path.endswith(digest.hexdigest())
    assert (await client.post(url.path, json={"approved": True})).json() == {"success": True}
    second = await client.post(f"/api/v1/waitpoints/tokens/{token_id}/complete", headers=API, json={"data": 2})
    assert (second.status_code, second.json()) == (200, {"success": True})
    detail = (await client.get(f"/api/v1/waitpoints/tokens/{token_id}", headers=API)).json()
    assert detail["status"] == "COMPLETED" and json.loads(detail["output"]) == {"approved": True}  # first wins


async def test_token_timeout_reads_timed_out(client: httpx.AsyncClient) -> None:
    token_id = (await client.post("/api/v1/waitpoints/tokens", headers=API, json={"timeout": "30s"})).json()["id"]
    await client.post("/_sim/advance", headers=ADMIN, json={"seconds": 40})
    detail = (await client.get(f"/api/v1/waitpoints/tokens/{token_id}", headers=API)).json()
    assert detail["status"] == "TIMED_OUT" and detail["outputIsError"] is True
    assert json.loads(detail["output"])["code"] == "TRIGGER_WAITPOINT_TIMEOUT"
    listed = await client.get("/api/v1/waitpoints/tokens", headers=API, params={"filter[status]": "TIMED_OUT"})
    assert token_id in {t["id"] for t in listed.json()["data"]}


async def test_token_list_cursors_are_raw_internal_ids(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/v1/waitpoints/tokens", headers=API, params={"page[size]": "1"})).json()
    assert len(first["data"]) == 1
    cursor = first["pagination"]["next"]
    assert not cursor.startswith("waitpoint_") and first["data"][0]["id"] == "waitpoint_" + cursor
    second = (
        await client.get("/api/v1/waitpoints/tokens", headers=API, params={"page[size]": "1", "page[after]": cursor})
    ).json()
    assert second["data"][0]["id"] < first["data"][0]["id"]
    bad = await client.get("/api/v1/waitpoints/tokens", headers=API, params={"filter[status]": "PENDING"})
    assert bad.status_code == 400


# -- §4.4 / §4.5 / §8 mutations -----------------------------------------------------------------------------
async def test_cancel_is_200_even_when_finished_and_ends_open_spans(client: httpx.AsyncClient) -> None:
    executing = (await _runs(client, **{"filter[status]": "EXECUTING"}))[0]["id"]
    assert (await client.post(f"/api/v2/runs/{executing}/cancel", headers=API)).json() == {"id": executing}
    run = (await client.get(f"/api/v3/runs/{executing}", headers=API)).json()
    assert run["status"] == "CANCELED" and run["isCancelled"]
    root = (await client.get(f"/api/v1/runs/{executing}/trace", headers=API)).json()["trace"]["rootSpan"]

    def spans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node["children"]:
            yield from spans(child)

    assert not any(s["data"]["isPartial"] for s in spans(root))
    assert any(e["name"] == "cancellation" for s in spans(root) for e in s["data"]["events"])
    assert any(s["data"]["message"] == "cancelled" for s in root["children"])  # the synthetic marker span
    again = await client.post(f"/api/v2/runs/{executing}/cancel", headers=API)
    assert (again.status_code, again.json()) == (200, {"id": executing})


async def test_replay_creates_a_new_queued_run(client: httpx.AsyncClient) -> None:
    done = (await _runs(client, **{"filter[status]": "COMPLETED"}))[0]
    new_id = (await client.post(f"/api/v1/runs/{done['id']}/replay", headers=API)).json()["id"]
    assert new_id != done["id"]
    replayed = (await client.get(f"/api/v3/runs/{new_id}", headers=API)).json()
    assert replayed["taskIdentifier"] == done["taskIdentifier"] and replayed["status"] in ("QUEUED", "DEQUEUED")


async def test_bulk_cancel_counts_finished_runs_as_failures_and_abort_conflicts(client: httpx.AsyncClient) -> None:
    finished = (await _runs(client, **{"filter[status]": "COMPLETED"}))[0]["id"]
    queued = [r["id"] for r in await _runs(client, **{"filter[status]": "QUEUED"})][:3]
    created = await client.post(
        "/api/v1/bulk-actions", headers=API, json={"action": "cancel", "runIds": [finished, *queued]}
    )
    assert created.status_code == 202
    bulk_id = created.json()["id"]
    await client.post("/_sim/advance", headers=ADMIN, json={"seconds": 30})
    bulk = (await client.get(f"/api/v1/bulk-actions/{bulk_id}", headers=API)).json()
    assert bulk["status"] == "COMPLETED" and bulk["counts"] == {"total": 4, "success": 3, "failure": 1}
    conflict = await client.post(f"/api/v1/bulk-actions/{bulk_id}/abort", headers=API)
    assert conflict.status_code == 409 and "already completed" in conflict.json()["error"]
    touched = await _runs(client, **{"filter[bulkAction]": bulk_id})
    assert {r["id"] for r in touched} >= set(queued)
    neither = await client.post("/api/v1/bulk-actions", headers=API, json={"action": "cancel"})
    assert (neither.status_code, neither.json()) == (400, {"error": "Exactly one of filter or runIds must be provided"})
    blank = await client.post("/api/v1/bulk-actions", headers=API, json={"action": "cancel", "filter": {"tag": [" "]}})
    assert (blank.status_code, blank.json()) == (400, {"error": "At least one filter must be provided"})
    region = {"action": "cancel", "runIds": queued, "targetRegion": "eu"}
    assert (await client.post("/api/v1/bulk-actions", headers=API, json=region)).status_code == 400


async def test_a_fourth_concurrent_bulk_replay_is_refused(client: httpx.AsyncClient) -> None:
    ids = [r["id"] for r in await _runs(client, **{"filter[status]": "COMPLETED"})][:4]
    for run_id in ids[:3]:
        ok = await client.post("/api/v1/bulk-actions", headers=API, json={"action": "replay", "runIds": [run_id]})
        assert ok.status_code == 202
    refused = await client.post("/api/v1/bulk-actions", headers=API, json={"action": "replay", "runIds": ids[3:]})
    assert refused.status_code == 429 and refused.headers["x-should-retry"] == "false"


async def test_trigger_as_the_sdk_sends_it(client: httpx.AsyncClient) -> None:
    body = {
        "payload": {"to": "ops@example.com"},
        "options": {"tags": ["sdk"], "metadata": {"source": "test"}, "idempotencyKey": "k-1", "ttl": "10m"},
    }
    first = (await client.post("/api/v1/tasks/send-email/trigger", headers=API, json=body)).json()
    assert first["id"].startswith("run_")
    cached = (await client.post("/api/v1/tasks/send-email/trigger", headers=API, json=body)).json()
    assert cached == {"id": first["id"], "isCached": True}
    run = (await client.get(f"/api/v3/runs/{first['id']}", headers=API)).json()
    assert run["payload"] == body["payload"] and run["ttl"] == "10m" and run["tags"] == ["sdk"]
    delayed = await client.post(
        "/api/v1/tasks/send-email/trigger", headers=API, json={"payload": {}, "options": {"delay": "1h"}}
    )
    assert (await client.get(f"/api/v3/runs/{delayed.json()['id']}", headers=API)).json()["status"] == "DELAYED"


# -- additions: events, machine/region filters, bulk cursors, deployment filters, key TTL ------------------------
async def test_run_events_are_the_flattened_spans(client: httpx.AsyncClient) -> None:
    run_id = (await _runs(client, **{"filter[status]": "EXECUTING"}))[0]["id"]
    root = (await client.get(f"/api/v1/runs/{run_id}/trace", headers=API)).json()["trace"]["rootSpan"]
    events = (await client.get(f"/api/v1/runs/{run_id}/events", headers=API)).json()["events"]
    assert events[0]["spanId"] == root["id"] and events[0]["parentId"] is None
    assert all(e["runId"] == run_id and e["kind"] == "UNSPECIFIED" for e in events)
    start_ns = int(events[0]["startTime"])  # nanoseconds since the epoch, as a string
    assert start_ns // 10**6 == int(datetime.fromisoformat(root["data"]["startTime"]).timestamp() * 1000)
    assert (await client.get("/api/v1/runs/run_nope/events", headers=API)).status_code == 404


async def test_machine_and_region_filters(client: httpx.AsyncClient) -> None:
    bad = await client.get("/api/v1/runs", headers=API, params={"filter[machine]": "huge-9x"})
    assert (bad.status_code, bad.json()["error"]) == (400, "Query Error")
    assert await _runs(client, **{"filter[machine]": "large-2x"}) == []
    assert len(await _runs(client, **{"filter[machine]": "small-1x"})) == len(await _runs(client))
    region = (await _runs(client))[0]["region"]
    assert await _runs(client, **{"filter[region]": region})
    assert await _runs(client, **{"filter[region]": "mars-north-1"}) == []


async def test_bulk_list_cursors_both_ways(client: httpx.AsyncClient) -> None:
    ids = [r["id"] for r in await _runs(client, **{"filter[status]": "COMPLETED"})][:3]
    made = []
    for run_id in ids:
        made.append(
            (
                await client.post("/api/v1/bulk-actions", headers=API, json={"action": "cancel", "runIds": [run_id]})
            ).json()["id"]
        )
        await client.post("/_sim/advance", headers=ADMIN, json={"seconds": 1})
    first = (await client.get("/api/v1/bulk-actions", headers=API, params={"page[size]": "2"})).json()
    assert [b["id"] for b in first["data"]] == made[::-1][:2] and "previous" not in first["pagination"]
    second = (
        await client.get("/api/v1/bulk-actions", headers=API, params={"page[after]": first["pagination"]["next"]})
    ).json()
    assert [b["id"] for b in second["data"]] == [made[0]]
    back = (
        await client.get("/api/v1/bulk-actions", headers=API, params={"page[before]": second["pagination"]["previous"]})
    ).json()
    assert [b["id"] for b in back["data"]] == made[::-1][:2]
    assert (await client.get("/api/v1/bulk-actions", headers=API, params={"page[after]": "%%%"})).status_code == 500
    both = {"page[after]": first["pagination"]["next"], "page[before]": first["pagination"]["next"]}
    assert (await client.get("/api/v1/bulk-actions", headers=API, params=both)).status_code == 500


async def test_deployment_list_filters(client: httpx.AsyncClient) -> None:
    every = (await client.get("/api/v1/deployments", headers=API, params={"page[size]": "100"})).json()["data"]
    listed = (await client.get("/api/v1/deployments", headers=API, params={"page[size]": "1"})).json()
    assert len(every) > 1 and len(listed["data"]) == min(5, len(every))  # page size is raised to at least 5
    deployed = (await client.get("/api/v1/deployments", headers=API, params={"status": "DEPLOYED"})).json()["data"]
    assert deployed and all(d["status"] == "DEPLOYED" for d in deployed)
    bad_status = await client.get("/api/v1/deployments", headers=API, params={"status": "NOPE"})
    assert bad_status.status_code == 400
    bad_period = await client.get("/api/v1/deployments", headers=API, params={"period": "soon"})
    assert (bad_period.status_code, bad_period.json()) == (500, {"error": "Internal Server Error"})
    recent = (await client.get("/api/v1/deployments", headers=API, params={"period": "1s"})).json()["data"]
    assert recent == []  # every seeded deployment is older than a second
    current = (await client.get("/api/v1/deployments/current", headers=API)).json()
    assert current["status"] == "DEPLOYED" and current["version"] in {d["version"] for d in deployed}


async def test_an_expired_token_idempotency_key_starts_a_new_token(client: httpx.AsyncClient) -> None:
    body = {"idempotencyKey": "approve-77", "idempotencyKeyTTL": "10s"}
    first = (await client.post("/api/v1/waitpoints/tokens", headers=API, json=body)).json()
    cached = (await client.post("/api/v1/waitpoints/tokens", headers=API, json=body)).json()
    assert cached == {**first, "isCached": True}
    await client.post("/_sim/advance", headers=ADMIN, json={"seconds": 11})
    fresh = (await client.post("/api/v1/waitpoints/tokens", headers=API, json=body)).json()
    assert fresh["id"] != first["id"] and fresh["isCached"] is False
    old = (await client.get(f"/api/v1/waitpoints/tokens/{first['id']}", headers=API)).json()
    assert old["inactiveIdempotencyKey"] == "approve-77" and old["userProvidedIdempotencyKey"] is False
    by_key = await client.get("/api/v1/waitpoints/tokens", headers=API, params={"filter[idempotencyKey]": "approve-77"})
    assert {t["id"] for t in by_key.json()["data"]} == {first["id"], fresh["id"]}


async def test_sdk_style_superjson_payloads_are_parsed(client: httpx.AsyncClient) -> None:
    # What `tasks.trigger("send-email", {...})` sends: a superjson string plus its payloadType.
    body = {
        "payload": json.dumps({"json": {"to": "a@example.com", "n": 2}}),
        "options": {"payloadType": "application/super+json", "test": True},
    }
    run_id = (await client.post("/api/v1/tasks/send-email/trigger", headers=API, json=body)).json()["id"]
    run = (await client.get(f"/api/v3/runs/{run_id}", headers=API)).json()
    assert run["payload"] == {"to": "a@example.com", "n": 2} and run["isTest"] is True
    text = {"payload": "hello", "options": {"payloadType": "text/plain"}}
    text_id = (await client.post("/api/v1/tasks/send-email/trigger", headers=API, json=text)).json()["id"]
    assert (await client.get(f"/api/v3/runs/{text_id}", headers=API)).json()["payload"] == "hello"


async def test_backward_pages_walk_to_the_newest_run_and_forward_again(client: httpx.AsyncClient) -> None:
    params = {"page[size]": "10"}
    pages = [(await client.get("/api/v1/runs", headers=API, params=params)).json()]
    for _ in range(3):
        nxt = pages[-1]["pagination"]["next"]
        pages.append((await client.get("/api/v1/runs", headers=API, params={**params, "page[after]": nxt})).json())
    newest_first = [r["id"] for p in pages for r in p["data"]]
    # Walk back from the fourth page: each backward page is the 10 rows just newer, oldest first.
    cursor = pages[3]["pagination"]["previous"]
    seen: list[str] = []
    while cursor:
        back = (await client.get("/api/v1/runs", headers=API, params={**params, "page[before]": cursor})).json()
        ids = [r["id"] for r in back["data"]]
        stamps = [r["createdAt"] for r in back["data"]]
        assert stamps == sorted(stamps)
        seen = [*reversed(ids), *seen]
        cursor = back["pagination"].get("previous")
        forward = back["pagination"]["next"]
        again = (await client.get("/api/v1/runs", headers=API, params={**params, "page[after]": forward})).json()
        assert again["data"][0]["id"] not in ids  # next points older than this page
    assert seen == newest_first[:30]


async def test_engine_report_numbers_and_verbose_keys(client: httpx.AsyncClient) -> None:
    env_id = (await client.post("/api/v1/auth/jwt/claims", headers=KEY)).json()["sub"]
    path = f"/admin/api/v1/environments/{env_id}/engine/report"
    plain = (await client.get(path, headers=ADMIN)).json()
    assert "key" not in plain["currentConcurrency"] and all("key" in q for q in plain["queues"])
    names = [q["name"] for q in plain["queues"]]
    assert names == sorted(names, key=lambda n: n.removeprefix("task/"))
    listed = {
        q["name"]: q
        for q in (await client.get("/api/v1/queues", headers=API, params={"perPage": "100"})).json()["data"]
    }
    for queue in plain["queues"]:
        item = listed[queue["name"].removeprefix("task/")]
        assert queue["currentDequeued"]["value"] == item["running"]  # §10.3: = QueueItem.running
        assert queue["paused"] == item["paused"]
        if queue["paused"]:
            assert "Queue is paused." in queue["analysis"]["reasons"] and queue["concurrencyLimit"]["value"] == 0
    verbose = (await client.get(path, headers=ADMIN, params={"verbose": "1"})).json()
    assert verbose["currentConcurrency"]["key"].endswith(":currentConcurrency")
    assert all(q["currentDequeued"]["key"].startswith(q["key"]) for q in verbose["queues"])


async def test_token_create_sends_a_scoped_public_token(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/waitpoints/tokens", headers=API, json={})
    token_id = created.json()["id"]
    claims = verify_jwt(created.headers["x-trigger-jwt"], DEFAULT_SECRET_KEY, time.time())
    assert claims is not None and claims["pub"] is True
    assert claims["scopes"] == [f"write:waitpoints:{token_id}"]
    assert claims["sub"] == json.loads(created.headers["x-trigger-jwt-claims"])["sub"]
    assert verify_jwt(created.headers["x-trigger-jwt"], "tr_dev_other", time.time()) is None
    assert verify_jwt(created.headers["x-trigger-jwt"], DEFAULT_SECRET_KEY, time.time() + 90000) is None  # expired
