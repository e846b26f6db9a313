"""The runner through the real EngineClient and an HTTP transport that counts requests."""

from __future__ import annotations

import asyncio

import httpx

from tui.actions.audit import AuditLog, read_entries
from tui.actions.results import Outcome
from tui.actions.runner import BUSY_MESSAGE, READ_ONLY_MESSAGE, ActionRunner
from tui.actions.verify import Verifier, VerifyOptions
from tui.api.guard import WriteGuard
from tui.config import Settings

from .fakes import make_queue, make_run, no_sleep
from .http_fake import ADMIN, SECRET, HttpEngine


def _runner(engine: HttpEngine, guard: WriteGuard) -> ActionRunner:
    client = engine.client(guard)
    conf = Settings(profile="dev", url="https://engine.example.test", secret_key=SECRET, admin_token=ADMIN)
    verifier = Verifier(client, VerifyOptions(interval=1, timeout=3), sleep=no_sleep)
    return ActionRunner(client, conf, AuditLog(), verifier=verifier)  # guard found on the client


async def test_read_only_sends_no_request_at_all() -> None:
    engine = HttpEngine()
    runner = _runner(engine, WriteGuard(read_only=True))
    for result in (
        await runner.cancel_run(make_run("run_1")),
        await runner.pause_queue(make_queue("agent-turn")),
        await runner.complete_token("waitpoint_1", "{}"),
        await runner.replay_run(make_run("run_1")),
        await runner.override_concurrency(make_queue("agent-turn"), 3),
    ):
        assert result.outcome is Outcome.REFUSED and result.message == READ_ONLY_MESSAGE
    assert engine.requests == []
    assert [e.outcome for e in read_entries()] == ["refused"] * 5


async def test_elevated_cancel_goes_over_http_and_is_verified() -> None:
    engine = HttpEngine()
    guard = WriteGuard(read_only=True)
    runner = _runner(engine, guard)
    assert runner.elevate(15, "INC-1").ok
    result = await runner.cancel_run(make_run("run_1"))
    assert result.ok and result.verification is not None and result.verification.verified
    assert engine.mutations == ["POST /api/v2/runs/run_1/cancel"]
    assert read_entries()[-1].reason == "INC-1"


async def test_server_error_during_the_action_is_reported_and_not_retried() -> None:
    engine = HttpEngine()
    engine.failures.append(httpx.Response(500, json={"error": "Internal Server Error"}))
    runner = _runner(engine, WriteGuard(read_only=False))
    result = await runner.cancel_run(make_run("run_1"))
    assert result.outcome is Outcome.FAILED and result.status == 500
    assert engine.mutations == ["POST /api/v2/runs/run_1/cancel"]
    (entry,) = read_entries()
    assert entry.outcome == "failed" and entry.status == 500


async def test_double_press_over_http_sends_one_request() -> None:
    engine = HttpEngine()
    engine.gate = asyncio.Event()
    runner = _runner(engine, WriteGuard(read_only=False))
    first = asyncio.create_task(runner.pause_queue(make_queue("agent-turn")))
    for _ in range(20):
        await asyncio.sleep(0)
    second = await runner.pause_queue(make_queue("agent-turn"))
    assert second.message == BUSY_MESSAGE
    engine.gate.set()
    assert (await first).ok
    assert engine.mutations == ["POST /api/v1/queues/agent-turn/pause"]


async def test_timeout_after_sending_is_unknown_then_verified() -> None:
    engine = HttpEngine()
    engine.failures.append(httpx.ReadTimeout("slow"))
    runner = _runner(engine, WriteGuard(read_only=False))
    result = await runner.cancel_run(make_run("run_1"))
    assert result.outcome is Outcome.UNKNOWN
    assert result.verification is not None and result.verification.verified
    assert engine.mutations == ["POST /api/v2/runs/run_1/cancel"]
