"""The CLI against a bad server: each bad answer over real loopback HTTP ends `platos-tui triage` with exit 2 and one
line (never a traceback, never exit 1, which means findings), in bounded time and memory.

The server is the console test's proxy in front of the simulator (tests/app/test_hostile_console.py), run on a
thread of its own because `main` runs its own event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_hostile_console import (
    DEEP,
    QUEUES,
    Bad,
    Proxy,
    endless,
    fixed,
    negative_queued,
    over_the_cap,
    slowloris,
)
from tui.cli import main
from tui.sim.server import DEFAULT_SECRET_KEY, SimOptions, create_app

PROFILE = """default_profile = "hostile"
[profiles.hostile]
url = "http://127.0.0.1:{port}"
secret_key_env = "HOSTILE_SECRET_KEY"
read_timeout = 0.5
connect_timeout = 1
max_response_mb = 1
budget_per_second = 100
"""


class Served:
    """The proxy and its simulator, served from a thread with its own event loop."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.options = {"scenario": "healthy", "speed": 1, "seed": 1, **options}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.ready.wait(20)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        sim_app = create_app(SimOptions(**self.options))
        self.proxy = Proxy(httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim"))
        listener = self.loop.run_until_complete(asyncio.start_server(self.proxy.connection, "127.0.0.1", 0))
        self.port = listener.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        listener.close()
        self.loop.run_until_complete(self.proxy.stop())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(**options: Any) -> Served:
        served = Served(**options)
        started.append(served)
        config = tmp_path / "config.toml"
        config.write_text(PROFILE.format(port=served.port))
        config.chmod(0o600)
        monkeypatch.setenv("PLATOS_TUI_CONFIG", str(config))
        monkeypatch.setenv("HOSTILE_SECRET_KEY", DEFAULT_SECRET_KEY)
        for name in ("PLATOS_API_URL", "PLATOS_SECRET_KEY", "PLATOS_PROFILE", "PLATOS_TUI_DEBUG"):
            monkeypatch.delenv(name, raising=False)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        (endless, f"response from {QUEUES} exceeded 1 MB"),
        (slowloris, "no complete answer in 0.5 s"),
        (over_the_cap, f"response from {QUEUES} exceeded 1 MB"),
        (fixed(DEEP), "200: response is nested too deeply"),
        (
            fixed(b'{"data": []}', headers={"x-ratelimit-remaining": "inf", "x-ratelimit-limit": "750"}),
            "header x-ratelimit-remaining",
        ),
        (
            fixed(b'{"error": "maintenance"}', "503 Service Unavailable", {"retry-after": "3600"}),
            "server 503: maintenance (retry in 3600 s)",
        ),
    ],
    ids=["endless", "slowloris", "over-the-cap", "deep-json", "non-finite-header", "distant-retry-after"],
)
def test_a_bad_answer_is_exit_2_and_one_line(
    serve: Callable[..., Served], capsys: pytest.CaptureFixture[str], bad: Callable[[Proxy], Bad], line: str
) -> None:
    served = serve()
    served.proxy.bad[QUEUES] = bad(served.proxy)
    started = time.monotonic()
    tracemalloc.start()
    try:
        code = main(["triage"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("platos-tui: error: ") and line in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert time.monotonic() - started < 10
    assert peak < 24 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"  # an endless answer is read to 1 MB, no further


def test_negative_counts_are_exit_2_not_health(
    serve: Callable[..., Served], capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve()
    served.proxy.edit[QUEUES] = negative_queued
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert err == "platos-tui: error: queues.data[0].queued: must not be negative, got -5\n"


def test_retry_after_is_waited_out_and_the_triage_completes(
    serve: Callable[..., Served], capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve()
    busy = fixed(b'{"error": "busy"}', "503 Service Unavailable", {"retry-after": "1"})(served.proxy)

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        del served.proxy.bad[QUEUES]
        await busy(reader, writer)

    served.proxy.bad[QUEUES] = once
    started = time.monotonic()
    assert main(["triage"]) == 0, capsys.readouterr().err
    assert time.monotonic() - started >= 1.0


def test_a_server_clock_20_minutes_behind_finds_nothing_in_a_healthy_environment(
    serve: Callable[..., Served], capsys: pytest.CaptureFixture[str]
) -> None:
    serve(clock_skew=-20 * 60)
    assert main(["triage"]) == 0
    out = capsys.readouterr().out
    assert "server clock" in out and "20" in out
