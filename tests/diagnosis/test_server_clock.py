"""Ages follow the server's clock: a bastion whose clock is 20 minutes off sees the same (healthy) environment."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tui.api.client import EngineClient
from tui.config import Settings
from tui.diagnosis.report import triage_command

server = pytest.importorskip("tui.sim.server")


@pytest.fixture
async def skewed() -> AsyncIterator[EngineClient]:
    # The server's clock is 20 minutes behind this machine's (or this machine is 20 minutes fast).
    app = server.create_app(server.SimOptions(scenario="healthy", speed=0, seed=1, clock_skew=-1200))
    client = EngineClient(
        "http://127.0.0.1", server.DEFAULT_SECRET_KEY, transport=httpx.ASGITransport(app=app), budget_per_second=None
    )
    yield client
    await client.aclose()


SETTINGS = Settings(profile="sim", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY)


async def test_a_healthy_environment_stays_healthy_behind_a_skewed_clock(skewed: EngineClient) -> None:
    out = io.StringIO()
    assert await triage_command(skewed, SETTINGS, True, out) == 0
    data = json.loads(out.getvalue())
    assert data["findings"] == []
    assert -1202 < data["serverClockSkewSeconds"] < -1198


async def test_judged_by_this_machine_s_clock_it_would_not_be(skewed: EngineClient) -> None:
    # The same environment judged by the local clock: the skew alone turns it into findings.
    out = io.StringIO()
    assert await triage_command(skewed, SETTINGS, True, out, now=datetime.now(UTC)) == 1
    assert json.loads(out.getvalue())["findings"]


async def test_the_text_report_says_the_server_clock_is_off(skewed: EngineClient) -> None:
    out = io.StringIO()
    await triage_command(skewed, SETTINGS, False, out)
    assert out.getvalue().splitlines()[0] == "server clock −20 m (ages follow the server)"
