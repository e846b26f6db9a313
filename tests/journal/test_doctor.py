"""`platos-tui doctor` against a healthy simulator and broken set-ups: each check a line, exit 0 only when it works."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simclient import quick_retries
from tui.api.client import EngineClient, RetryPolicy
from tui.cli import main
from tui.config import Overrides, Settings
from tui.doctor import doctor_command
from tui.sim import server

SCOPED = server.SCOPED_SECRET_KEY


def healthy_sim() -> Any:
    """A healthy simulator whose frozen clock starts now: doctor compares it with this machine's."""
    return server.create_app(server.SimOptions(scenario="healthy", speed=0, seed=1))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PLATOS_TUI_CONFIG": str(tmp_path / "none.toml"),
        "PLATOS_API_URL": "http://127.0.0.1",
        "PLATOS_SECRET_KEY": server.DEFAULT_SECRET_KEY,
        "PLATOS_ADMIN_TOKEN": server.DEFAULT_ADMIN_TOKEN,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def on_sim(settings: Settings) -> EngineClient:
    """The real client over the simulator's ASGI app (no socket needed)."""
    return EngineClient(
        settings.url,
        settings.secret_key,
        admin_token=settings.admin_token,
        transport=httpx.ASGITransport(app=healthy_sim()),
        budget_per_second=None,
        retry=RetryPolicy(attempts=1),
    )


def doctor(env: dict[str, str], make_client=on_sim, size: tuple[int, int] = (120, 40)) -> tuple[int, str]:
    out = io.StringIO()
    code = doctor_command(Overrides(), out, make_client=make_client, environ=env, size=size)
    return code, out.getvalue()


def test_a_healthy_simulator_passes_every_check_and_prints_no_secret(env: dict[str, str]) -> None:
    code, text = doctor(env)
    assert code == 0, text
    assert "✗" not in text and text.rstrip().endswith("The console will work.")
    for line in (
        "✓ url http://127.0.0.1 (from env PLATOS_API_URL)",
        "✓ secret key: development key tr_dev_… (from env PLATOS_SECRET_KEY)",
        "✓ admin token: present (from env PLATOS_ADMIN_TOKEN)",
        "✓ runs: readable",
        "✓ queues: readable",
        "✓ waitpoint tokens: readable",
        "✓ admin token accepted",
        "✓ API version 2025-07-16",
        "✓ clock: within 5 s of the server's",
        "writable (audit log, journal)",
        "✓ TERM xterm-256color, 256 colours",
        "✓ size 120x40",
    ):
        assert line in text, f"{line!r} not in:\n{text}"
    assert "reachable: whoami answered in" in text
    assert server.DEFAULT_SECRET_KEY not in text and server.DEFAULT_ADMIN_TOKEN not in text


def test_a_rejected_key_fails_with_the_fix(env: dict[str, str]) -> None:
    code, text = doctor({**env, "PLATOS_SECRET_KEY": "tr_dev_0000notthesimulatorskey0"})
    assert code == 1
    assert "✗ the server refused the key: 401" in text and "fix: check the key belongs to this server" in text
    assert "tr_dev_0000notthesimulatorskey0" not in text


def test_a_scoped_key_warns_about_what_it_cannot_read_and_still_works(env: dict[str, str]) -> None:
    code, text = doctor({**env, "PLATOS_SECRET_KEY": SCOPED})
    assert code == 0, text
    assert "development scoped key tr_dev_ + sk_…" in text
    assert "! waitpoint tokens: this key cannot read them (403" in text
    assert SCOPED not in text


def test_an_unreachable_server_fails_and_says_how_to_check(env: dict[str, str]) -> None:
    def nowhere(settings: Settings) -> EngineClient:
        # Port 9 on loopback: nothing listens there, so the connection is refused at once.
        return EngineClient("http://127.0.0.1:9", settings.secret_key, retry=RetryPolicy(attempts=1))

    code, text = doctor({**env, "PLATOS_API_URL": "http://127.0.0.1:9"}, make_client=nowhere)
    assert code == 1
    assert "✗ unreachable: could not connect" in text and "fix: check the URL and that the server is up" in text


def test_a_bad_config_file_fails_naming_the_file_and_line(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('default_profile = "prod"\n[profiles.prod]\nurl = \n')
    config.chmod(0o600)
    code, text = doctor({**env, "PLATOS_TUI_CONFIG": str(config)})
    assert code == 1
    assert f"✗ configuration: {config}:line 3: invalid TOML" in text


def test_no_configuration_at_all_says_how_to_add_a_profile(env: dict[str, str]) -> None:
    code, text = doctor({k: v for k, v in env.items() if not k.startswith("PLATOS_") or k == "PLATOS_TUI_CONFIG"})
    assert code == 1 and "✗ no profile configured" in text and "platos-tui profile add" in text


def test_a_dumb_terminal_and_an_unwritable_state_directory_fail(
    env: dict[str, str], state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir.parent.mkdir(exist_ok=True)
    state_dir.write_text("a file where the directory should be")
    code, text = doctor({**env, "TERM": "dumb"}, size=(70, 20))
    assert code == 1
    assert "✗ TERM is dumb" in text and "fix: run in a terminal emulator" in text
    assert f"✗ state directory {state_dir}: not writable" in text and "PLATOS_TUI_STATE_DIR" in text
    assert "! size 70x20: smaller than 80x24" in text
    assert text.rstrip().endswith("2 to fix before the console will work.")


def test_the_command_line_runs_doctor_with_its_exit_code(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    quick_retries(monkeypatch)
    for name, value in {**env, "PLATOS_API_URL": "http://127.0.0.1:9", "TERM": "xterm"}.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "platos-tui" in out and "doctor" in out and "unreachable" in out
