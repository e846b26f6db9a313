"""Memory soak (issue 12): the installed console in a pty against `sim --queues 1000 --runs 100000`.

Run: `python tests/bench/soak.py` from the repo root (`--minutes 5` for a short run). It switches panes every few
seconds, opens a run now and then, switches the simulator's faults on and off, prints the console's RSS once a
minute and, at the end, whether the final RSS is within 10% of the RSS at the reference minute (default 5).
Exit 0 when it is, 1 when not, 2 when the console or the simulator died. Not a test: it takes half an hour.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "tr_dev_s0aks0aks0aks0aks0ak1234"
ADMIN = "tr_pat_s0aks0aks0aks0aks0aks0aks0aks0aks0aks0ak"
KEYS = ("1", "2", "3", "4")
FAULTS_ON = {"latency_ms": 300.0, "error_rate": 0.2, "malformed_rate": 0.05, "drop_rate": 0.02}
FAULTS_OFF = {"latency_ms": 0.0, "error_rate": 0.0, "malformed_rate": 0.0, "drop_rate": 0.0, "ratelimit_storm": False}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to soak (default 30)")
    parser.add_argument("--reference", type=float, default=5.0, help="the minute the final RSS is compared with")
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--switch-seconds", type=float, default=3.0, help="a pane key this often")
    parser.add_argument("--fault-seconds", type=float, default=60.0, help="faults on, then off, this long each")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS samples this often")
    parser.add_argument("--console", default=None, help="the console command (default: platos-tui next to python)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident set of one process, from /proc (Linux); nan once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def console_command(explicit: str | None) -> list[str]:
    if explicit:
        return explicit.split()
    beside = Path(sys.executable).with_name("platos-tui")
    found = str(beside) if beside.exists() else shutil.which("platos-tui")
    return [found] if found else [sys.executable, "-m", "tui"]


def start_sim(port: int, queues: int, runs: int) -> subprocess.Popen[bytes]:
    """The simulator in a process of its own, so that its memory is not the console's."""
    command = [*console_command(None), "sim", "--port", str(port), "--queues", str(queues), "--runs", str(runs)]
    command += ["--secret-key", SECRET, "--admin-token", ADMIN, "--replica-lag", "5"]
    sim = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return sim
        if sim.poll() is not None:
            break
        time.sleep(0.2)
    sim.kill()
    raise SystemExit("soak: the simulator did not start")


def set_faults(port: int, faults: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_sim/faults",
        data=json.dumps(faults).encode(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


class Console:
    """The console in a pseudo-terminal of 120x40; its output is read (and dropped) so that it never blocks."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the console
            os.execvpe(command[0], command, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.received = 0
        self.tail = b""
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 1.0)
                if ready:
                    data = os.read(self.fd, 65536)
                    if not data:
                        return
                    self.received += len(data)
                    self.tail = (self.tail + data)[-4096:]
            except OSError:
                return

    def press(self, key: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, key.encode())

    def alive(self) -> bool:
        with contextlib.suppress(ChildProcessError):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            return pid == 0
        return False

    def stop(self) -> None:
        self.press("q")
        deadline = time.monotonic() + 5
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def drive(console: Console, port: int, args: argparse.Namespace) -> list[tuple[float, float]]:
    """Keys, faults and RSS samples until the time is up; returns (minute, MB) samples."""
    started = time.monotonic()
    end = started + args.minutes * 60
    next_key = next_fault = next_sample = started
    next_minute = started + 60
    keys = faults_on = 0
    samples: list[tuple[float, float]] = []
    while time.monotonic() < end and console.alive():
        now = time.monotonic()
        if now >= next_key:
            key = KEYS[keys % len(KEYS)]
            console.press(key)
            if key == "2" and keys % 8 == 1:  # now and then open a run, then come back
                time.sleep(1.0)
                console.press("\r")
                time.sleep(1.5)
                console.press("\x1b")
            keys += 1
            next_key = now + args.switch_seconds
        if now >= next_fault:
            faults_on ^= 1
            with contextlib.suppress(OSError):
                set_faults(port, FAULTS_ON if faults_on else FAULTS_OFF)
            next_fault = now + args.fault_seconds
        if now >= next_sample:
            samples.append(((now - started) / 60, rss_mb(console.pid)))
            next_sample = now + args.sample_seconds
        if now >= next_minute:
            minute, mb = samples[-1]
            print(f"minute {minute:5.1f}  RSS {mb:7.1f} MB  faults {'on ' if faults_on else 'off'}", flush=True)
            next_minute += 60
        time.sleep(0.1)
    samples.append(((time.monotonic() - started) / 60, rss_mb(console.pid)))
    return samples


def verdict(samples: list[tuple[float, float]], reference: float) -> tuple[float, float, bool]:
    """RSS at the reference minute (the first sample at or after it), the final RSS, and whether within 10%."""
    at = next((mb for minute, mb in samples if minute >= reference), samples[0][1])
    final = samples[-1][1]
    return at, final, abs(final - at) <= 0.10 * at


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    port = free_port()
    state = tempfile.mkdtemp(prefix="platos-soak-")
    print(f"soak: {args.minutes:g} min against sim --queues {args.queues} --runs {args.runs}", flush=True)
    sim = start_sim(port, args.queues, args.runs)
    env = {
        **os.environ,
        "PLATOS_API_URL": f"http://127.0.0.1:{port}",
        "PLATOS_SECRET_KEY": SECRET,
        "PLATOS_ADMIN_TOKEN": ADMIN,
        "PLATOS_TUI_STATE_DIR": state,
        "PLATOS_TUI_CONFIG": str(Path(state) / "none.toml"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    console = Console(console_command(args.console), env)
    try:
        samples = drive(console, port, args)
        died = not console.alive()
    finally:
        console.stop()
        sim.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            sim.wait(10)
        shutil.rmtree(state, ignore_errors=True)
    if died:
        print("soak: the console died; its last output:", console.tail.decode(errors="replace")[-1500:])
        return 2
    at, final, ok = verdict(samples, min(args.reference, args.minutes / 2))
    print("curve (minute MB): " + ", ".join(f"{m:.1f} {mb:.1f}" for m, mb in samples))
    change = (final - at) / at * 100
    print(
        f"soak: RSS {at:.1f} MB at the reference minute, {final:.1f} MB at the end ({change:+.1f}%): "
        f"{'within' if ok else 'NOT within'} 10%; {console.received / 1e6:.1f} MB of terminal output read"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
