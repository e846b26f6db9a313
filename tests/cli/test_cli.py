"""The composition root: argument parsing and wiring to the app, client, simulator, diagnosis and audit."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

import tui.actions.audit
import tui.api.client
import tui.app
import tui.diagnosis.report
import tui.sim.server
from tests.simclient import quick_retries
from tui.api.errors import ConnectionFailed
from tui.cli import main, make_client
from tui.config import Settings, load_settings
from tui.model import EnvironmentType

DEV_KEY = "tr_dev_cli0000000000000000000"
SIM_KEY = "tr_dev_sim1111111111111111111"
SIM_PAT = "tr_pat_" + "s" * 40
ENV_VARS = (
    "PLATOS_API_URL",
    "PLATOS_SECRET_KEY",
    "PLATOS_ADMIN_TOKEN",
    "PLATOS_PROFILE",
    "TRIGGER_API_URL",
    "TRIGGER_SECRET_KEY",
    "TRIGGER_ACCESS_TOKEN",
)


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "config.toml"
    monkeypatch.setenv("PLATOS_TUI_CONFIG", str(path))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


class FakeApp:
    """Stands in for PlatosApp and records how the CLI built it."""

    made: list[FakeApp] = []
    failure: Exception | None = None

    def __init__(self, settings: Settings | None, **kwargs: Any) -> None:
        self.settings, self.kwargs, self.ran = settings, kwargs, False
        FakeApp.made.append(self)

    def run(self) -> None:
        self.ran = True


class FakeSim:
    url = "http://127.0.0.1:45678"
    secret_key = SIM_KEY
    admin_token = SIM_PAT
    environment_id = "env_sim"

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> type[FakeApp]:
    FakeApp.made = []
    monkeypatch.setattr(tui.app, "PlatosApp", FakeApp)
    return FakeApp


@pytest.fixture
def fake_sim(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    started: list[Any] = []

    def start(options: Any) -> FakeSim:
        sim = FakeSim()
        started.append((options, sim))
        return sim

    monkeypatch.setattr(tui.sim.server, "start_in_background", start)
    return started


def test_help_lists_every_command_and_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in (
        "sim",
        "diagnose",
        "triage",
        "profile",
        "audit",
        "--demo",
        "--scenario",
        "--version",
        "--profile",
        "--url",
        "--refresh",
        "--read-only",
    ):
        assert word in out, word
    flat = " ".join(out.split())
    assert "With no COMMAND, the console opens" in flat
    assert ":write cannot lift" in flat and "read_only = true is a default that :write can lift" in flat
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    out = capsys.readouterr().out
    for word in ("list", "show", "add", "remove"):
        assert word in out


def test_no_secret_flags_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--secret-key", DEV_KEY, "triage"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        main(["profile", "add", "x", "--url", "https://x", "--secret-key", DEV_KEY])
    capsys.readouterr()


def test_no_configuration_opens_the_welcome_screen(cfg: Path, fake_app: type[FakeApp]) -> None:
    assert main([]) == 0
    (app,) = fake_app.made
    assert app.settings is None and app.ran
    assert app.kwargs["make_client"] is make_client
    assert callable(app.kwargs["load_profile"]) and callable(app.kwargs["start_demo"])


def test_tui_gets_resolved_settings_and_can_switch_profile(cfg: Path, fake_app: type[FakeApp]) -> None:
    write(
        cfg,
        f'default_profile = "a"\n[profiles.a]\nurl = "https://a"\nsecret_key = "{DEV_KEY}"\n'
        f'[profiles.b]\nurl = "https://b"\nsecret_key = "{DEV_KEY}"\nrefresh_seconds = 7\n',
    )
    assert main(["--url", "https://flag", "--refresh", "3", "--read-only"]) == 0
    (app,) = fake_app.made
    assert app.settings is not None
    assert (app.settings.profile, app.settings.url, app.settings.refresh_seconds) == ("a", "https://flag", 3)
    assert app.settings.read_only
    switched = app.kwargs["load_profile"]("b")
    assert switched.profile == "b" and switched.url == "https://b" and switched.refresh_seconds == 7
    assert switched.read_only  # --read-only holds for every profile of the session
    assert app.kwargs["read_only_locked"] is True


def test_demo_starts_the_simulator_and_stops_it(
    cfg: Path, fake_app: type[FakeApp], fake_sim: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLATOS_SIM_TOKEN", raising=False)
    assert main(["--demo", "--scenario", "queue-paused"]) == 0
    ((options, sim),) = fake_sim
    assert options.port == 0 and options.scenario == "queue-paused"
    assert options.replica_lag > 0  # the demo's run list lags like the real one unless --consistent
    (app,) = fake_app.made
    settings = app.settings
    assert settings is not None and settings.demo and not settings.read_only
    assert (settings.url, settings.secret_key, settings.admin_token) == (sim.url, SIM_KEY, SIM_PAT)
    assert settings.env_type is EnvironmentType.DEVELOPMENT and settings.profile == "demo"
    (plugin,) = settings.plugins
    assert plugin.name == "scale-workers"
    assert plugin.command.startswith(sys.executable) or plugin.command.startswith(f"'{sys.executable}'")
    assert "-m tui.sim.control" in plugin.command and "{replicas}" in plugin.command and sim.url in plugin.command
    assert SIM_PAT not in plugin.command and dict(plugin.env) == {"PLATOS_SIM_TOKEN": SIM_PAT}
    assert SIM_PAT not in repr(plugin)
    assert sim.stopped


def test_demo_offered_from_the_welcome_screen_is_stopped_too(
    cfg: Path, fake_app: type[FakeApp], fake_sim: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class StartsDemo(FakeApp):
        def run(self) -> None:
            self.demo_settings = self.kwargs["start_demo"]()

    monkeypatch.setattr(tui.app, "PlatosApp", StartsDemo)
    assert main([]) == 0
    ((_, sim),) = fake_sim
    assert sim.stopped


def test_make_client_passes_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, url: str, key: str, **kwargs: Any) -> None:
            seen.update(kwargs, url=url, key=key)

    monkeypatch.setattr(tui.api.client, "EngineClient", Recorder)
    settings = Settings(
        profile="p",
        url="https://x",
        secret_key=DEV_KEY,
        admin_token=SIM_PAT,
        read_only=True,
        budget_per_second=5.0,
        connect_timeout=1.5,
        read_timeout=7.0,
        allow_insecure_http=True,
    )
    make_client(settings)
    assert (seen["url"], seen["key"], seen["admin_token"]) == ("https://x", DEV_KEY, SIM_PAT)
    assert seen["guard"].read_only and not seen["guard"].allows_writes()
    assert seen["budget_per_second"] == 5.0 and seen["allow_insecure_http"] is True
    assert (seen["timeouts"].connect, seen["timeouts"].read) == (1.5, 7.0)


def test_make_client_builds_a_real_client(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    settings = load_settings()
    assert settings is not None
    assert isinstance(make_client(settings), tui.api.client.EngineClient)


def test_diagnose_and_triage_are_wired(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    calls: list[tuple[Any, ...]] = []

    async def diagnose(client: Any, settings: Settings, run_id: str, as_json: bool, out: TextIO) -> int:
        calls.append(("diagnose", settings.profile, run_id, as_json))
        out.write("diagnosed\n")
        return 1

    async def triage(client: Any, settings: Settings, as_json: bool, out: TextIO) -> int:
        calls.append(("triage", settings.profile, as_json))
        return 0

    monkeypatch.setattr(tui.diagnosis.report, "diagnose_command", diagnose)
    monkeypatch.setattr(tui.diagnosis.report, "triage_command", triage)
    assert main(["diagnose", "run_abc", "--json"]) == 1
    assert main(["triage"]) == 0
    assert calls == [("diagnose", "env", "run_abc", True), ("triage", "env", False)]
    assert "diagnosed" in capsys.readouterr().out


def test_api_errors_become_one_line_and_exit_2(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)

    async def triage(client: Any, settings: Settings, as_json: bool, out: TextIO) -> int:
        raise ConnectionFailed("cannot reach http://127.0.0.1:9 (connection refused)")

    monkeypatch.setattr(tui.diagnosis.report, "triage_command", triage)
    assert main(["triage", "--json"]) == 2
    err = capsys.readouterr().err
    assert err == "platos-tui: error: cannot reach http://127.0.0.1:9 (connection refused)\n"


def test_diagnose_without_configuration_is_one_line(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "run_x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("platos-tui: error: no profile configured") and err.count("\n") == 1


def test_unknown_profile_flag_is_exit_2(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(cfg, '[profiles.a]\nurl = "https://a"\nsecret_key_env = "X"\n')
    assert main(["--profile", "nope", "triage"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and str(cfg) in err and "profile add" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_layer_is_not_available_yet(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    monkeypatch.setitem(sys.modules, "tui.diagnosis.report", None)
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert "not available yet" in err and "tui.diagnosis.report" in err and err.count("\n") == 1


def test_audit_is_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bool, str | None]] = []

    def audit(as_json: bool, since: str | None, out: TextIO) -> int:
        calls.append((as_json, since))
        return 0

    monkeypatch.setattr(tui.actions.audit, "audit_command", audit)
    assert main(["audit", "--json", "--since", "1h"]) == 0
    assert main(["audit"]) == 0
    assert calls == [(True, "1h"), (False, None)]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_sim_refuses_non_loopback_host(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tui.sim.server, "serve", lambda options: pytest.fail("must not serve"))
    assert main(["sim", "--host", host]) == 2
    err = capsys.readouterr().err
    assert err.startswith("platos-tui: error:") and "--public" in err and err.count("\n") == 1


def test_sim_on_a_taken_port_says_so_in_one_line_before_building_a_world(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tui.sim.server, "create_app", lambda options: pytest.fail("must not build a world"))
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        assert main(["sim", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"platos-tui: error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1


def test_simulators_started_side_by_side_each_get_their_own_port() -> None:
    # Each port is held from the moment it is picked: picking one and binding it later let parallel workers collide.
    from tui.sim.server import SimOptions, start_in_background

    sims = [start_in_background(SimOptions(port=0, scenario="healthy", speed=0, seed=1)) for _ in range(3)]
    try:
        assert len({sim.url for sim in sims}) == 3
        with pytest.raises(OSError):
            start_in_background(SimOptions(port=int(sims[0].url.rsplit(":", 1)[1]), scenario="healthy", speed=0))
    finally:
        for sim in sims:
            sim.stop()


def test_the_simulator_answers_without_waiting_on_nagle() -> None:
    # A socket bound by hand as plain SOCK_STREAM kept Nagle on: each answer waited 40 ms for a delayed ACK.
    from tui.sim.server import DEFAULT_SECRET_KEY, SimOptions, start_in_background

    sim = start_in_background(SimOptions(port=0, scenario="healthy", speed=0, seed=1))
    try:
        headers = {"authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
        with httpx.Client(base_url=sim.url, headers=headers) as client:
            assert client.get("/api/v1/whoami").status_code == 200
            [connection] = sim._server.server_state.connections
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sim.stop()


def test_sim_options_are_passed_through(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr(tui.sim.server, "serve", served.append)
    argv = [
        "sim",
        "--port",
        "9999",
        "--scenario",
        "worker-pool-zero",
        "--secret-key",
        SIM_KEY,
        "--admin-token",
        SIM_PAT,
        "--speed",
        "5",
        "--seed",
        "7",
        "--queues",
        "10",
        "--runs",
        "50",
        "--faults",
        "latency=2s",
    ]
    assert main(argv) == 0
    assert main(["sim", "--host", "::1"]) == 0
    assert main(["sim", "--host", "localhost"]) == 0
    assert main(["sim", "--host", "0.0.0.0", "--public"]) == 0
    first = served[0]
    assert (first.host, first.port, first.scenario, first.secret_key, first.admin_token) == (
        "127.0.0.1",
        9999,
        "worker-pool-zero",
        SIM_KEY,
        SIM_PAT,
    )
    assert (first.speed, first.seed, first.queues, first.runs, first.faults, first.public) == (
        5.0,
        7,
        10,
        50,
        "latency=2s",
        False,
    )
    assert served[-1].host == "0.0.0.0" and served[-1].public


def test_python_dash_m_tui_version() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "tui", "--version"], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("platos-tui ")


def test_consistent_turns_the_demo_replica_lag_off(
    cfg: Path, fake_app: type[FakeApp], fake_sim: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLATOS_SIM_TOKEN", raising=False)
    assert main(["--demo", "--consistent"]) == 0
    ((options, _),) = fake_sim
    assert options.replica_lag == 0


def test_sim_takes_a_signed_clock_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr(tui.sim.server, "serve", served.append)
    assert main(["sim", "--clock-skew=-20m", "--replica-lag", "3"]) == 0
    assert (served[0].clock_skew, served[0].replica_lag) == (-1200.0, 3.0)
    with pytest.raises(SystemExit):
        main(["sim", "--clock-skew=soon"])


def test_demo_scale_plugin_drives_the_real_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shlex

    from tui.cli import start_demo

    monkeypatch.delenv("PLATOS_SIM_TOKEN", raising=False)
    settings, sim = start_demo("worker-pool-zero")
    try:
        (plugin,) = settings.plugins
        argv = [part.replace("{replicas}", "3") for part in shlex.split(plugin.command)]
        env = {**os.environ, **dict(plugin.env)}
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        assert sim.engine.workers == 3
    finally:
        sim.stop()


def test_internal_errors_are_one_line_and_exit_2(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    monkeypatch.delenv("PLATOS_TUI_DEBUG", raising=False)

    async def triage(client: Any, settings: Settings, as_json: bool, out: TextIO) -> int:
        raise RecursionError(f"maximum recursion depth exceeded near {DEV_KEY}\nsecond line")

    monkeypatch.setattr(tui.diagnosis.report, "triage_command", triage)
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("platos-tui: error: internal error: RecursionError: maximum recursion depth exceeded")
    assert err.count("\n") == 1 and "Traceback" not in err and DEV_KEY not in err and "PLATOS_TUI_DEBUG=1" in err
    monkeypatch.setenv("PLATOS_TUI_DEBUG", "1")
    with pytest.raises(RecursionError):
        main(["triage"])


def test_cli_diagnosis_runs_in_a_burst_scope(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    seen: list[bool] = []

    async def triage(client: Any, settings: Settings, as_json: bool, out: TextIO) -> int:
        seen.append(client._budget.bursting)  # the user is waiting: no polling budget
        return 0

    monkeypatch.setattr(tui.diagnosis.report, "triage_command", triage)
    assert main(["triage"]) == 0 and seen == [True]


def test_a_nonsense_server_is_exit_2_not_a_crash(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Nonsense(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"data": [], "pagination": {"totalPages": NaN}}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    quick_retries(monkeypatch)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonsense)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("PLATOS_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
        assert main(["triage"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert captured.err == "platos-tui: error: 200: response holds a number JSON cannot carry (NaN)\n"


def test_diagnose_an_unknown_run_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "diagnose", "nonexistent"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "platos-tui: error: no run `nonexistent` in this environment"
    assert captured.out == ""


def test_demo_offers_every_simulator_scenario() -> None:
    from tui import cli
    from tui.sim.scenarios import SCENARIOS

    assert sorted(cli.SCENARIOS) == sorted(SCENARIOS)
