"""The installed `platos-tui --demo` in a real terminal (tmux): switch panes with keys and read the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _command() -> list[str]:
    override = os.environ.get("PLATOS_TUI_E2E_COMMAND")  # e.g. "python -m tui" from a checkout
    if override:
        return shlex.split(override)
    installed = Path(sys.executable).with_name("platos-tui")
    if installed.exists():
        return [str(installed)]
    found = shutil.which("platos-tui")
    if found:
        return [found]
    pytest.skip("platos-tui is not installed (pip install -e .)")


class Terminal:
    """A tmux server on its own socket, so the test never touches the operator's sessions."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "e2e", *keys)

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {texts!r}; the terminal showed:\n{screen}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    command = _command()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    term = Terminal(f"platos-e2e-{os.getpid()}")
    term.tmux(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        f"env -i {shell} {shlex.join([*command, '--demo'])}; sleep 30",
    )
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_demo_switches_panes_by_keys(terminal: Terminal) -> None:
    screen = terminal.wait_for("DEMO", "Health", "Queued")
    assert "CONNECTED" in screen
    terminal.keys("2")
    terminal.wait_for("In status", "statuses: active")
    terminal.keys("3")
    terminal.wait_for("Token", "status: WAITING")
    terminal.keys("4")
    terminal.wait_for("4 Triage", "findings")
    terminal.keys(":")
    time.sleep(0.5)  # the command line opens asynchronously; keys sent before it has focus would go elsewhere
    terminal.keys("runs", "Enter")
    terminal.wait_for("In status")
    terminal.keys("?")
    terminal.wait_for("Keys and commands")
    terminal.keys("Escape")  # alone: an ESC followed at once by a key reads as alt+key
    deadline = time.monotonic() + 10
    while "Keys and commands" in terminal.screen() and time.monotonic() < deadline:
        time.sleep(0.2)  # the pane shows around the dialog, so wait for the dialog itself to go
    terminal.wait_for("In status")
    terminal.keys("1")
    terminal.wait_for("Health", "sort: health")
    terminal.keys("P")
    terminal.wait_for("POLLING PAUSED")
    terminal.keys("P")
    deadline = time.monotonic() + 10
    while "POLLING PAUSED" in terminal.screen() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "POLLING PAUSED" not in terminal.screen()
    assert "\x1b" not in terminal.screen()
    terminal.keys("q")
    deadline = time.monotonic() + 10
    while "DEMO" in terminal.screen() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "DEMO" not in terminal.screen(), "q did not quit"
