"""In a real terminal: the top bar is on every screen and tells the truth about freshness; help is this console's."""

from __future__ import annotations

import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_demo_tmux import Terminal
from tests.e2e.tmux_demo import console

pytestmark = pytest.mark.e2e

SECRET = "tr_dev_pl4tosdem0simu1at0rkey12"


class Sim:
    """The simulator as its own process, so the test can kill it and start it again on the same port: the port it
    picked itself the first time (picking one here and letting it go before the child binds it would race)."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "tui", "sim", "--port", str(self.port), "--scenario", "healthy"]
        # Unbuffered: each readline takes only its line off the pipe, so select() still sees what is left.
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        assert self.process.stdout is not None
        deadline = time.monotonic() + 20
        while not self.port and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            line = self.process.stdout.readline() if ready else b""
            if not line:
                break
            if found := re.search(rb"url: +http://127\.0\.0\.1:(\d+)", line):
                self.port = int(found[1])
        assert self.port, "the simulator did not say its port"
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("the simulator did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def sim() -> Iterator[Sim]:
    running = Sim()
    running.start()
    try:
        yield running
    finally:
        running.kill()


def top(terminal: Terminal) -> str:
    return terminal.screen().splitlines()[0]


def test_no_stale_under_a_modal_then_stale_within_10_s_of_the_server_dying(sim: Sim, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{sim.port}"
    with console(tmp_path, "--url", url, env={"PLATOS_SECRET_KEY": SECRET}) as terminal:
        terminal.wait_for("CONNECTED", "Health", "updated")
        terminal.keys("?")
        terminal.wait_for("Keys and commands")
        for _ in range(16):  # 8 s under the help screen: four refresh intervals of 2 s
            time.sleep(0.5)
            assert "STALE" not in top(terminal), terminal.screen()
            assert "CONNECTED" in top(terminal), terminal.screen()
        sim.kill()
        died = time.monotonic()
        deadline = died + 10
        while time.monotonic() < deadline and not ("STALE" in top(terminal) or "DISCONNECTED" in top(terminal)):
            time.sleep(0.2)
        line = top(terminal)
        assert "STALE" in line or "DISCONNECTED" in line, terminal.screen()
        assert "Keys and commands" in terminal.screen()  # said on the dialog's own top bar
        terminal.keys("Escape")
        terminal.wait_for("STALE", timeout=10)
        sim.start()
        back = time.monotonic()
        deadline = back + 10
        while time.monotonic() < deadline and not fresh(top(terminal)):
            time.sleep(0.1)
        took = time.monotonic() - back
        assert fresh(top(terminal)), terminal.screen()
        # Two refresh intervals (4 s), plus a second for a loaded machine.
        assert took <= 2 * 2 + 1, f"fresh again only after {took:.1f} s"


def fresh(line: str) -> bool:
    """CONNECTED with data read in the last few seconds."""
    if "STALE" in line or "CONNECTED" not in line or "DISCONNECTED" in line:
        return False
    return any(f"updated {ago} s ago" in line for ago in range(3))


def test_the_top_bar_is_on_run_detail_and_diagnosis(tmp_path: Path) -> None:
    with console(tmp_path, "--demo") as terminal:
        terminal.wait_for("DEMO", "Health")
        terminal.keys("2")
        terminal.wait_for("In status", "STUCK")
        terminal.keys("Enter")
        terminal.wait_for("Trace", "Payload")
        line = top(terminal)
        assert "demo" in line and "CONNECTED" in line and "WRITE" in line, terminal.screen()
        terminal.keys("d")
        terminal.wait_for("Diagnosis of run")
        line = top(terminal)
        assert "demo" in line and "CONNECTED" in line and "WRITE" in line, terminal.screen()


def test_help_lists_this_consoles_keys_without_textual_internals(tmp_path: Path) -> None:
    with console(tmp_path, "--demo") as terminal:
        terminal.wait_for("DEMO", "Health")
        terminal.keys("?")
        screen = terminal.wait_for("Keys and commands", "Where")
        for internal in ("super+c", "shift+tab", "^c", "Copy selected text", "Focus Next"):
            assert internal not in screen, internal
        assert "queues pane" in screen and "queues pa…" not in screen
