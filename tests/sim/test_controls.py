"""Simulator controls: /_sim/ routes, fault injection, the control CLI, the background server and the scale flags."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from conftest import ADMIN_HEADERS, V2, Client

from tui.sim import control
from tui.sim.faults import FaultConfig, parse_faults
from tui.sim.server import (
    DEFAULT_ADMIN_TOKEN,
    DEFAULT_SECRET_KEY,
    NON_ADMIN_TOKEN,
    SimOptions,
    create_app,
    serve,
    start_in_background,
)


def test_fault_specs_parse() -> None:
    config = parse_faults("latency=2s, error-rate=0.2,error-status=500,malformed-rate=0.1,drop-rate=0.05,storm=1")
    assert config == FaultConfig(2000.0, 0.2, 500, 0.1, 0.05, True)
    assert parse_faults("latency=250ms").latency_ms == 250
    assert parse_faults("") == FaultConfig()
    for bad in ("latency=soon", "error-rate=lots", "explode=1"):
        with pytest.raises(ValueError, match="bad fault spec"):
            parse_faults(bad)


async def test_sim_state_workers_advance_and_scenario(client: Client) -> None:
    state = (await client.get("/_sim/state", headers=ADMIN_HEADERS)).json()
    assert state["scenario"] == "incident" and state["environmentId"] == client.engine.env.id
    assert (await client.post("/_sim/workers", {"size": -1}, headers=ADMIN_HEADERS)).status_code == 400
    assert (await client.post("/_sim/workers", {"size": 0}, headers=ADMIN_HEADERS)).json() == {"workers": 0}
    before = client.engine.now
    assert (await client.post("/_sim/advance", {"seconds": 60}, headers=ADMIN_HEADERS)).status_code == 200
    assert (client.engine.now - before).total_seconds() == 60
    assert (await client.post("/_sim/advance", {"seconds": "soon"}, headers=ADMIN_HEADERS)).status_code == 400
    assert (await client.post("/_sim/scenario", {"name": "nope"}, headers=ADMIN_HEADERS)).status_code == 400
    switched = (await client.post("/_sim/scenario", {"name": "healthy"}, headers=ADMIN_HEADERS)).json()
    assert switched["scenario"] == "healthy" and client.engine.scenario == "healthy"
    assert client.app.state.sim.engine is client.engine and client.engine.now >= before
    for path in ("/_sim/workers", "/_sim/faults"):
        refused = await client.post(path, {"size": 1}, headers={"Authorization": f"Bearer {NON_ADMIN_TOKEN}"})
        assert refused.status_code == 403
        assert (await client.post(path, {"size": 1}, headers=V2)).status_code == 401


async def test_injected_faults(client: Client) -> None:
    set_faults = "/_sim/faults"
    assert (await client.post(set_faults, {"nope": 1}, headers=ADMIN_HEADERS)).status_code == 400
    await client.post(set_faults, {"error_rate": 1.0, "error_status": 500}, headers=ADMIN_HEADERS)
    assert (await client.get("/api/v1/queues")).status_code == 500
    await client.post(set_faults, {"error_rate": 0.0, "malformed_rate": 1.0}, headers=ADMIN_HEADERS)
    broken = await client.get("/api/v1/queues")
    with pytest.raises(ValueError):
        broken.json()
    await client.post(set_faults, {"malformed_rate": 0.0, "latency_ms": 150}, headers=ADMIN_HEADERS)
    started = time.perf_counter()
    assert (await client.get("/api/v1/queues")).status_code == 200
    assert time.perf_counter() - started >= 0.15
    described = (await client.post(set_faults, {"latency_ms": 0}, headers=ADMIN_HEADERS)).json()
    assert described["latency_ms"] == 0 and described["error_status"] == 500


def test_faults_at_start_and_the_refused_public_bind() -> None:
    app = create_app(SimOptions(speed=0, faults="error-rate=1,error-status=502"))
    assert app.state.sim.faults.config.error_status == 502
    with pytest.raises(ValueError, match="non-loopback"):
        start_in_background(SimOptions(host="0.0.0.0", port=0))
    with pytest.raises(ValueError, match="non-loopback"):
        serve(SimOptions(host="192.0.2.1"))


def test_background_server_and_control_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sim = start_in_background(SimOptions(port=0, scenario="worker-pool-zero", speed=0))
    try:
        assert sim.url.startswith("http://127.0.0.1:") and sim.environment_id
        answer = httpx.get(f"{sim.url}/api/v1/whoami", headers={"Authorization": f"Bearer {sim.secret_key}"})
        assert answer.json()["id"] == sim.environment_id
        monkeypatch.delenv("PLATOS_SIM_TOKEN", raising=False)
        assert control.main(["--url", sim.url, "scale-workers", "4"]) == 2
        monkeypatch.setenv("PLATOS_SIM_TOKEN", NON_ADMIN_TOKEN)
        assert control.main(["--url", sim.url, "scale-workers", "4"]) == 1
        monkeypatch.setenv("PLATOS_SIM_TOKEN", sim.admin_token)
        assert control.main(["--url", sim.url, "scale-workers", "4"]) == 0
        assert '"workers":4' in capsys.readouterr().out.replace(" ", "")
        assert sim.engine.workers == 4
        assert control.main(["--url", "http://127.0.0.1:9", "state"]) == 1
    finally:
        sim.stop()
    assert sim.admin_token not in repr(sim) and sim.secret_key not in repr(sim)


async def test_scale_flags_build_a_large_world_that_answers_every_list() -> None:
    # How fast it starts and answers is bench section 8's to measure (tests/bench/bench_console.py), not a test's.
    app = create_app(SimOptions(queues=1000, runs=100_000, speed=0))
    engine = app.state.engine
    assert len(engine.queues) >= 1000 and len(engine.runs) >= 100_000
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=V2) as http:
        paths = [
            "/api/v1/runs?page[size]=100",
            "/api/v1/runs?filter[status]=QUEUED,EXECUTING&page[size]=100",
            "/api/v1/runs?filter[status]=COMPLETED&page[size]=100",
            "/api/v1/runs?filter[queue]=task/task-00007",
            "/api/v1/queues?perPage=100&page=7",
            "/api/v1/waitpoints/tokens",
        ]
        for path in paths:
            response = await http.get(path)
            assert response.status_code == 200, path
            data = response.json()["data"]
            assert isinstance(data, list) and (data or "tokens" in path), f"{path} listed nothing"


def test_default_credentials_have_the_real_formats() -> None:
    assert re.fullmatch(r"tr_dev_[0-9a-zA-Z]{24}", DEFAULT_SECRET_KEY)
    for token in (DEFAULT_ADMIN_TOKEN, NON_ADMIN_TOKEN):
        assert re.fullmatch(r"tr_pat_[1-9a-km-z]{40}", token)
