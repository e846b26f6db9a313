"""The runner through the real EngineClient to the simulator, with a transport that counts every request."""

from __future__ import annotations

import asyncio

from tests.simclient import Sim, seed_queue, seed_run
from tui.actions.audit import read_entries
from tui.actions.results import Outcome
from tui.actions.runner import BUSY_MESSAGE, READ_ONLY_MESSAGE
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard

from .conftest import RunnerFactory, queue_of, run_of


async def test_read_only_sends_no_request_at_all(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    queue = await queue_of(client, seed_queue(world.engine, "agent-turn"))
    world.transport.forget()
    runner = make_runner(client=world.client(guard=WriteGuard(read_only=True)))
    for result in (
        await runner.cancel_run(run),
        await runner.pause_queue(queue),
        await runner.complete_token("waitpoint_1", "{}"),
        await runner.replay_run(run),
        await runner.override_concurrency(queue, 3),
    ):
        assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert world.transport.requests == []
    assert [e.outcome for e in read_entries()] == ["refused"] * 5


async def test_elevated_cancel_goes_over_http_and_is_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    runner = make_runner(client=world.client(guard=WriteGuard(read_only=True)))
    assert runner.elevate(15, "INC-1").ok
    result = await runner.cancel_run(run)
    assert result.ok and result.verification is not None and result.verification.verified
    assert world.transport.posts() == [f"/api/v2/runs/{run.id}/cancel"]
    assert read_entries()[-1].reason == "INC-1"


async def test_server_error_during_the_action_is_reported_and_not_retried(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.fail["/cancel"] = 500
    result = await make_runner().cancel_run(run)
    assert result.outcome is Outcome.FAILED and result.status == 500
    assert world.transport.posts() == [f"/api/v2/runs/{run.id}/cancel"]
    (entry,) = read_entries()
    assert entry.outcome == "failed" and entry.status == 500


async def test_double_press_over_http_sends_one_request(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    queue = await queue_of(client, seed_queue(world.engine, "agent-turn"))
    world.transport.gate = asyncio.Event()
    runner = make_runner()
    first = asyncio.create_task(runner.pause_queue(queue))
    for _ in range(20):
        await asyncio.sleep(0)
    second = await runner.pause_queue(queue)
    assert second.message == BUSY_MESSAGE
    world.transport.gate.set()
    assert (await first).ok
    assert world.transport.posts() == ["/api/v1/queues/agent-turn/pause"]


async def test_timeout_after_sending_is_unknown_then_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.timeout["/cancel"] = True
    result = await make_runner().cancel_run(run)
    assert result.outcome is Outcome.UNKNOWN
    assert result.verification is not None and result.verification.verified
    assert world.transport.posts() == [f"/api/v2/runs/{run.id}/cancel"]
