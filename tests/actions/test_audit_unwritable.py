"""An unwritable state directory: every mutation is refused, naming the path, before anything is sent."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.simclient import Sim, seed_run
from tui.actions.audit import AuditLog, AuditUnavailable, audit_command
from tui.actions.results import Outcome
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.config import STATE_DIR_ENV

from .conftest import RunnerFactory, run_of


@pytest.fixture
def blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory below a regular file: no mkdir can succeed, even as root (where chmod would not bite)."""
    wall = tmp_path / "not-a-dir"
    wall.write_text("")
    path = wall / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(path))
    return path


def test_the_log_says_which_path_it_cannot_write(blocked: Path) -> None:
    with pytest.raises(AuditUnavailable, match=rf"^the audit log {blocked / 'audit.jsonl'} is not writable \("):
        AuditLog().check()


async def test_a_cancel_is_refused_before_anything_is_sent(
    blocked: Path, world: Sim, client: EngineClient, make_runner: RunnerFactory
) -> None:
    run = await run_of(client, seed_run(world.engine, "agent-turn"))
    result = await make_runner().cancel_run(run)
    assert result.outcome is Outcome.REFUSED and result.attempt is None
    assert result.message.startswith(f"nothing sent: the audit log {blocked / 'audit.jsonl'} is not writable")
    assert STATE_DIR_ENV in result.message
    assert world.transport.requests == [("GET", f"/api/v3/runs/{run.id}")]  # only the read that found it


async def test_elevation_is_refused_too(blocked: Path, world: Sim, make_runner: RunnerFactory) -> None:
    guard = WriteGuard(read_only=True)
    runner = make_runner(client=world.client(guard=guard))
    result = runner.elevate(15, "INC-42")
    assert result.outcome is Outcome.REFUSED and str(blocked) in result.message
    assert not guard.allows_writes()


async def test_a_read_only_refusal_still_answers(blocked: Path, make_runner: RunnerFactory) -> None:
    result = make_runner().refuse("cancel_run", ("run_1",), "read-only")
    assert result.outcome is Outcome.REFUSED and result.message.startswith("read-only; the audit log")


async def test_the_ui_can_ask_before_its_confirmation(blocked: Path, make_runner: RunnerFactory) -> None:
    refusal = make_runner().audit_refusal("cancel_run", ("run_1",))
    assert refusal is not None and str(blocked) in refusal.message


async def test_a_writable_directory_is_not_refused(make_runner: RunnerFactory) -> None:
    assert make_runner().audit_refusal("cancel_run", ("run_1",)) is None


def test_the_audit_command_names_an_unreadable_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    path.mkdir()  # a directory where the file should be: reading it fails even as root
    assert audit_command(False, None, io.StringIO(), path=path) == 2
    assert capsys.readouterr().err.strip() == f"platos-tui audit: cannot read {path} (Is a directory)"
