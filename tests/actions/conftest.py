"""Shared fixtures: a private state dir per test, a fake engine, and a runner wired to both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tui.actions.audit import AuditLog
from tui.actions.runner import ActionRunner
from tui.actions.verify import Verifier, VerifyOptions
from tui.config import STATE_DIR_ENV, Settings

from .fakes import FakeEngine, no_sleep, settings


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(path))
    return path


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


RunnerFactory = Callable[..., ActionRunner]


@pytest.fixture
def make_runner(engine: FakeEngine) -> RunnerFactory:
    def build(
        conf: Settings | None = None,
        *,
        client: object | None = None,
        timeout: float = 3.0,
        sleep: Callable[[float], object] = no_sleep,
        **kwargs: object,
    ) -> ActionRunner:
        conf = conf or settings()
        target = client if client is not None else engine
        options = VerifyOptions(interval=1.0, timeout=timeout, repair_interval=1.0, repair_timeout=timeout)
        verifier = Verifier(target, options, sleep=sleep)  # type: ignore[arg-type]
        audit = AuditLog(scrubber=None)
        return ActionRunner(target, conf, audit, verifier=verifier, **kwargs)  # type: ignore[arg-type]

    return build
