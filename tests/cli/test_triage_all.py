"""`platos-tui triage --all-profiles`: two loopback simulators, one config file, every profile at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.config.test_config import cfg, write
from tests.simclient import quick_retries
from tui.cli import main
from tui.sim.server import RunningSim, SimOptions, start_in_background

__all__ = ["cfg"]


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, RunningSim]]:
    running = {
        "calm": start_in_background(SimOptions(port=0, scenario="healthy", speed=0, seed=1)),
        "paused": start_in_background(SimOptions(port=0, scenario="queue-paused", speed=0, seed=1)),
    }
    yield running
    for sim in running.values():
        sim.stop()


def config(path: Path, sims: dict[str, RunningSim], monkeypatch: pytest.MonkeyPatch, extra: str = "") -> None:
    text = 'default_profile = "calm"\n'
    for name, sim in sims.items():
        monkeypatch.setenv(f"KEY_{name.upper()}", sim.secret_key)
        kind = "production" if name == "paused" else "development"
        text += (
            f'[profiles.{name}]\nurl = "{sim.url}"\nsecret_key_env = "KEY_{name.upper()}"\n'
            f'environment = "{name}-env"\nenv_type = "{kind}"\nread_only = true\n'
        )
    write(path, text + extra)


def test_json_names_each_findings_profile_and_environment(
    cfg: Path, sims: dict[str, RunningSim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config(cfg, sims, monkeypatch)
    assert main(["triage", "--all-profiles", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    by_name = {p["profile"]: p for p in data["profiles"]}
    assert list(by_name) == ["calm", "paused"]  # the default first
    assert by_name["calm"]["findings"] == 0 and by_name["calm"]["error"] is None
    assert by_name["paused"]["findings"] >= 1 and by_name["paused"]["envType"] == "production"
    assert by_name["paused"]["connection"] == "CONNECTED" and by_name["paused"]["checked"]["requests"] > 0
    assert data["findings"], "the paused queue is a finding"
    for finding in data["findings"]:
        assert (finding["profile"], finding["environment"]) == ("paused", "paused-env")
        assert finding["cause"]
    assert any(f["cause"] == "queue_paused" for f in data["findings"])


def test_a_dead_profile_is_its_own_line_and_exit_2_while_the_others_are_reported(
    cfg: Path, sims: dict[str, RunningSim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = '[profiles.dead]\nurl = "http://127.0.0.1:9"\nsecret_key_env = "KEY_CALM"\n'
    unset = '[profiles.nokey]\nurl = "http://127.0.0.1:9"\nsecret_key_env = "NOT_SET_ANYWHERE"\n'
    config(cfg, sims, monkeypatch, dead + unset)
    quick_retries(monkeypatch)
    assert main(["triage", "--all-profiles", "--timeout", "8"]) == 2
    captured = capsys.readouterr()
    out = captured.out
    assert "== calm · calm-env · development ==" in out and "nothing stuck" in out
    assert "== paused · paused-env · PRODUCTION ==" in out and "queue_paused" in out
    assert "== dead" in out and "== nokey" in out
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert any("profile dead:" in line for line in errors)
    assert any("profile nokey:" in line and "NOT_SET_ANYWHERE is not set" in line for line in errors)
    assert len(errors) == 2


def test_all_profiles_refuses_a_single_profile_flag(
    cfg: Path, sims: dict[str, RunningSim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config(cfg, sims, monkeypatch)
    assert main(["--profile", "calm", "triage", "--all-profiles"]) == 2
    assert "drop --profile" in capsys.readouterr().err


def test_env_overrides_do_not_collapse_every_profile_onto_one_server(
    cfg: Path, sims: dict[str, RunningSim], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config(cfg, sims, monkeypatch)
    monkeypatch.setenv("PLATOS_API_URL", sims["calm"].url)
    assert main(["triage", "--all-profiles", "--json"]) == 1  # the paused profile still reaches its own server
    data = json.loads(capsys.readouterr().out)
    assert {f["profile"] for f in data["findings"]} == {"paused"}
