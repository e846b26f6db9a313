"""Every scenario shows its fault over HTTP, and the runbook's recovery makes it flow again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tui.sim import views
from tui.sim.engine import Engine
from tui.sim.scenarios import SCENARIOS
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app

WAIT = timedelta(minutes=10)
API = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}", "x-trigger-api-version": "2025-07-16"}
ADMIN = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}


class Sim:
    """A scenario served in-process with a frozen clock."""

    def __init__(self, scenario: str) -> None:
        self.app = create_app(SimOptions(scenario=scenario, speed=0, seed=1))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.sim.engine
        return engine

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.http.get(path, params=params, headers=API)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any = None, headers: dict[str, str] = API) -> Any:
        response = await self.http.post(path, json=body, headers=headers)
        assert response.status_code in (200, 202), response.text
        return response.json()

    async def queue(self, name: str) -> dict[str, Any]:
        queues = (await self.get("/api/v1/queues", perPage=100))["data"]
        return next(q for q in queues if q["name"] == name)

    async def started(self, name: str, kind: str = "task", period: str = "5m") -> int:
        metrics = await self.get(f"/api/v1/queues/{name}/metrics", type=kind, period=period)
        return int(metrics["startedCount"])

    async def advance(self, seconds: float) -> None:
        await self.post("/_sim/advance", {"seconds": seconds}, headers=ADMIN)


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Sim]:
    simulator = Sim(request.param)
    yield simulator
    await simulator.http.aclose()


def scenario(name: str) -> Any:
    return pytest.mark.parametrize("sim", [name], indirect=True)


@scenario("worker-pool-zero")
async def test_worker_pool_zero_stalls_everything_until_workers_return(sim: Sim) -> None:
    for name, kind in (("agent-turn", "task"), ("shared-email", "custom"), ("llm-calls", "custom")):
        assert (await sim.queue(name))["queued"] > 0
        assert await sim.started(name, kind, "15m") == 0
    depth = (await sim.queue("shared-email"))["queued"]
    await sim.advance(120)
    assert (await sim.queue("shared-email"))["queued"] > depth  # the backlog grows
    await sim.post("/_sim/workers", {"size": 6}, headers=ADMIN)
    await sim.advance(300)
    assert await sim.started("shared-email", "custom") > 0
    assert (await sim.queue("shared-email"))["queued"] < depth


@scenario("queue-paused")
async def test_paused_queue_backs_up_and_flows_after_resume(sim: Sim) -> None:
    queue = await sim.queue("process-video")
    assert queue["paused"] and queue["queued"] > 0 and queue["running"] == 0
    assert await sim.started("process-video", period="15m") == 0
    assert await sim.started("send-email".replace("send-email", "shared-email"), "custom") > 0  # others flow
    resumed = await sim.post("/api/v1/queues/process-video/pause", {"type": "task", "action": "resume"})
    assert resumed["paused"] is False
    await sim.advance(60)
    assert await sim.started("process-video") > 0
    assert (await sim.queue("process-video"))["running"] > 0


@scenario("concurrency-cap")
async def test_queue_at_cap_still_dequeues_slowly(sim: Sim) -> None:
    queue = await sim.queue("agent-turn")
    assert queue["running"] == queue["concurrencyLimit"] == 4
    assert queue["queued"] > 20
    metrics = await sim.get("/api/v1/queues/agent-turn/metrics", period="15m")
    assert metrics["startedCount"] > 0 and metrics["throttledCount"] > 0
    assert metrics["depthTrend"][-1] > metrics["depthTrend"][0]


@scenario("long-blocker")
async def test_long_blockers_hold_every_slot_until_cancelled(sim: Sim) -> None:
    queue = await sim.queue("sync-crm")
    assert queue["running"] == queue["concurrencyLimit"] == 3 and queue["queued"] > 0
    assert await sim.started("sync-crm", period="15m") == 0
    running = await sim.get("/api/v1/runs", **{"filter[status]": "EXECUTING", "filter[queue]": "task/sync-crm"})
    blockers = [r for r in running["data"] if "full-resync" in r["tags"]]
    assert len(blockers) == 3
    for run in blockers:
        await sim.post(f"/api/v2/runs/{run['id']}/cancel")
        assert (await sim.get(f"/api/v3/runs/{run['id']}"))["status"] == "CANCELED"
    await sim.advance(60)
    assert await sim.started("sync-crm") > 0


@scenario("entity-offline")
async def test_calls_to_an_offline_entity_hang_in_open_spans(sim: Sim) -> None:
    runs = await sim.get("/api/v1/runs", **{"filter[status]": "EXECUTING", "filter[queue]": "task/agent-turn"})
    assert len(runs["data"]) == 10
    run_id = runs["data"][-1]["id"]
    trace = (await sim.get(f"/api/v1/runs/{run_id}/trace"))["trace"]
    attempt = trace["rootSpan"]["children"][-1]
    tool = attempt["children"][-1]
    assert tool["data"]["isPartial"] and tool["data"]["message"] == "tool crm.lookup"
    detail = await sim.get(f"/api/v1/runs/{run_id}/spans/{tool['id']}")
    assert {k: detail["properties"][k] for k in ("entity", "tool")} == {"entity": "crm", "tool": "lookup"}
    assert detail["entityType"] == "tool" and "customerId" in detail["properties"]["input"]
    retries = [c["data"] for c in tool["children"]]
    assert retries and all(r["level"] == "WARN" and "timeout" in r["message"] for r in retries)
    sim.engine.entities_down.clear()  # the backend comes back
    for run in runs["data"]:
        await sim.post(f"/api/v2/runs/{run['id']}/cancel")
    cancelled = (await sim.get(f"/api/v1/runs/{run_id}/trace"))["trace"]["rootSpan"]
    assert not cancelled["data"]["isPartial"] and any(
        c["data"]["message"] == "cancelled" for c in cancelled["children"]
    )
    recovered_at = sim.engine.now
    await sim.advance(120)
    assert await sim.started("agent-turn") > 0
    done = [r for r in sim.engine.with_status("COMPLETED_SUCCESSFULLY") if r.task == "agent-turn"]
    assert any(r.completed_at and r.completed_at > recovered_at for r in done), "tool calls answer again"


@scenario("orphan-waitpoint")
async def test_orphan_tokens_block_runs_until_completed(sim: Sim) -> None:
    waiting = (await sim.get("/api/v1/runs", **{"filter[status]": "WAITING", "filter[tag]": "approval"}))["data"]
    assert len(waiting) == 4
    run = waiting[-1]
    trace = (await sim.get(f"/api/v1/runs/{run['id']}/trace"))["trace"]
    wait = trace["rootSpan"]["children"][-1]["children"][-1]
    assert wait["data"]["message"] == "wait.forToken()" and wait["data"]["isPartial"]
    detail = await sim.get(f"/api/v1/runs/{run['id']}/spans/{wait['id']}")
    assert detail["entityType"] == "waitpoint"
    token_id = detail["properties"]["id"]
    token = await sim.get(f"/api/v1/waitpoints/tokens/{token_id}")
    assert token["status"] == "WAITING" and "timeoutAt" not in token
    assert await sim.post(f"/api/v1/waitpoints/tokens/{token_id}/complete", {"data": {"approved": True}}) == {
        "success": True
    }
    assert (await sim.get(f"/api/v3/runs/{run['id']}"))["status"] == "WAITING"  # until a worker pulls it
    await sim.advance(30)
    assert (await sim.get(f"/api/v3/runs/{run['id']}"))["status"] == "COMPLETED"
    completed = await sim.get(f"/api/v1/waitpoints/tokens/{token_id}")
    assert completed["status"] == "COMPLETED" and completed["output"] == '{"approved":true}'


@scenario("queue-drift")
async def test_drift_is_reported_by_the_dry_run_and_fixed_by_repair(sim: Sim) -> None:
    queue = await sim.queue("process-video")
    assert queue["running"] == queue["concurrencyLimit"] == 4 and queue["queued"] > 0
    executing = await sim.get(
        "/api/v1/runs", **{"filter[status]": "DEQUEUED,EXECUTING", "filter[queue]": "task/process-video"}
    )
    assert executing["data"] == []  # nobody really holds those slots
    path = f"/admin/api/v1/environments/{sim.engine.env.id}/engine/repair-queues"
    dry = await sim.post(path, {"dryRun": True, "queues": ["task/process-video"]}, headers=ADMIN)
    leaks = dry["queues"][0]["repairs"]
    assert dry["queues"][0]["queue"] == "task/process-video" and len(leaks) == 4
    assert {r["action"] for r in leaks} == {"repairSnapshot"} and {r["snapshotStatus"] for r in leaks} == {"FINISHED"}
    assert not any(i.startswith("run_") for i in dry["queues"][0]["runIds"])
    assert (await sim.queue("process-video"))["running"] == 4  # a dry run changes nothing
    await sim.post(path, {"dryRun": False}, headers=ADMIN)
    again = await sim.post(path, {}, headers=ADMIN)
    assert again["queues"][1]["repairs"] == [] and again["environment"]["dryRun"] is True
    await sim.advance(60)
    assert await sim.started("process-video") > 0


@scenario("healthy")
async def test_healthy_flows_everywhere(sim: Sim) -> None:
    for name, kind in (("agent-turn", "task"), ("shared-email", "custom"), ("process-video", "task")):
        assert await sim.started(name, kind, "15m") > 0
        queue = await sim.queue(name)
        assert not queue["paused"] and queue["queued"] < 5


@scenario("incident")
async def test_incident_shows_several_faults_and_each_recovery_works(sim: Sim) -> None:
    hung = await sim.get("/api/v1/runs", **{"filter[status]": "EXECUTING", "filter[queue]": "task/agent-turn"})
    assert hung["data"]
    for run in hung["data"]:
        open_spans = [s for s in sim.engine.runs[run["id"][4:]].span_index.values() if s.end is None]
        assert any(s.properties.get("entity") == "crm" for s in open_spans), run["id"]
    paused = await sim.queue("process-video")
    assert paused["paused"] and paused["queued"] > 0 and await sim.started("process-video", period="15m") == 0
    approvals = (await sim.get("/api/v1/runs", **{"filter[status]": "WAITING", "filter[tag]": "approval"}))["data"]
    assert len(approvals) == 3
    email = await sim.queue("shared-email")
    assert email["running"] == email["concurrencyLimit"] == 8
    assert sim.engine.with_status("DEQUEUED", "EXECUTING") and not [
        r for r in sim.engine.with_status("DEQUEUED", "EXECUTING") if r.queue == "shared-email"
    ]
    stuck = (await sim.get("/api/v1/runs", **{"filter[status]": "DEQUEUED", "filter[tag]": "stuck"}))["data"]
    assert len(stuck) == 2 and all(sim.engine.now - sim.engine.runs[r["id"][4:]].locked_at > WAIT for r in stuck)

    await sim.post("/api/v1/queues/process-video/pause", {"type": "task", "action": "resume"})
    for run in approvals:
        span = (await sim.get(f"/api/v1/runs/{run['id']}/trace"))["trace"]["rootSpan"]["children"][-1]["children"][-1]
        token = (await sim.get(f"/api/v1/runs/{run['id']}/spans/{span['id']}"))["properties"]["id"]
        await sim.post(f"/api/v1/waitpoints/tokens/{token}/complete", {"data": {"approved": True}})
    path = f"/admin/api/v1/environments/{sim.engine.env.id}/engine/repair-queues"
    dry = await sim.post(path, {"dryRun": True, "queues": ["shared-email"]}, headers=ADMIN)
    assert [r["action"] for r in dry["queues"][0]["repairs"]] == ["repairSnapshot"] * 8
    await sim.post(path, {"dryRun": False, "queues": ["shared-email"]}, headers=ADMIN)
    for run in stuck:
        await sim.post(f"/api/v2/runs/{run['id']}/cancel")
    sim.engine.entities_down.clear()  # the crm backend is reachable again
    await sim.advance(300)
    for name, kind in (("process-video", "task"), ("shared-email", "custom"), ("llm-calls", "custom")):
        assert await sim.started(name, kind) > 0, name
    for run in approvals:
        assert (await sim.get(f"/api/v3/runs/{run['id']}"))["status"] == "COMPLETED"
    assert not [
        r for r in sim.engine.with_status("DEQUEUED") if sim.engine.now - (r.locked_at or sim.engine.now) > WAIT
    ]


ALL_API_STATUSES = set(views.STATUS_V2.values())


MISSING = {
    # With no workers nothing can be pulled or run.
    "worker-pool-zero": {"DEQUEUED", "EXECUTING"},
    # Every run pulled locks to the live version, whose image never starts.
    "bad-deploy": {"EXECUTING", "WAITING"},
    # The parents hold every environment slot: nothing is pulled, and no approval runs to suspend.
    "env-deadlock": {"DEQUEUED", "WAITING"},
    # Approvals suspend for 90 s at a time; with one task queue capped at a hung run, none happens to be waiting.
    "worker-crashed": {"WAITING"},
    "schedule-pileup": {"WAITING"},
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_is_big_and_varied_enough(name: str) -> None:
    engine = create_app(SimOptions(scenario=name, speed=0)).state.sim.engine
    assert len(engine.queues) >= 6 and {q.type for q in engine.queues.values()} == {"task", "custom"}
    assert len(engine.runs) >= 200 and len(engine.tokens) >= 3
    day_old = [r for r in engine.runs.values() if (engine.now - r.created_at).total_seconds() > 20 * 3600]
    assert day_old, "a 24 h history of finished runs"
    statuses = {views.STATUS_V2[r.status] for r in engine.runs.values()}
    missing = MISSING.get(name, set())
    assert statuses == ALL_API_STATUSES - missing
    before = len(engine.runs)
    engine.advance(60)
    assert len(engine.runs) > before, "new runs keep arriving"
