"""Real-server 500s the diagnosis meets: a token a span names but the server cannot find, a repair it cannot compute."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.config import Thresholds
from tui.diagnosis.gather import gather_environment_facts, gather_run_facts

server = pytest.importorskip("tui.sim.server")


class Counting(httpx.AsyncBaseTransport):
    """The simulator over ASGI, counting requests by path."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def sim() -> AsyncIterator[tuple[object, Counting, EngineClient]]:
    app = server.create_app(server.SimOptions(scenario="orphan-waitpoint", speed=0, seed=1))
    transport = Counting(app)
    client = EngineClient(
        "http://127.0.0.1",
        server.DEFAULT_SECRET_KEY,
        admin_token=server.DEFAULT_ADMIN_TOKEN,
        transport=transport,
        budget_per_second=None,
        guard=WriteGuard(read_only=False),
    )
    yield app, transport, client
    await client.aclose()


async def test_a_token_the_server_cannot_find_is_asked_for_once(sim: tuple[object, Counting, EngineClient]) -> None:
    app, transport, client = sim
    engine = app.state.engine  # type: ignore[attr-defined]
    run = next(r for r in engine.runs.values() if r.token is not None)
    del engine.tokens[run.token]  # the span still names it; the server now answers 500 for it
    facts = await gather_run_facts(client, run.friendly, Thresholds(), engine.now)
    asked = [n for path, n in transport.paths.items() if path.endswith(run.token)]
    assert asked == [1], transport.paths
    assert facts.trace is not None and facts.trace.tokens == ()


async def test_a_repair_the_engine_cannot_compute_is_one_clear_note(sim: tuple[object, Counting, EngineClient]) -> None:
    app, transport, client = sim
    engine = app.state.engine  # type: ignore[attr-defined]
    engine.env.operational.add("cmnosnapshot000000000000")  # a slot held by a run with no snapshot
    facts = await gather_environment_facts(client, Thresholds(), engine.now)
    assert facts.repair is None
    assert "admin repair dry run failed: the engine could not compute a repair: 500" in facts.notes
    assert sum(n for path, n in transport.paths.items() if path.endswith("/repair-queues")) == 1
