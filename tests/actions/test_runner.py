"""ActionRunner on the real client over the simulator: guard rails, exactly-once, outcomes, audit, verification."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.simclient import SECRET, Sim, seed_queue, seed_run, seed_token, settings
from tui.actions.audit import read_entries
from tui.actions.inputs import TOKEN_BODY_LIMIT, RunFilter
from tui.actions.results import Outcome
from tui.actions.runner import BUSY_MESSAGE, READ_ONLY_MESSAGE, ActionRunner
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.model import RunStatus

from .conftest import RunnerFactory, queue_of, run_of


def cancel(run_id: str) -> str:
    return f"/api/v2/runs/{run_id}/cancel"


async def until_in_flight(runner: ActionRunner, action: str, target: str) -> None:
    """Let a started action reach the transport (a few turns of the event loop)."""
    for _ in range(50):
        if runner.is_in_flight(action, target):
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{action} on {target} never went in flight")


async def test_cancel_happy_path_is_sent_once_audited_and_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    notified = []
    result = await make_runner().cancel_run(run, on_sent=notified.append)
    assert result.outcome is Outcome.OK and result.status == 200
    assert world.transport.posts() == [cancel(run.id)]
    assert result.verification is not None and result.verification.verified
    assert "verified: run is CANCELED" in result.summary
    assert len(notified) == 1 and notified[0].verification is None
    (entry,) = read_entries()
    assert entry.action == "cancel_run" and entry.targets == (run.id,) and entry.outcome == "ok"
    assert entry.request == {"method": "POST", "path": cancel(run.id), "body": None}
    assert entry.verification is not None and entry.verification["verified"] is True


async def test_read_only_refusal_sends_nothing_and_is_audited(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    result = await make_runner(client=world.client(read_only=True)).cancel_run(run)
    assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert world.transport.posts() == [] and result.verification is None
    (entry,) = read_entries()
    assert entry.outcome == "refused" and entry.message == READ_ONLY_MESSAGE


async def test_elevation_needs_a_reason_and_is_recorded_in_later_records(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    guard = WriteGuard(read_only=True)
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    runner = make_runner(client=world.client(guard=guard))
    assert runner.elevate(15, "   ").outcome is Outcome.REFUSED
    assert runner.elevate(0, "INC-7").outcome is Outcome.REFUSED
    assert runner.elevate(61, "INC-7").outcome is Outcome.REFUSED
    assert not guard.allows_writes()
    assert runner.elevate(15, f"INC-7 runs stuck {SECRET}").ok
    left = runner.write_seconds_left()
    assert guard.allows_writes() and left is not None and 899 < left <= 900
    result = await runner.cancel_run(run)
    assert result.ok
    entries = read_entries()
    assert entries[-1].reason == "INC-7 runs stuck [REDACTED]"
    assert [e.action for e in entries] == ["elevate", "elevate", "elevate", "elevate", "cancel_run"]
    runner.drop_write()
    assert not guard.allows_writes()


async def test_a_server_error_is_reported_and_audited(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.fail["/cancel"] = 500
    result = await make_runner().cancel_run(run)
    assert result.outcome is Outcome.FAILED and result.status == 500
    assert "500" in result.message and result.verification is None
    (entry,) = read_entries()
    assert entry.outcome == "failed" and entry.status == 500 and entry.verification is None


async def test_a_double_press_sends_one_request(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.gate = asyncio.Event()
    runner = make_runner()
    first = asyncio.create_task(runner.cancel_run(run))
    await until_in_flight(runner, "cancel_run", run.id)
    second = await runner.cancel_run(run)
    assert second.outcome is Outcome.REFUSED and second.message == BUSY_MESSAGE
    world.transport.gate.set()
    assert (await first).ok
    assert world.transport.posts() == [cancel(run.id)]
    assert len(read_entries()) == 1
    assert not runner.is_in_flight("cancel_run", run.id)
    # once finished, the key works again
    assert (await runner.cancel_run(run)).sent


async def test_timeout_after_sending_is_unknown_and_verification_decides(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.timeout["/cancel"] = True  # the server cancels; its answer is lost
    result = await make_runner().cancel_run(run)
    assert result.outcome is Outcome.UNKNOWN and "outcome unknown" in result.message
    assert result.verification is not None and result.verification.verified
    assert world.transport.posts() == [cancel(run.id)]  # not retried
    (entry,) = read_entries()
    assert entry.outcome == "unknown" and entry.verification is not None


async def test_timeout_where_nothing_happened_is_not_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.timeout["/cancel"] = False  # lost on the way: the server never saw it
    result = await make_runner(timeout=3.0).cancel_run(run)
    assert result.outcome is Outcome.UNKNOWN
    assert result.verification is not None and not result.verification.verified
    assert result.verification.message.startswith("NOT verified after 3 s")
    assert result.verification.checks == 4


async def test_cancel_of_a_finished_run_is_not_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn", "COMPLETED"))
    result = await make_runner(timeout=30).cancel_run(run)
    assert result.ok and result.verification is not None
    assert not result.verification.verified and "COMPLETED" in result.verification.seen
    assert result.verification.checks == 1  # it cannot become CANCELED: stop at once


async def test_cancel_marked_runs_sequentially(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    runs = [await run_of(client, seed_run(world.engine, "agent-turn")) for _ in range(3)]
    result = await make_runner().cancel_runs([*runs, runs[0]])
    assert result.ok and result.count == 3 and len(result.children) == 3
    assert world.transport.posts() == [cancel(r.id) for r in runs]
    assert result.verification is not None and result.verification.seen == "3/3 runs CANCELED"
    entries = read_entries()
    assert len(entries) == 3 and all(e.verification and e.verification["verified"] for e in entries)


async def test_cancel_marked_runs_skips_a_run_already_in_flight(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    runs = [await run_of(client, seed_run(world.engine, "agent-turn")) for _ in range(3)]
    runner = make_runner()
    world.transport.gate = asyncio.Event()
    single = asyncio.create_task(runner.cancel_run(runs[0]))
    await until_in_flight(runner, "cancel_run", runs[0].id)
    world.transport.gate.set()  # later requests pass at once; the first is already waiting on the event loop
    result = await runner.cancel_runs(runs)
    await single
    assert result.count == 2 and "1 already in progress" in result.message
    assert sorted(world.transport.posts()) == sorted(cancel(r.id) for r in runs)
    assert len(read_entries()) == 3


async def test_cancel_marked_runs_stops_at_read_only(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    runs = [await run_of(client, seed_run(world.engine, "agent-turn")) for _ in range(3)]
    result = await make_runner(client=world.client(read_only=True)).cancel_runs(runs)
    assert result.outcome is Outcome.REFUSED and world.transport.posts() == []
    assert len(result.children) == 1 and "2 not attempted" in result.message
    assert len(read_entries()) == 1


async def test_cancel_matching_counts_then_bulk_cancels_with_progress(
    world: Sim, make_runner: RunnerFactory
) -> None:
    stuck_runs = [seed_run(world.engine, "agent-turn", "DEQUEUED", minutes=5) for _ in range(3)]
    for i in range(247):
        seed_run(world.engine, "agent-turn", "COMPLETED", minutes=60 + i)
    runner = make_runner(timeout=10)
    everything = RunFilter()
    assert await runner.count_matching(everything) == (250, False)
    refused = await runner.cancel_matching(everything)
    assert refused.outcome is Outcome.REFUSED and world.transport.posts() == []
    stuck = RunFilter(statuses=(RunStatus.DEQUEUED,))
    assert await runner.count_matching(stuck) == (3, False)
    progress = []
    result = await runner.cancel_matching(stuck, on_progress=progress.append)
    assert result.ok and result.created_id is not None and result.created_id.startswith("bulk_")
    assert world.transport.posts() == ["/api/v1/bulk-actions"]
    # the engine works a bulk action off in its next tick: first nothing done, then all three
    assert [p.success for p in progress] == [0, 3]
    assert result.verification is not None and result.verification.verified
    assert "3 cancelled" in result.verification.seen
    assert all(r.status == "CANCELED" for r in stuck_runs)
    entry = read_entries()[-1]
    assert entry.request is not None and entry.request["body"] == {
        "action": "cancel",
        "filter": {"status": ["DEQUEUED"]},
    }


async def test_cancel_matching_by_run_ids_counts_them_and_refuses_more_than_the_api_takes(
    world: Sim, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    shown = RunFilter(statuses=(RunStatus.DEQUEUED,), run_ids=("run_a", "run_b"), words="filter: video")
    assert await runner.count_matching(shown) == (2, False)
    assert shown.describe() == "filter: video"
    too_many = RunFilter(run_ids=tuple(f"run_{i}" for i in range(501)))
    refused = await runner.cancel_matching(too_many)
    assert refused.outcome is Outcome.REFUSED and "at most 500" in refused.message
    assert world.transport.requests == []
    assert read_entries()[-1].outcome == "refused"


async def test_pause_and_resume_are_verified(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    queue = await queue_of(client, seed_queue(world.engine, "agent-turn"))
    runner = make_runner()
    paused = await runner.pause_queue(queue)
    assert paused.ok and paused.verification is not None and paused.verification.verified
    resumed = await runner.resume_queue(await queue_of(client, world.engine.queues["task/agent-turn"]))
    assert resumed.verification is not None and resumed.verification.verified
    assert "no backlog" in resumed.verification.seen


async def test_resume_with_a_backlog_waits_for_runs_to_start(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    stored = seed_queue(world.engine, "agent-turn", limit=1, paused=True)
    for i in range(40):
        seed_run(world.engine, "agent-turn", "QUEUED", minutes=40 - i)
    queue = await queue_of(client, stored)
    assert (queue.queued, queue.running) == (40, 0)
    result = await make_runner(timeout=20).resume_queue(queue)
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == "not paused; queued 40→39, running 0→1"
    assert result.verification.checks > 1  # nothing starts until the engine's next pass


async def test_resume_that_never_flows_is_not_verified(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    stored = seed_queue(world.engine, "agent-turn", paused=True)
    for i in range(40):
        seed_run(world.engine, "agent-turn", "QUEUED", minutes=40 - i)
    world.engine.workers = 0
    result = await make_runner(timeout=5).resume_queue(await queue_of(client, stored))
    assert result.ok and result.verification is not None and not result.verification.verified
    assert result.verification.message == (
        "NOT verified after 5 s: not paused; queued 40→40, running 0→0; no run started yet"
    )


async def test_override_validates_then_is_verified_and_reset_restores(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    stored = seed_queue(world.engine, "agent-turn", limit=10)
    queue = await queue_of(client, stored)
    runner = make_runner()
    for bad in ("0", "-1", "abc", "2.5", 0, "60"):
        result = await runner.override_concurrency(queue, bad, env_limit=50)
        assert result.outcome is Outcome.REFUSED, bad
    assert world.transport.posts() == []
    result = await runner.override_concurrency(queue, " 25 ", env_limit=50)
    assert result.ok and result.verification is not None and result.verification.verified
    assert (await queue_of(client, stored)).concurrency_limit == 25 and stored.limit == 25
    reset = await runner.reset_concurrency(await queue_of(client, stored))
    assert reset.verification is not None and reset.verification.verified
    assert (await queue_of(client, stored)).concurrency_limit == 10 and stored.limit == 10


async def test_complete_token_never_sends_an_invalid_body(world: Sim, make_runner: RunnerFactory) -> None:
    token = seed_token(world.engine)
    runner = make_runner()
    for text in ("", "{", "{'a': 1}", "NaN", '{"a": Infinity}', "[1, 2,]"):
        result = await runner.complete_token(token.friendly, text)
        assert result.outcome is Outcome.REFUSED and result.message.startswith("not sent:"), text
    huge = json.dumps({"blob": "x" * TOKEN_BODY_LIMIT})
    result = await runner.complete_token(token.friendly, huge)
    assert result.outcome is Outcome.REFUSED and "too large" in result.message
    assert world.transport.posts() == []
    assert all(e.outcome == "refused" for e in read_entries())


async def test_complete_token_is_verified_when_the_blocked_run_leaves_waiting(
    world: Sim, make_runner: RunnerFactory
) -> None:
    token = seed_token(world.engine)
    run = seed_run(world.engine, "approve-order", "WAITING", token=token)
    assert run.status == "WAITING_TO_RESUME"
    result = await make_runner().complete_token(token.friendly, '{"approved": true}', blocked_run=run.friendly)
    assert result.ok and world.transport.posts() == [f"/api/v1/waitpoints/tokens/{token.friendly}/complete"]
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == f"token is COMPLETED, run {run.friendly} is DEQUEUED"
    (entry,) = read_entries()
    assert entry.request is not None and entry.request["body"] == {"data": {"approved": True}}


async def test_repair_dry_run_first_then_apply_and_verify(
    world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    video = seed_queue(world.engine, "process-video", limit=4)
    email = seed_queue(world.engine, "shared-email", kind="custom", limit=8)
    for _ in range(2):  # finished runs whose slots a partial outage never gave back
        leaked = seed_run(world.engine, "send-email", "COMPLETED", queue="shared-email", minutes=50)
        email.operational.add(leaked.iid)
        email.dequeued.add(leaked.iid)
    guard = WriteGuard(read_only=True)
    runner = make_runner(client=world.client(guard=guard))
    dry = await runner.repair_queues([await queue_of(client, video), "shared-email"])
    assert dry.ok and dry.report is not None and dry.report.leak_count == 2 and len(email.operational) == 2
    assert dry.targets == ("task/process-video", "shared-email")
    refused = await runner.apply_repair(["shared-email"])
    assert refused.outcome is Outcome.REFUSED and len(email.operational) == 2
    guard.elevate(60, "INC-9 drift")
    applied = await runner.apply_repair(["shared-email"])
    assert applied.ok and applied.count == 2 and len(email.operational) == 0
    assert applied.verification is not None and applied.verification.verified
    assert applied.report is not None and applied.report.leak_count == 0
    actions = [e.action for e in read_entries()]
    assert actions == ["repair_dry_run", "apply_repair", "apply_repair"]


async def test_repair_without_an_admin_token_explains(world: Sim, make_runner: RunnerFactory) -> None:
    result = await make_runner(client=world.client(admin=False)).repair_queues()
    assert result.outcome is Outcome.REFUSED and "admin token" in result.message


async def test_replay_reports_the_new_run(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn", "FAILED"))
    result = await make_runner().replay_run(run)
    assert result.ok and result.created_id is not None and result.created_id != run.id
    assert result.created_id.removeprefix("run_") in world.engine.runs
    assert result.verification is not None and result.verification.verified


async def test_messages_never_carry_the_secret(world: Sim, client: EngineClient, make_runner: RunnerFactory) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    world.transport.fail["/cancel"] = httpx.Response(502, json={"error": f"echo {SECRET}"})
    result = await make_runner(settings(production=True)).cancel_run(run)
    assert SECRET not in result.message and SECRET not in repr(result)
    assert SECRET not in read_entries()[0].message  # type: ignore[operator]


async def test_abort_bulk(world: Sim, make_runner: RunnerFactory) -> None:
    runs = [seed_run(world.engine, "agent-turn") for _ in range(10)]
    bulk = world.engine.create_bulk("CANCEL", [r.iid for r in runs], None)
    result = await make_runner().abort_bulk(bulk.friendly)
    assert result.ok and world.transport.posts() == [f"/api/v1/bulk-actions/{bulk.friendly}/abort"]
    assert bulk.status == "ABORTED"
    assert result.verification is not None and result.verification.verified


async def test_abort_of_a_finished_bulk_fails_with_the_reason(world: Sim, make_runner: RunnerFactory) -> None:
    runs = [seed_run(world.engine, "agent-turn") for _ in range(10)]
    bulk = world.engine.create_bulk("CANCEL", [r.iid for r in runs], None)
    world.engine.advance(10)
    assert bulk.status == "COMPLETED"
    result = await make_runner().abort_bulk(bulk.friendly)
    assert result.outcome is Outcome.FAILED and "already completed" in result.message
    assert result.verification is None
