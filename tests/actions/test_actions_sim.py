"""Every action end to end against the simulator's matching scenario, verified (virtual clock, speed 0)."""

from __future__ import annotations

from typing import Any

import httpx

from tui.actions.audit import AuditLog, read_entries
from tui.actions.runner import ActionRunner
from tui.actions.verify import Verifier, VerifyOptions
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import RunStatus, TokenStatus
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app


def _setup(scenario: str) -> tuple[ActionRunner, EngineClient, Any]:
    app = create_app(SimOptions(scenario=scenario, speed=0, seed=1))
    engine = app.state.sim.engine
    client = EngineClient(
        "http://127.0.0.1",
        DEFAULT_SECRET_KEY,
        admin_token=DEFAULT_ADMIN_TOKEN,
        transport=httpx.ASGITransport(app=app),
        budget_per_second=None,
        guard=WriteGuard(read_only=False),
    )

    async def advance(seconds: float) -> None:
        engine.advance(seconds)

    conf = Settings(
        profile="sim", url="http://127.0.0.1", secret_key=DEFAULT_SECRET_KEY, admin_token=DEFAULT_ADMIN_TOKEN
    )
    verifier = Verifier(client, VerifyOptions(interval=5, timeout=300, repair_interval=5, repair_timeout=300), advance)
    return ActionRunner(client, conf, AuditLog(), verifier=verifier), client, engine


async def test_cancel_a_stuck_run() -> None:
    runner, client, _ = _setup("incident")
    page = await client.list_runs(statuses=[RunStatus.DEQUEUED])
    result = await runner.cancel_run(page.items[0])
    assert result.ok and result.verification is not None and result.verification.verified, result.summary
    assert read_entries()[-1].verification is not None


async def test_resume_a_paused_queue() -> None:
    runner, client, _ = _setup("queue-paused")
    queue = next(q for q in await client.list_queues() if q.paused)
    result = await runner.resume_queue(queue)
    assert result.ok and result.verification is not None and result.verification.verified, result.summary


async def test_complete_an_orphan_token() -> None:
    runner, client, _ = _setup("orphan-waitpoint")
    token = (await client.list_tokens(statuses=[TokenStatus.WAITING])).items[0]
    result = await runner.complete_token(token.id, '{"approved": true}')
    assert result.ok and result.verification is not None and result.verification.verified, result.summary


async def test_repair_a_drifted_queue() -> None:
    runner, _, _ = _setup("queue-drift")
    dry = await runner.repair_queues()
    assert dry.ok and dry.report is not None and dry.report.leak_count > 0, dry.summary
    applied = await runner.apply_repair()
    assert applied.verification is not None and applied.verification.verified, applied.summary
    assert applied.report is not None and applied.report.leak_count == 0


async def test_scale_workers_plugin_resumes_dequeue() -> None:
    import sys

    from tui.config import Plugin
    from tui.sim.server import start_in_background

    sim = start_in_background(SimOptions(port=0, scenario="worker-pool-zero", speed=0, seed=1))
    try:
        client = EngineClient(
            sim.url,
            sim.secret_key,
            admin_token=sim.admin_token,
            budget_per_second=None,
            guard=WriteGuard(read_only=False),
        )
        conf = Settings(profile="sim", url=sim.url, secret_key=sim.secret_key, admin_token=sim.admin_token)

        async def advance(seconds: float) -> None:
            async with httpx.AsyncClient() as http:
                await http.post(
                    f"{sim.url}/_sim/advance",
                    json={"seconds": seconds},
                    headers={"Authorization": f"Bearer {sim.admin_token}"},
                )

        verifier = Verifier(client, VerifyOptions(interval=5, timeout=120), advance)
        runner = ActionRunner(
            client, conf, AuditLog(), verifier=verifier, plugin_env={"PLATOS_SIM_TOKEN": sim.admin_token or ""}
        )
        plugin = Plugin("scale-workers", f"{sys.executable} -m tui.sim.control --url {sim.url} scale-workers {{n}}")
        result = await runner.run_plugin(plugin, {"n": "4"})
        assert result.ok, result.summary
        assert result.verification is not None and result.verification.verified, result.summary
        assert sim.admin_token not in read_entries()[-1].message  # type: ignore[operator]
    finally:
        sim.stop()
