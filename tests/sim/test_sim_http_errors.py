"""API.md §1.6, §2 and §3 on the simulator: auth failures, error envelopes, rate limiting, status vocabularies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sim_http import ADMIN, API, KEY, open_client
from sim_http import chunks as _chunks
from sim_http import runs as _runs

from tui.sim.server import NON_ADMIN_TOKEN, SimOptions, create_app, start_in_background


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for http in open_client():
        yield http


# -- §1.6 authentication ---------------------------------------------------------------------------------------
async def test_missing_authorization_is_a_problem_json_401(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/runs")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["error"] == "No authorization header provided"
    assert {"title", "status", "type", "detail"} <= set(body)


async def test_unknown_key_and_admin_tokens(client: httpx.AsyncClient) -> None:
    bad = await client.get("/api/v1/queues", headers={"Authorization": "Bearer tr_dev_" + "x" * 24})
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid API key"})
    env_id = (await client.post("/api/v1/auth/jwt/claims", headers=KEY)).json()["sub"]
    path = f"/admin/api/v1/environments/{env_id}/engine/report"
    assert (await client.get(path, headers=KEY)).status_code == 401  # secret keys are not admin credentials
    forbidden = await client.get(path, headers={"Authorization": f"Bearer {NON_ADMIN_TOKEN}"})
    assert (forbidden.status_code, forbidden.json()) == (403, {"error": "You must be an admin to perform this action"})
    assert (await client.get(path, headers=ADMIN)).status_code == 200
    # The admin PAT is no secret key either.
    assert (await client.get("/api/v1/runs", headers=ADMIN)).status_code == 401


async def test_jwt_claims_and_whoami_name_the_environment(client: httpx.AsyncClient) -> None:
    claims = await client.post("/api/v1/auth/jwt/claims", headers=KEY)
    assert claims.status_code == 200
    assert claims.json()["pub"] is True
    who = (await client.get("/api/v1/whoami", headers=KEY)).json()
    assert who["id"] == claims.json()["sub"]
    assert who["maximumConcurrencyLimit"] > 0 and who["concurrencyLimitBurstFactor"] >= 1


# -- §2.1 error envelopes ---------------------------------------------------------------------------------------
async def test_body_routes_reject_empty_and_invalid_bodies(client: httpx.AsyncClient) -> None:
    queue = (await client.get("/api/v1/queues", headers=API)).json()["data"][0]["id"]
    empty = await client.post(f"/api/v1/queues/{queue}/pause", headers=API)
    assert (empty.status_code, empty.json()) == (400, {"error": "Request body is empty"})
    broken = await client.post(f"/api/v1/queues/{queue}/pause", headers=API, content=b"{nope")
    assert (broken.status_code, broken.json()) == (400, {"error": "Invalid JSON"})
    reset = await client.post(f"/api/v1/queues/{queue}/concurrency/reset", headers=API, content=b"")
    assert reset.status_code == 400


async def test_size_capped_routes_need_content_length(client: httpx.AsyncClient) -> None:
    streamed = await client.post("/api/v1/waitpoints/tokens", headers=API, content=_chunks(b"{}"))
    assert (streamed.status_code, streamed.json()) == (413, {"error": "Request body too large"})
    token = (await client.post("/api/v1/waitpoints/tokens", headers=API, json={})).json()["id"]
    huge = await client.post(
        f"/api/v1/waitpoints/tokens/{token}/complete", headers=API, json={"data": "x" * (3 * 1024 * 1024 + 1)}
    )
    assert huge.status_code == 413


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v2/runs/run_x/cancel", headers=API)
    assert answer.status_code == 405
    assert "POST" in answer.headers["allow"]
    assert answer.json() == {"error": "Method not allowed"}


async def test_not_found_envelopes(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v3/runs/run_doesnotexist", headers=API)
    assert (missing.status_code, missing.headers["x-should-retry"]) == (404, "true")
    assert (await client.get("/api/v1/runs/run_doesnotexist/trace", headers=API)).status_code == 404
    assert (await client.post("/api/v2/runs/run_doesnotexist/cancel", headers=API)).status_code == 404
    queue = await client.get("/api/v1/queues/queue_nope", headers=API)
    assert (queue.status_code, queue.json()) == (404, {"error": "queue-not-found"})
    # API.md §7.3: an unknown token retrieve is a 500 (the presenter throws), not a 404.
    token = await client.get("/api/v1/waitpoints/tokens/waitpoint_nope", headers=API)
    assert (token.status_code, token.json()) == (500, {"error": "Internal Server Error"})
    done = await client.post("/api/v1/waitpoints/tokens/waitpoint_nope/complete", headers=API, json={})
    assert (done.status_code, done.json()) == (404, {"error": "Waitpoint not found"})


# -- §2.2 rate limiting --------------------------------------------------------------------------------------
async def test_rate_limit_headers_on_every_api_answer(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC).timestamp() * 1000
    for answer in (
        await client.get("/api/v1/queues", headers=API),
        await client.get("/api/v3/runs/run_missing", headers=API),
        await client.get("/api/v1/runs", headers={"Authorization": "Bearer tr_dev_wrong"}),
    ):
        assert int(answer.headers["x-ratelimit-limit"]) > 0
        assert int(answer.headers["x-ratelimit-remaining"]) >= 0
        assert int(answer.headers["x-ratelimit-reset"]) >= before - 1000  # epoch milliseconds, not seconds
    # Exempt paths (API.md §2.2) and admin paths carry none.
    assert "x-ratelimit-limit" not in (await client.get("/api/v1/deployments/current", headers=API)).headers
    assert "x-ratelimit-limit" not in (await client.post("/api/v1/auth/jwt/claims", headers=KEY)).headers


async def test_a_429_storm_answers_problem_json(client: httpx.AsyncClient) -> None:
    on = await client.post("/_sim/faults", headers=ADMIN, json={"ratelimit_storm": True})
    assert on.status_code == 200
    limited = await client.get("/api/v1/queues", headers=API)
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("application/problem+json")
    body = limited.json()
    assert body["title"] == "Rate Limit Exceeded" and body["status"] == 429 and body["error"] == body["detail"]
    assert {"reset", "limit", "remaining", "secondsUntilReset"} <= set(body)
    assert limited.headers["x-ratelimit-remaining"] == "0"
    await client.post("/_sim/faults", headers=ADMIN, json={"ratelimit_storm": False})
    assert (await client.get("/api/v1/queues", headers=API)).status_code == 200


async def test_the_bucket_empties_after_its_burst(client: httpx.AsyncClient) -> None:
    sim = client.app.state.sim  # type: ignore[attr-defined]
    sim.bucket.tokens = 2.0
    codes = [(await client.get("/api/v1/deployments", headers=API)).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]


# -- §3 status vocabularies ------------------------------------------------------------------------------------
async def test_both_vocabularies_and_the_flag_quirks(client: httpx.AsyncClient) -> None:
    new = await _runs(client, **{"filter[createdAt][period]": "7d"})
    legacy_answer = await client.get("/api/v1/runs", headers=KEY, params={"page[size]": "100"})
    legacy = legacy_answer.json()["data"]
    assert not {r["status"] for r in legacy} & {"DEQUEUED", "WAITING"}
    for status, flag, value in (("EXPIRED", "isCompleted", False), ("TIMED_OUT", "isCompleted", False)):
        rows = await _runs(client, **{"filter[status]": status, "filter[createdAt][period]": "7d"})
        assert all(r[flag] is value and r["isFailed"] is False for r in rows)
    cancelled = await _runs(client, **{"filter[status]": "CANCELED"})
    assert cancelled and all(r["isFailed"] and r["isCompleted"] and r["isCancelled"] for r in cancelled)
    dequeued = await _runs(client, **{"filter[status]": "DEQUEUED"})
    assert dequeued and all(r["isExecuting"] and not r["isQueued"] for r in dequeued)
    waiting = await _runs(client, **{"filter[status]": "WAITING"})
    assert waiting and all(r["isWaiting"] for r in waiting)
    # The same WAITING run reads FROZEN in the legacy vocabulary, and FROZEN is accepted as a filter.
    frozen = await client.get("/api/v1/runs", headers=KEY, params={"filter[status]": "FROZEN", "page[size]": "100"})
    assert {r["id"] for r in frozen.json()["data"]} >= {r["id"] for r in waiting}
    assert all(r["status"] == "FROZEN" for r in frozen.json()["data"])
    assert new


async def test_unknown_status_filter_is_a_query_error(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/runs", headers=API, params={"filter[status]": "QUEUED,RUNNING"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "Query Error"
    assert "RUNNING" in json.dumps(answer.json()["details"])


# -- §10 admin --------------------------------------------------------------------------------------------------
async def test_repair_dry_run_changes_nothing_and_uses_internal_ids(client: httpx.AsyncClient) -> None:
    env_id = (await client.post("/api/v1/auth/jwt/claims", headers=KEY)).json()["sub"]
    path = f"/admin/api/v1/environments/{env_id}/engine/repair-queues"
    first = (await client.post(path, headers=ADMIN, json={})).json()
    assert first["environment"]["dryRun"] is True
    queues = [q["queue"] for q in first["queues"]]
    assert queues == sorted(queues, key=lambda n: n.removeprefix("task/"))
    ids = first["environment"]["runIds"] + [i for q in first["queues"] for i in q["runIds"]]
    assert ids and not any(i.startswith("run_") for i in ids)
    env_ids = set(first["environment"]["runIds"])
    assert not any(set(q["runIds"]) & env_ids for q in first["queues"])
    assert (await client.post(path, headers=ADMIN, json={})).json() == first  # a dry run changes nothing
    assert (await client.get(path, headers=ADMIN)).status_code == 405
    assert (await client.post(path.replace(env_id, "nope"), headers=ADMIN, json={})).status_code == 404


async def test_repair_fails_with_500_when_a_slot_has_no_snapshot(client: httpx.AsyncClient) -> None:
    env_id = (await client.post("/api/v1/auth/jwt/claims", headers=KEY)).json()["sub"]
    path = f"/admin/api/v1/environments/{env_id}/engine/repair-queues"
    client.app.state.engine.env.operational.add("cmnosnapshot000000000000")  # type: ignore[attr-defined]
    answer = await client.post(path, headers=ADMIN, json={"dryRun": True})
    assert (answer.status_code, answer.json()) == (500, {"error": "Internal Server Error"})


def test_a_dropped_connection_fails_the_client_without_logging_a_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    # In --demo the server shares the terminal with the TUI: a traceback on stderr would draw over the screen.
    sim = start_in_background(SimOptions(port=0, scenario="healthy", faults="drop-rate=1"))
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{sim.url}/api/v1/queues", headers=KEY, timeout=5)
    finally:
        sim.stop()
    assert "Traceback" not in capfd.readouterr().err


async def test_a_preview_key_needs_the_branch_header() -> None:
    preview = "tr_preview_pl4tosprev1ewbranchkey1"
    app = create_app(SimOptions(scenario="healthy", speed=0, seed=1, secret_key=preview))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        bare = await http.get("/api/v1/queues", headers={"Authorization": f"Bearer {preview}"})
        assert (bare.status_code, bare.json()) == (401, {"error": "Invalid API key"})
        branch = {"Authorization": f"Bearer {preview}", "x-trigger-branch": "feature-x"}
        assert (await http.get("/api/v1/queues", headers=branch)).status_code == 200
        scoped = app.state.sim.scoped_key
        assert scoped.startswith("tr_preview_sk_")
        refused = await http.get("/api/v1/queues", headers={"Authorization": f"Bearer {scoped}"})
        assert refused.status_code == 401
        branch["Authorization"] = f"Bearer {scoped}"
        assert (await http.get("/api/v1/queues", headers=branch)).status_code == 200


async def test_the_scoped_key_is_refused_on_token_routes_only(client: httpx.AsyncClient) -> None:
    key = client.app.state.sim.scoped_key  # type: ignore[attr-defined]
    scoped = {"Authorization": f"Bearer {key}", "x-trigger-api-version": "2025-07-16"}
    assert scoped["Authorization"].startswith("Bearer tr_dev_sk_") and len(scoped["Authorization"]) == 7 + 10 + 24
    refused = await client.get("/api/v1/waitpoints/tokens", headers=scoped)
    assert (refused.status_code, refused.json()["code"]) == (403, "unauthorized")
    assert (await client.get("/api/v1/runs", headers=scoped)).status_code == 200
    assert (await client.get("/api/v1/queues", headers=scoped)).status_code == 200


async def test_every_answer_carries_the_server_clock_and_a_skew_moves_it() -> None:
    from email.utils import parsedate_to_datetime

    app = create_app(SimOptions(scenario="healthy", speed=0, seed=1, clock_skew=-1200))
    engine = app.state.engine
    assert abs((engine.now - datetime.now(UTC)).total_seconds() + 1200) < 5
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        for answer in (await http.get("/api/v1/queues", headers=KEY), await http.get("/api/v1/queues")):
            stamp = parsedate_to_datetime(answer.headers["date"])
            assert abs((stamp - engine.now).total_seconds()) < 1, answer.status_code
