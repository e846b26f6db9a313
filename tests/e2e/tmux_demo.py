"""Start `platos-tui` in a tmux terminal of its own, with a clean home, for the end-to-end tests."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.test_demo_tmux import Terminal, _command


@contextmanager
def console(
    tmp_path: Path, *args: str, size: tuple[int, int] = (140, 45), env: dict[str, str] | None = None
) -> Iterator[Terminal]:
    """`platos-tui ARGS` in a fresh tmux server; the state directory is `tmp_path / "state"`."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    command = _command()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(env or {}) | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PLATOS_TUI_STATE_DIR": str(tmp_path / "state"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    term = Terminal(f"platos-e2e-{os.getpid()}-{time.monotonic_ns()}")
    width, height = size
    term.tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", str(width), "-y", str(height),
        f"env -i {shell} {shlex.join([*command, *args])}; sleep 30",
    )
    try:
        yield term
    finally:
        term.tmux("kill-server")


def command(terminal: Terminal, text: str) -> None:
    """Type a `:` command; the command line opens asynchronously, so wait for it before typing."""
    terminal.keys(":")
    time.sleep(0.5)
    terminal.keys(text, "Enter")


def wait_for_match(terminal: Terminal, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = terminal.screen()
        found = re.search(pattern, screen)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never saw /{pattern}/; the terminal showed:\n{screen}")
