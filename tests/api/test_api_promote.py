"""promote_deployment against the simulator over real HTTP (API.md §9), plus the guard and a lost answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from api_support import FakeServer

from tui.api.client import EngineClient
from tui.api.errors import BadRequest, Forbidden, NotFound, OutcomeUnknown, ReadOnly
from tui.api.guard import WriteGuard
from tui.model import Promotion
from tui.sim.server import RunningSim, SimOptions, start_in_background

OLDER = "Cannot promote a deployment that is older than the current deployment."


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    running = start_in_background(SimOptions(port=0, scenario="healthy", speed=0, seed=1))
    yield running
    running.stop()


def client_for(sim: RunningSim, *, key: str | None = None, read_only: bool = False) -> EngineClient:
    return EngineClient(sim.url, key or sim.secret_key, budget_per_second=None, guard=WriteGuard(read_only=read_only))


async def test_a_rollback_answers_the_promoted_deployment_and_current_follows(sim: RunningSim) -> None:
    previous = sim.engine.deployments[-2]
    async with client_for(sim) as client:
        promoted = await client.promote_deployment(previous.version, allow_rollbacks=True)
        assert promoted == Promotion(previous.id, previous.version, previous.short_code)
        current = await client.current_deployment()
    assert current is not None and current.version == previous.version


async def test_an_older_version_without_allow_rollbacks_is_a_bad_request(sim: RunningSim) -> None:
    before = sim.engine.version
    async with client_for(sim) as client:
        with pytest.raises(BadRequest, match=re.escape(OLDER)):
            await client.promote_deployment(sim.engine.deployments[-2].version, allow_rollbacks=False)
    assert sim.engine.version == before


async def test_promoting_the_current_version_again_is_a_bad_request(sim: RunningSim) -> None:
    async with client_for(sim) as client:
        with pytest.raises(BadRequest, match=re.escape("Deployment is already the current deployment.")):
            await client.promote_deployment(sim.engine.version, allow_rollbacks=True)


async def test_an_undeployed_version_is_a_bad_request(sim: RunningSim) -> None:
    failed = sim.engine.deployments[-2]
    failed.status = "FAILED"
    async with client_for(sim) as client:
        with pytest.raises(BadRequest, match="must be in the DEPLOYED state"):
            await client.promote_deployment(failed.version, allow_rollbacks=True)


async def test_an_unknown_version_is_not_found(sim: RunningSim) -> None:
    async with client_for(sim) as client:
        with pytest.raises(NotFound, match="Deployment not found"):
            await client.promote_deployment("20200101.1", allow_rollbacks=True)


async def test_a_key_without_write_deployments_is_forbidden(sim: RunningSim) -> None:
    before = sim.engine.version
    async with client_for(sim, key=sim.scoped_key) as client:
        with pytest.raises(Forbidden):
            await client.promote_deployment(sim.engine.deployments[-2].version, allow_rollbacks=True)
    assert sim.engine.version == before


async def test_read_only_refuses_before_any_request(sim: RunningSim) -> None:
    before = sim.engine.version
    async with client_for(sim, read_only=True) as client:
        with pytest.raises(ReadOnly, match="rolling back a deployment"):
            await client.promote_deployment(sim.engine.deployments[-2].version, allow_rollbacks=True)
        assert client.stats().requests_per_second == 0
    assert sim.engine.version == before


async def test_a_lost_answer_is_sent_once_and_never_retried(
    make_client: Callable[..., EngineClient], server: FakeServer
) -> None:
    client = make_client()
    server.then(httpx.ReadTimeout("read"), httpx.Response(200, json={"id": "d", "version": "1", "shortCode": "s"}))
    with pytest.raises(OutcomeUnknown, match="the outcome is unknown"):
        await client.promote_deployment("20261203.2", allow_rollbacks=True)
    [sent] = server.requests
    assert sent.method == "POST" and sent.url.path == "/api/v1/deployments/20261203.2/promote"
    assert sent.url.params["allowRollbacks"] == "true" and sent.content == b""


async def test_without_allow_rollbacks_no_query_is_sent(
    make_client: Callable[..., EngineClient], server: FakeServer
) -> None:
    client = make_client()
    server.then(httpx.Response(200, json={"id": "d", "version": "20261203.2"}))
    promoted = await client.promote_deployment("20261203.2", allow_rollbacks=False)
    assert promoted == Promotion("d", "20261203.2", "")
    assert "allowRollbacks" not in server.requests[0].url.params
