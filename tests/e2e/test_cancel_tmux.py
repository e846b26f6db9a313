"""In a real terminal: select a stuck run in `platos-tui --demo`, press c, confirm, and read "verified"."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_demo_tmux import Terminal, _command

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    command = _command()
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "state"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PLATOS_TUI_STATE_DIR": str(state),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    term = Terminal(f"platos-e2e-cancel-{os.getpid()}")
    term.tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "140", "-y", "45",
        f"env -i {shell} {shlex.join([*command, '--demo'])}; sleep 30",
    )
    try:
        yield term, state
    finally:
        term.tmux("kill-server")


def test_cancel_a_stuck_run_with_keys_and_see_it_verified(demo: tuple[Terminal, Path]) -> None:
    terminal, state = demo
    terminal.wait_for("DEMO", "Health", "Queued")
    terminal.keys("2")
    terminal.wait_for("In status", "STUCK")
    terminal.keys("c")
    screen = terminal.wait_for("Cancel run", "Press y to confirm")
    assert "EXECUTING" in screen or "DEQUEUED" in screen
    terminal.keys("y")
    terminal.wait_for("verified", timeout=30)
    lines = (state / "audit.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r.get("action") == "cancel_run" for r in records)
