"""Shared fixtures: a private state dir per test, a simulated world, and a runner on the real client over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.simclient import Sim, settings, sim
from tui.actions.audit import AuditLog
from tui.actions.runner import ActionRunner
from tui.actions.verify import Verifier, VerifyOptions
from tui.api.client import EngineClient
from tui.config import STATE_DIR_ENV, Settings
from tui.model import Queue, QueueType, Run
from tui.sim import state


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(path))
    return path


@pytest.fixture
def world() -> Sim:
    """A blank simulated environment at START, frozen: only the verifier's sleeps move its clock."""
    return sim()


@pytest.fixture
async def client(world: Sim) -> AsyncIterator[EngineClient]:
    made = world.client()
    yield made
    await made.aclose()


RunnerFactory = Callable[..., ActionRunner]


@pytest.fixture
def make_runner(world: Sim, client: EngineClient) -> RunnerFactory:
    def build(
        conf: Settings | None = None,
        *,
        client: EngineClient = client,
        timeout: float = 3.0,
        sleep: Callable[[float], Awaitable[None]] = world.advance,
        **kwargs: object,
    ) -> ActionRunner:
        """Each verification sleep moves the simulated clock by its interval (1 s) instead of waiting."""
        conf = conf or settings()
        options = VerifyOptions(interval=1.0, timeout=timeout, repair_interval=1.0, repair_timeout=timeout)
        verifier = Verifier(client, options, sleep=sleep)
        return ActionRunner(client, conf, AuditLog(scrubber=None), verifier=verifier, **kwargs)  # type: ignore[arg-type]

    return build


async def run_of(client: EngineClient, run: state.Run) -> Run:
    """The run as the API shows it."""
    return (await client.retrieve_run(run.friendly)).run


async def queue_of(client: EngineClient, queue: state.Queue) -> Queue:
    """The queue as the API shows it."""
    return await client.retrieve_queue(queue.name, QueueType.TASK if queue.type == "task" else QueueType.CUSTOM)
