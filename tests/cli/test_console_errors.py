"""The console (no subcommand) never prints a traceback: an internal error exits 2 with one line on stderr.

Each case runs the real `platos-tui` entry point in a pseudo-terminal, with a failure injected into the app.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

DEV_KEY = "tr_dev_cli0000000000000000000"
INJECT = {
    "start-up": "PlatosApp._start = lambda self, settings: (_ for _ in ()).throw(RuntimeError('injected at start-up'))",
    "key": "PlatosApp.action_help = lambda self: (_ for _ in ()).throw(KeyError('injected in a key handler'))",
}
CHILD = """
import sys
from tui.app import PlatosApp
{inject}
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[=>])")
LEAVE_ALT_SCREEN = "\x1b[?1049l"


def console(tmp_path: Path, inject: str, *argv: str, keys: str = "", debug: bool = False) -> tuple[int, str]:
    """Run the console in a 100x30 pty; press `keys` once it has drawn; return (exit code, what stays on screen).

    Textual draws on stderr, so stderr is the terminal too, as it is for an operator. What the operator is left
    with is what was written after the console left the alternate screen, without escape sequences.
    """
    env = {
        **os.environ,
        "PLATOS_API_URL": "http://127.0.0.1:9",
        "PLATOS_SECRET_KEY": DEV_KEY,
        "PLATOS_TUI_CONFIG": str(tmp_path / "none.toml"),
        "PLATOS_TUI_STATE_DIR": str(tmp_path / "state"),
        "TERM": "xterm-256color",
    }
    env.pop("PLATOS_TUI_DEBUG", None)
    if debug:
        env["PLATOS_TUI_DEBUG"] = "1"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(inject=INJECT[inject]), *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    drawn = threading.Event()
    output: list[bytes] = []

    def drain() -> None:  # the console must never block on a full terminal
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            output.append(data)
            drawn.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if keys:
        drawn.wait(20)
        time.sleep(1.0)
        os.write(master, keys.encode())
    try:
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    reader.join(5)
    os.close(master)
    text = b"".join(output).decode(errors="replace")
    left = text[text.rfind(LEAVE_ALT_SCREEN) + len(LEAVE_ALT_SCREEN) :] if LEAVE_ALT_SCREEN in text else text
    visible = ESCAPES.sub("", left).replace("\x07", "")  # a bell is heard, not seen
    return child.returncode, visible.replace("\r\n", "\n").lstrip("\n")


@pytest.mark.parametrize(("inject", "keys"), [("start-up", ""), ("key", "?")])
def test_an_internal_error_in_the_console_is_one_line_and_exit_2(tmp_path: Path, inject: str, keys: str) -> None:
    code, err = console(tmp_path, inject, keys=keys)
    assert code == 2, err
    assert err.startswith("platos-tui: error: internal error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err and "PLATOS_TUI_DEBUG=1" in err
    assert "injected" in err


def test_with_debug_the_traceback_is_shown_and_the_exit_is_still_2(tmp_path: Path) -> None:
    code, err = console(tmp_path, "start-up", debug=True)
    assert code == 2
    assert "injected at start-up" in err and err.rstrip().endswith("RuntimeError: injected at start-up")


def test_a_broken_config_at_start_up_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PLATOS_TUI_CONFIG": str(tmp_path / "config.toml")}
    env.pop("PLATOS_API_URL", None)
    (tmp_path / "config.toml").write_text("default_profile = [unclosed\n")
    (tmp_path / "config.toml").chmod(0o600)  # no warning about its mode: only the error is left
    done = subprocess.run(
        [sys.executable, "-m", "tui"], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2
    assert done.stderr.startswith("platos-tui: error: ") and done.stderr.count("\n") == 1
    assert "invalid TOML" in done.stderr and "Traceback" not in done.stderr
