"""ActionRunner against an in-memory engine: guard rails, exactly-once, outcomes, audit, verification."""

from __future__ import annotations

import asyncio
import json

from tui.actions.audit import read_entries
from tui.actions.inputs import TOKEN_BODY_LIMIT, RunFilter
from tui.actions.results import Outcome
from tui.actions.runner import BUSY_MESSAGE, READ_ONLY_MESSAGE
from tui.api.errors import ServerError, Timeout
from tui.api.guard import WriteGuard
from tui.model import BulkAction, BulkActionStatus, BulkActionType, RunStatus, TokenStatus

from .conftest import RunnerFactory
from .fakes import NOW, SECRET, FakeEngine, make_queue, make_run, settings


async def test_cancel_happy_path_is_sent_once_audited_and_verified(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    engine.runs["run_1"] = make_run()
    notified = []
    result = await make_runner().cancel_run(engine.runs["run_1"], on_sent=notified.append)
    assert result.outcome is Outcome.OK and result.status == 200
    assert engine.requests == [("cancel_run", "run_1")]
    assert result.verification is not None and result.verification.verified
    assert "verified: run is CANCELED" in result.summary
    assert len(notified) == 1 and notified[0].verification is None
    (entry,) = read_entries()
    assert entry.action == "cancel_run" and entry.targets == ("run_1",) and entry.outcome == "ok"
    assert entry.request == {"method": "POST", "path": "/api/v2/runs/run_1/cancel", "body": None}
    assert entry.verification is not None and entry.verification["verified"] is True


async def test_read_only_refusal_sends_nothing_and_is_audited(make_runner: RunnerFactory) -> None:
    engine = FakeEngine(guard=WriteGuard(read_only=True))
    engine.runs["run_1"] = make_run()
    result = await make_runner(client=engine).cancel_run(engine.runs["run_1"])
    assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert engine.requests == [] and result.verification is None
    (entry,) = read_entries()
    assert entry.outcome == "refused" and entry.message == READ_ONLY_MESSAGE


async def test_elevation_needs_a_reason_and_is_recorded_in_later_records(make_runner: RunnerFactory) -> None:
    guard = WriteGuard(read_only=True)
    engine = FakeEngine(guard=guard)
    engine.runs["run_1"] = make_run()
    runner = make_runner(client=engine)
    assert runner.elevate(15, "   ").outcome is Outcome.REFUSED
    assert runner.elevate(0, "INC-7").outcome is Outcome.REFUSED
    assert runner.elevate(61, "INC-7").outcome is Outcome.REFUSED
    assert not guard.allows_writes()
    assert runner.elevate(15, f"INC-7 runs stuck {SECRET}").ok
    left = runner.write_seconds_left()
    assert guard.allows_writes() and left is not None and 899 < left <= 900
    result = await runner.cancel_run(engine.runs["run_1"])
    assert result.ok
    entries = read_entries()
    assert entries[-1].reason == "INC-7 runs stuck [REDACTED]"
    assert [e.action for e in entries] == ["elevate", "elevate", "elevate", "elevate", "cancel_run"]
    runner.drop_write()
    assert not guard.allows_writes()


async def test_a_server_error_is_reported_and_audited(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run()
    engine.fail["cancel_run"] = ServerError("server error 500: Internal Server Error", status=500)
    result = await make_runner().cancel_run(engine.runs["run_1"])
    assert result.outcome is Outcome.FAILED and result.status == 500
    assert "500" in result.message and result.verification is None
    (entry,) = read_entries()
    assert entry.outcome == "failed" and entry.status == 500 and entry.verification is None


async def test_a_double_press_sends_one_request(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run()
    engine.gate = asyncio.Event()
    runner = make_runner()
    first = asyncio.create_task(runner.cancel_run(engine.runs["run_1"]))
    await asyncio.sleep(0)
    assert runner.is_in_flight("cancel_run", "run_1")
    second = await runner.cancel_run(engine.runs["run_1"])
    assert second.outcome is Outcome.REFUSED and second.message == BUSY_MESSAGE
    engine.gate.set()
    assert (await first).ok
    assert engine.requests == [("cancel_run", "run_1")]
    assert len(read_entries()) == 1
    assert not runner.is_in_flight("cancel_run", "run_1")
    # once finished, the key works again
    assert (await runner.cancel_run(engine.runs["run_1"])).sent


async def test_timeout_after_sending_is_unknown_and_verification_decides(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    engine.runs["run_1"] = make_run()
    engine.fail["cancel_run"] = Timeout("no answer within 10 s")
    engine.apply_anyway = True
    result = await make_runner().cancel_run(engine.runs["run_1"])
    assert result.outcome is Outcome.UNKNOWN and "outcome unknown" in result.message
    assert result.verification is not None and result.verification.verified
    assert engine.requests == [("cancel_run", "run_1")]  # not retried
    (entry,) = read_entries()
    assert entry.outcome == "unknown" and entry.verification is not None


async def test_timeout_where_nothing_happened_is_not_verified(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run()
    engine.fail["cancel_run"] = Timeout("no answer")
    result = await make_runner(timeout=3.0).cancel_run(engine.runs["run_1"])
    assert result.outcome is Outcome.UNKNOWN
    assert result.verification is not None and not result.verification.verified
    assert result.verification.message.startswith("NOT verified after 3 s")
    assert result.verification.checks == 4


async def test_cancel_of_a_finished_run_is_not_verified(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run(status=RunStatus.COMPLETED)
    result = await make_runner(timeout=30).cancel_run(engine.runs["run_1"])
    assert result.ok and result.verification is not None
    assert not result.verification.verified and "COMPLETED" in result.verification.seen
    assert result.verification.checks == 1  # it cannot become CANCELED: stop at once


async def test_cancel_marked_runs_sequentially(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    runs = [make_run(f"run_{i}") for i in range(3)]
    engine.runs.update({r.id: r for r in runs})
    result = await make_runner().cancel_runs([*runs, runs[0]])
    assert result.ok and result.count == 3 and len(result.children) == 3
    assert engine.requests == [("cancel_run", r.id) for r in runs]
    assert result.verification is not None and result.verification.seen == "3/3 runs CANCELED"
    entries = read_entries()
    assert len(entries) == 3 and all(e.verification and e.verification["verified"] for e in entries)


async def test_cancel_marked_runs_skips_a_run_already_in_flight(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    runs = [make_run(f"run_{i}") for i in range(3)]
    engine.runs.update({r.id: r for r in runs})
    runner = make_runner()
    engine.gate = asyncio.Event()
    single = asyncio.create_task(runner.cancel_run(runs[0]))
    await asyncio.sleep(0)
    engine.gate.set()  # later requests pass at once; the first is already waiting on the event loop
    result = await runner.cancel_runs(runs)
    await single
    assert result.count == 2 and "1 already in progress" in result.message
    assert sorted(engine.requests) == [("cancel_run", r.id) for r in runs]
    assert len(read_entries()) == 3


async def test_cancel_marked_runs_stops_at_read_only(make_runner: RunnerFactory) -> None:
    engine = FakeEngine(guard=WriteGuard(read_only=True))
    runs = [make_run(f"run_{i}") for i in range(3)]
    engine.runs.update({r.id: r for r in runs})
    result = await make_runner(client=engine).cancel_runs(runs)
    assert result.outcome is Outcome.REFUSED and engine.requests == []
    assert len(result.children) == 1 and "2 not attempted" in result.message
    assert len(read_entries()) == 1


async def test_cancel_matching_counts_then_bulk_cancels_with_progress(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    for i in range(250):
        engine.runs[f"run_{i}"] = make_run(f"run_{i}", status=RunStatus.DEQUEUED if i < 3 else RunStatus.COMPLETED)
    runner = make_runner(timeout=10)
    everything = RunFilter()
    assert await runner.count_matching(everything) == (250, False)
    refused = await runner.cancel_matching(everything)
    assert refused.outcome is Outcome.REFUSED and engine.requests == []
    stuck = RunFilter(statuses=(RunStatus.DEQUEUED,))
    assert await runner.count_matching(stuck) == (3, False)
    progress = []
    result = await runner.cancel_matching(stuck, on_progress=progress.append)
    assert result.ok and result.created_id == "bulk_1"
    assert engine.requests == [("create_bulk_action", "cancel")]
    assert [p.success for p in progress] == [1, 2, 3]
    assert result.verification is not None and result.verification.verified
    assert "3 cancelled" in result.verification.seen
    entry = read_entries()[-1]
    assert entry.request is not None and entry.request["body"] == {
        "action": "cancel",
        "filter": {"status": ["DEQUEUED"]},
    }


async def test_cancel_matching_by_run_ids_counts_them_and_refuses_more_than_the_api_takes(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    runner = make_runner()
    shown = RunFilter(statuses=(RunStatus.DEQUEUED,), run_ids=("run_a", "run_b"), words="filter: video")
    assert await runner.count_matching(shown) == (2, False)
    assert shown.describe() == "filter: video"
    too_many = RunFilter(run_ids=tuple(f"run_{i}" for i in range(501)))
    refused = await runner.cancel_matching(too_many)
    assert refused.outcome is Outcome.REFUSED and "at most 500" in refused.message
    assert engine.requests == []
    assert read_entries()[-1].outcome == "refused"


async def test_pause_and_resume_are_verified(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    queue = make_queue(queued=0)
    engine.queues[queue.name] = queue
    runner = make_runner()
    paused = await runner.pause_queue(queue)
    assert paused.ok and paused.verification is not None and paused.verification.verified
    resumed = await runner.resume_queue(engine.queues[queue.name])
    assert resumed.verification is not None and resumed.verification.verified
    assert "no backlog" in resumed.verification.seen


async def test_resume_with_a_backlog_waits_for_runs_to_start(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    queue = make_queue(queued=40, paused=True)
    engine.queues[queue.name] = queue

    async def tick(_: float) -> None:
        engine.started += 1 if engine.reads > 6 else 0

    result = await make_runner(sleep=tick, timeout=20).resume_queue(queue)
    assert result.verification is not None and result.verification.verified
    assert "started 0→1" in result.verification.seen
    assert result.verification.checks > 1


async def test_resume_that_never_flows_is_not_verified(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    queue = make_queue(queued=40, paused=True)
    engine.queues[queue.name] = queue
    result = await make_runner(timeout=5).resume_queue(queue)
    assert result.ok and result.verification is not None and not result.verification.verified
    assert result.verification.message == (
        "NOT verified after 5 s: not paused; queued 40→40, running 0→0; no run started yet"
    )


async def test_override_validates_then_is_verified_and_reset_restores(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    queue = make_queue(concurrency_limit=10)
    engine.queues[queue.name] = queue
    runner = make_runner()
    for bad in ("0", "-1", "abc", "2.5", 0, "60"):
        result = await runner.override_concurrency(queue, bad, env_limit=50)
        assert result.outcome is Outcome.REFUSED, bad
    assert engine.requests == []
    result = await runner.override_concurrency(queue, " 25 ", env_limit=50)
    assert result.ok and result.verification is not None and result.verification.verified
    assert engine.queues[queue.name].concurrency_limit == 25
    reset = await runner.reset_concurrency(engine.queues[queue.name])
    assert reset.verification is not None and reset.verification.verified
    assert engine.queues[queue.name].concurrency_limit == 10


async def test_complete_token_never_sends_an_invalid_body(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.tokens["waitpoint_1"] = TokenStatus.WAITING
    runner = make_runner()
    for text in ("", "{", "{'a': 1}", "NaN", '{"a": Infinity}', "[1, 2,]"):
        result = await runner.complete_token("waitpoint_1", text)
        assert result.outcome is Outcome.REFUSED and result.message.startswith("not sent:"), text
    huge = json.dumps({"blob": "x" * TOKEN_BODY_LIMIT})
    result = await runner.complete_token("waitpoint_1", huge)
    assert result.outcome is Outcome.REFUSED and "too large" in result.message
    assert engine.requests == []
    assert all(e.outcome == "refused" for e in read_entries())


async def test_complete_token_is_verified_when_the_blocked_run_leaves_waiting(
    engine: FakeEngine, make_runner: RunnerFactory
) -> None:
    engine.tokens["waitpoint_1"] = TokenStatus.WAITING
    engine.runs["run_w"] = make_run("run_w", status=RunStatus.WAITING)
    engine.token_waiters["waitpoint_1"] = "run_w"
    result = await make_runner().complete_token("waitpoint_1", '{"approved": true}', blocked_run="run_w")
    assert result.ok and engine.requests == [("complete_token", "waitpoint_1")]
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == "token is COMPLETED, run run_w is DEQUEUED"
    (entry,) = read_entries()
    assert entry.request is not None and entry.request["body"] == {"data": {"approved": True}}


async def test_repair_dry_run_first_then_apply_and_verify(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.leaks = 2
    engine.guard = WriteGuard(read_only=True)
    runner = make_runner()
    dry = await runner.repair_queues([make_queue("process-video"), "shared-email"])
    assert dry.ok and dry.report is not None and dry.report.leak_count == 2 and engine.leaks == 2
    assert dry.targets == ("task/process-video", "shared-email")
    refused = await runner.apply_repair(["shared-email"])
    assert refused.outcome is Outcome.REFUSED and engine.leaks == 2
    engine.guard.elevate(60, "INC-9 drift")
    applied = await runner.apply_repair(["shared-email"])
    assert applied.ok and applied.count == 2 and engine.leaks == 0
    assert applied.verification is not None and applied.verification.verified
    assert applied.report is not None and applied.report.leak_count == 0
    actions = [e.action for e in read_entries()]
    assert actions == ["repair_dry_run", "apply_repair", "apply_repair"]


async def test_repair_without_an_admin_token_explains(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.admin = False
    result = await make_runner().repair_queues()
    assert result.outcome is Outcome.REFUSED and "admin token" in result.message


async def test_replay_reports_the_new_run(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run(status=RunStatus.FAILED)
    result = await make_runner().replay_run(engine.runs["run_1"])
    assert result.ok and result.created_id == "run_1_replay"
    assert result.verification is not None and result.verification.verified


async def test_messages_never_carry_the_secret(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.runs["run_1"] = make_run()
    engine.fail["cancel_run"] = ServerError(f"echo {SECRET}", status=502)
    result = await make_runner(settings(production=True)).cancel_run(engine.runs["run_1"])
    assert SECRET not in result.message and SECRET not in repr(result)
    assert SECRET not in read_entries()[0].message  # type: ignore[operator]


async def test_abort_bulk(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.bulk["bulk_9"] = BulkAction("bulk_9", BulkActionType.CANCEL, BulkActionStatus.PENDING, 10, 1, 0, NOW)
    result = await make_runner().abort_bulk("bulk_9")
    assert result.ok and engine.requests == [("abort_bulk_action", "bulk_9")]
    assert engine.bulk["bulk_9"].status is BulkActionStatus.ABORTED
    assert result.verification is not None and result.verification.verified


async def test_abort_of_a_finished_bulk_fails_with_the_reason(engine: FakeEngine, make_runner: RunnerFactory) -> None:
    engine.bulk["bulk_9"] = BulkAction("bulk_9", BulkActionType.CANCEL, BulkActionStatus.COMPLETED, 10, 10, 0, NOW)
    result = await make_runner().abort_bulk("bulk_9")
    assert result.outcome is Outcome.FAILED and "already completed" in result.message
    assert result.verification is None
