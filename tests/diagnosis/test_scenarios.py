"""End to end against the simulator: triage names each scenario's cause, diagnose agrees with real numbers."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tui.api.client import EngineClient
from tui.config import Settings
from tui.diagnosis.report import diagnose_command, triage_command

server = pytest.importorskip("tui.sim.server")

SCENARIO_CAUSE = {
    "worker-pool-zero": "worker_pool_empty",
    "queue-paused": "queue_paused",
    "concurrency-cap": "concurrency_at_cap",
    "long-blocker": "long_running_blocker",
    "entity-offline": "entity_backend_unreachable",
    "orphan-waitpoint": "waitpoint_without_resumer",
    "queue-drift": "queue_state_drift",
}


def _options(scenario: str) -> Any:
    return server.SimOptions(scenario=scenario, speed=0, seed=1)


def _keys(options: Any) -> tuple[str, str | None]:
    return options.secret_key, getattr(options, "admin_token", None)


async def _client(scenario: str, *, admin: bool) -> tuple[EngineClient, Settings]:
    options = _options(scenario)
    app = server.create_app(options)
    secret, admin_token = _keys(options)
    client = EngineClient(
        "http://sim",
        secret,
        admin_token=admin_token if admin else None,
        transport=httpx.ASGITransport(app=app),
        budget_per_second=None,
        allow_insecure_http=True,
    )
    settings = Settings(
        profile="sim", url="http://sim", secret_key=secret, admin_token=admin_token if admin else None
    )
    return client, settings


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def sims() -> AsyncIterator[list[EngineClient]]:
    opened: list[EngineClient] = []
    yield opened
    for client in opened:
        await client.aclose()


async def _triage(
    scenario: str, sims: list[EngineClient], *, admin: bool = False
) -> tuple[int, dict[str, Any]]:
    client, settings = await _client(scenario, admin=admin)
    sims.append(client)
    out = io.StringIO()
    code = await triage_command(client, settings, True, out, now=_now())
    return code, json.loads(out.getvalue())


async def _diagnose(
    scenario: str, run_id: str, sims: list[EngineClient], *, admin: bool = False
) -> dict[str, Any]:
    client, settings = await _client(scenario, admin=admin)
    sims.append(client)
    out = io.StringIO()
    code = await diagnose_command(client, settings, run_id, True, out, now=_now())
    data: dict[str, Any] = json.loads(out.getvalue())
    assert code == (0 if data["cause"] == "not_stuck" else 1)
    return data


async def test_healthy_has_no_findings(sims: list[EngineClient]) -> None:
    code, data = await _triage("healthy", sims)
    assert data["findings"] == [], [f["summary"] for f in data["findings"]]
    assert code == 0 and data["runs"] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIO_CAUSE))
async def test_triage_and_diagnose_name_the_scenario_cause(scenario: str, sims: list[EngineClient]) -> None:
    cause = SCENARIO_CAUSE[scenario]
    code, data = await _triage(scenario, sims)
    assert code == 1
    causes = [f["cause"] for f in data["findings"]]
    assert causes[0] == cause, [f["summary"] for f in data["findings"]]
    finding = data["findings"][0]
    assert finding["runs"], finding
    assert re.search(r"\d", finding["summary"])
    diagnosis = await _diagnose(scenario, finding["runs"][0], sims)
    assert diagnosis["cause"] == cause, diagnosis["summary"]
    assert diagnosis["evidence"] and all(isinstance(e, str) for e in diagnosis["evidence"])
    assert any(re.search(r"\d", e) for e in diagnosis["evidence"])
