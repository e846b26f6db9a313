"""Config precedence, secret sources, permissions and one-line errors."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.simclient import quick_retries
from tui.cli import main
from tui.config import ConfigError, Overrides, load_settings, write_config
from tui.model import EnvironmentType

PROD_KEY = "tr_prod_abcdefghijklmnopqrstuvwx"
DEV_KEY = "tr_dev_abcdefghijklmnopqrstuvwx"
PAT = "tr_pat_" + "a" * 40


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "config.toml"
    monkeypatch.setenv("PLATOS_TUI_CONFIG", str(path))
    for var in (
        "PLATOS_API_URL",
        "PLATOS_SECRET_KEY",
        "PLATOS_ADMIN_TOKEN",
        "PLATOS_PROFILE",
        "TRIGGER_API_URL",
        "TRIGGER_SECRET_KEY",
        "TRIGGER_ACCESS_TOKEN",
        "PLATOS_BRANCH",
        "TRIGGER_PREVIEW_BRANCH",
    ):
        monkeypatch.delenv(var, raising=False)
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


def two_profiles(path: Path) -> None:
    write(
        path,
        f"""
default_profile = "prod"
[profiles.prod]
url = "https://prod.example.com"
secret_key_command = "{sys.executable} -c 'print(\\"{PROD_KEY}\\")'"
environment = "prod-eu"
[profiles.prod.thresholds]
dequeued_seconds = 60
[profiles.stg]
url = "https://stg.example.com"
secret_key_env = "STG_KEY"
refresh_seconds = 5
""",
    )


def test_no_configuration_at_all_gives_none(cfg: Path) -> None:
    assert load_settings(environ={"PLATOS_TUI_CONFIG": str(cfg)}) is None


def test_profile_from_file_with_key_command(cfg: Path) -> None:
    two_profiles(cfg)
    settings = load_settings()
    assert settings is not None
    assert settings.profile == "prod" and settings.url == "https://prod.example.com"
    assert settings.secret_key == PROD_KEY
    assert settings.env_type is EnvironmentType.PRODUCTION and settings.read_only
    assert settings.env_label == "prod-eu"
    assert settings.thresholds.dequeued_seconds == 60 and settings.thresholds.executing_seconds == 900


def test_precedence_flags_then_env_then_profile(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    two_profiles(cfg)
    monkeypatch.setenv("STG_KEY", "tr_stg_abcdefghijklmnopqrstuvwx")
    monkeypatch.setenv("PLATOS_PROFILE", "stg")
    settings = load_settings()
    assert settings is not None and settings.profile == "stg" and settings.refresh_seconds == 5
    monkeypatch.setenv("PLATOS_API_URL", "https://env.example.com")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    settings = load_settings()
    assert settings is not None and settings.url == "https://env.example.com" and settings.secret_key == DEV_KEY
    flagged = load_settings(Overrides(profile="prod", url="https://flag.example.com", refresh=9, read_only=True))
    assert flagged is not None
    assert (flagged.profile, flagged.url, flagged.refresh_seconds, flagged.read_only) == (
        "prod",
        "https://flag.example.com",
        9,
        True,
    )


def test_trigger_variables_are_fallbacks(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIGGER_API_URL", "https://trigger.example.com/")
    monkeypatch.setenv("TRIGGER_SECRET_KEY", DEV_KEY)
    monkeypatch.setenv("TRIGGER_ACCESS_TOKEN", PAT)
    settings = load_settings()
    assert settings is not None and settings.profile == "env"
    assert settings.url == "https://trigger.example.com" and settings.admin_token == PAT
    assert settings.env_type is EnvironmentType.DEVELOPMENT and not settings.read_only
    monkeypatch.setenv("PLATOS_SECRET_KEY", PROD_KEY)
    monkeypatch.setenv("TRIGGER_ACCESS_TOKEN", "not-a-pat")
    settings = load_settings()
    assert settings is not None and settings.secret_key == PROD_KEY and settings.admin_token is None


def test_plain_secret_warns(cfg: Path) -> None:
    write(cfg, f'[profiles.a]\nurl = "http://127.0.0.1:1"\nsecret_key = "{DEV_KEY}"\n')
    warnings: list[str] = []
    settings = load_settings(warn=warnings.append)
    assert settings is not None and settings.secret_key == DEV_KEY
    assert any("plain text" in w for w in warnings)
    assert not any(DEV_KEY in w for w in warnings)


def test_explicit_env_type_and_read_only_override(cfg: Path) -> None:
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{PROD_KEY}"\nread_only = false\n')
    settings = load_settings()
    assert settings is not None and settings.production and not settings.read_only
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{DEV_KEY}"\nenv_type = "staging"\n')
    settings = load_settings()
    assert settings is not None and settings.env_type is EnvironmentType.STAGING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profiles.a\nurl = 1\n", ":line 1: invalid TOML"),
        ('[profiles.a]\nsecret_key_env = "X"\nurl = 3\n', ":line 3: profile 'a': url must be a string"),
        ('[profiles.a]\nurl = "https://x"\n', "no secret key"),
        ('[profiles.a]\nurl = "https://x"\nsecret_key_env = "NOPE_UNSET"\n', "NOPE_UNSET is not set"),
        ('[profiles.a]\nurl = "https://x"\nsecret_key_command = "false"\n', "exited 1"),
        ('[profiles.a]\nurl = "https://x"\nsecret_key_command = "/no/such/cmd"\n', "failed"),
        ('default_profile = "zz"\n[profiles.a]\nurl = "https://x"\n', "unknown profile 'zz'"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(
    cfg: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    write(cfg, text)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert expected in str(error.value) and str(cfg) in str(error.value)
    assert "\n" not in str(error.value)
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and expected in err


def test_group_readable_file_warns(cfg: Path) -> None:
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{DEV_KEY}"\n')
    cfg.chmod(0o644)
    warnings: list[str] = []
    load_settings(warn=warnings.append)
    assert any("readable by group or others" in w for w in warnings)


def test_write_config_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.toml"
    old = os.umask(0o022)
    try:
        write_config(path, {"profiles": {"a": {"url": "https://x"}}})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_profile_commands_never_print_secrets(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROD_KEY_VAR", PROD_KEY)
    assert main(["profile", "add", "prod", "--url", "https://p", "--secret-key-env", "PROD_KEY_VAR"]) == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600 and stat.S_IMODE(cfg.parent.stat().st_mode) == 0o700
    assert main(["profile", "add", "dev", "--url", "https://d", "--secret-key-command", "pass show x"]) == 0
    assert main(["profile", "list"]) == 0
    assert main(["profile", "show", "prod"]) == 0
    out = capsys.readouterr().out
    assert "* prod" in out and "dev" in out
    assert "from env PROD_KEY_VAR (set)" in out
    assert PROD_KEY not in out
    assert main(["profile", "remove", "dev"]) == 0
    assert main(["profile", "show", "dev"]) == 2
    # A stored plain key is described, never shown.
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{DEV_KEY}"\nadmin_token = "{PAT}"\n')
    capsys.readouterr()
    assert main(["profile", "show", "a"]) == 0
    captured = capsys.readouterr()
    assert DEV_KEY not in captured.out + captured.err and PAT not in captured.out + captured.err
    assert "plain text" in captured.out


def test_settings_repr_hides_secrets(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "https://x")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    monkeypatch.setenv("PLATOS_ADMIN_TOKEN", PAT)
    settings = load_settings()
    assert DEV_KEY not in repr(settings) and PAT not in repr(settings)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("sim", "diagnose", "triage", "profile", "audit", "--demo", "--version"):
        assert command in out


def test_sim_refuses_public_host_without_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--host", "0.0.0.0"]) == 2
    assert "--public" in capsys.readouterr().err


def test_unreachable_server_is_one_line(cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    quick_retries(monkeypatch)
    monkeypatch.setenv("PLATOS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("platos-tui: error:") and err.count("\n") == 1 and DEV_KEY not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "platos-tui 0." in capsys.readouterr().out


def test_failing_key_command_names_profile_and_command_but_not_its_output(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The printed secret is assembled at run time, so it appears nowhere in the command itself.
    command = f"{sys.executable} -c \"print('tr_prod_' + 'leaked' * 3); raise SystemExit(3)\""
    write(cfg, f"[profiles.prod]\nurl = 'https://x'\nsecret_key_command = '''{command}'''\n")
    assert main(["triage"]) == 2
    err = capsys.readouterr().err
    assert "profile 'prod'" in err and "exited 3" in err and ":line 3" in err and "-c" in err
    assert "leakedleaked" not in err


def test_key_command_timeout_is_a_config_error(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    def slow(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="x", timeout=10)

    write(cfg, '[profiles.a]\nurl = "https://x"\nsecret_key_command = "pass show platos/a"\n')
    monkeypatch.setattr(subprocess, "run", slow)
    with pytest.raises(ConfigError, match=r"profile 'a': secret key command `pass show platos/a` failed \(timed out"):
        load_settings()


def test_key_command_runs_without_a_shell(cfg: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key_command = "echo {DEV_KEY}; touch {marker}"\n')
    settings = load_settings()
    assert settings is not None and settings.secret_key.startswith(DEV_KEY) and not marker.exists()


def test_unknown_key_prefix_is_treated_as_production(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "https://x")
    monkeypatch.setenv("PLATOS_SECRET_KEY", "sk_something_else")
    settings = load_settings()
    assert settings is not None and settings.production and settings.read_only


@pytest.mark.parametrize(
    ("key", "env_type", "read_only"),
    [
        ("tr_dev_x", EnvironmentType.DEVELOPMENT, False),
        ("tr_stg_x", EnvironmentType.STAGING, False),
        ("tr_prod_x", EnvironmentType.PRODUCTION, True),
        ("tr_preview_x", EnvironmentType.PREVIEW, False),
    ],
)
def test_env_type_from_key_prefix_and_read_only_default(
    cfg: Path, key: str, env_type: EnvironmentType, read_only: bool
) -> None:
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{key}"\n')
    settings = load_settings()
    assert settings is not None and settings.env_type is env_type and settings.read_only is read_only
    assert settings.env_label == env_type.value


def test_env_only_needs_both_url_and_key(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "https://x")
    with pytest.raises(ConfigError, match="no secret key"):
        load_settings()
    monkeypatch.delenv("PLATOS_API_URL")
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    with pytest.raises(ConfigError, match="no API URL"):
        load_settings()


def test_plugins_keymap_and_tuning(cfg: Path) -> None:
    write(
        cfg,
        f"""
[profiles.a]
url = "http://127.0.0.1:8030"
secret_key = "{DEV_KEY}"
allow_insecure_http = true
connect_timeout = 1.5
read_timeout = 4
budget_per_second = 5
max_response_mb = 8
[profiles.a.keymap]
cancel = "x"
[[profiles.a.plugins]]
name = "scale-workers"
command = "kubectl scale deploy/worker --replicas={{replicas}}"
description = "scale up"
env = {{ KUBE_TOKEN = "kube-secret-value" }}
""",
    )
    settings = load_settings()
    assert settings is not None
    assert settings.allow_insecure_http and (settings.connect_timeout, settings.read_timeout) == (1.5, 4.0)
    assert settings.budget_per_second == 5.0 and settings.keymap == (("cancel", "x"),)
    assert settings.max_response_mb == 8.0
    (plugin,) = settings.plugins
    assert plugin.name == "scale-workers" and "{replicas}" in plugin.command and plugin.description == "scale up"
    assert plugin.env == (("KUBE_TOKEN", "kube-secret-value"),) and "kube-secret-value" not in repr(plugin)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('read_only = "no"\n', "read_only must be true or false"),
        ("refresh_seconds = 0\n", "refresh_seconds must be a positive number"),
        ("max_response_mb = 4096\n", "max_response_mb must be a number from 1 to 1024"),
        ('max_response_mb = "big"\n', "max_response_mb must be a positive number"),
        ('env_type = "prod"\n', "env_type must be one of"),
        ('[profiles.a.thresholds]\nexecuting_seconds = "long"\n', "executing_seconds must be a positive number"),
        ('[[profiles.a.plugins]]\nname = "x"\n', "needs string `name` and `command`"),
    ],
)
def test_wrong_types_name_the_key(cfg: Path, extra: str, expected: str) -> None:
    write(cfg, f'[profiles.a]\nurl = "https://x"\nsecret_key = "{DEV_KEY}"\n{extra}')
    with pytest.raises(ConfigError, match=expected) as error:
        load_settings()
    assert str(cfg) in str(error.value) and "\n" not in str(error.value)


def test_readable_config_warns_once_on_stderr_from_any_command(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(cfg, '[profiles.a]\nurl = "https://x"\nsecret_key_env = "A_KEY"\n')
    cfg.chmod(0o640)
    assert main(["profile", "list"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "readable by group or others" in err and "chmod 600" in err
    cfg.chmod(0o600)
    assert main(["profile", "list"]) == 0
    assert capsys.readouterr().err == ""


def test_profile_add_keeps_other_profiles_and_sets_default(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "a", "--url", "https://a", "--secret-key-env", "A"]) == 0
    assert (
        main(
            [
                "profile",
                "add",
                "b",
                "--url",
                "https://b",
                "--secret-key-command",
                "pass show b",
                "--admin-token-env",
                "B_PAT",
                "--env-type",
                "production",
                "--environment",
                "prod-eu",
                "--no-read-only",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["profile", "list"]) == 0
    out = capsys.readouterr().out
    assert "* a" in out and "  b" in out and "production" in out and "prod-eu" in out
    assert main(["profile", "add", "b", "--url", "https://b2", "--secret-key-env", "B", "--default"]) == 0
    assert main(["profile", "show", "b"]) == 0
    out = capsys.readouterr().out
    assert "(default)" in out and "https://b2" in out and "from env B (NOT set)" in out
    assert main(["profile", "remove", "b"]) == 0
    assert main(["profile", "list"]) == 0
    assert "b2" not in capsys.readouterr().out
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_profile_add_refuses_two_secret_sources(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["profile", "add", "a", "--url", "https://a", "--secret-key-env", "A", "--secret-key-command", "x"])
    assert exit_.value.code == 2 and not cfg.exists()
    capsys.readouterr()


PREVIEW_KEY = "tr_preview_abcdefghijklmnopqrstuvwx"


async def test_the_preview_branch_comes_from_platos_then_trigger_then_the_profile(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.cli import make_client

    write(cfg, '[profiles.pr]\nurl = "https://pr.example.com"\nsecret_key_env = "PR_KEY"\nbranch = "from-profile"\n')
    monkeypatch.setenv("PR_KEY", PREVIEW_KEY)
    settings = load_settings()
    assert settings is not None and settings.branch == "from-profile"
    assert settings.env_type is EnvironmentType.PREVIEW
    monkeypatch.setenv("TRIGGER_PREVIEW_BRANCH", "from-trigger")
    settings = load_settings()
    assert settings is not None and settings.branch == "from-trigger"
    monkeypatch.setenv("PLATOS_BRANCH", "from-platos")
    settings = load_settings()
    assert settings is not None and settings.branch == "from-platos"
    client = make_client(settings)
    assert client.branch == "from-platos"
    await client.aclose()
    monkeypatch.setenv("PLATOS_BRANCH", "two words")
    with pytest.raises(ConfigError, match="PLATOS_BRANCH"):
        load_settings()


def test_a_preview_key_without_a_branch_warns_in_one_line(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATOS_API_URL", "https://pr.example.com")
    monkeypatch.setenv("PLATOS_SECRET_KEY", PREVIEW_KEY)
    warnings: list[str] = []
    settings = load_settings(warn=warnings.append)
    assert settings is not None and settings.branch is None
    assert [w for w in warnings if "branch" in w] == [
        'warning: a tr_preview_ key needs a branch: set branch = "..." in the profile, '
        "PLATOS_BRANCH or TRIGGER_PREVIEW_BRANCH"
    ]
    monkeypatch.setenv("PLATOS_SECRET_KEY", DEV_KEY)
    warnings.clear()
    load_settings(warn=warnings.append)
    assert not any("branch" in w for w in warnings)


def test_an_unknown_key_warns_with_the_nearest_known_one(cfg: Path) -> None:
    write(
        cfg,
        'defualt_profile = "a"\n[profiles.a]\nurl = "https://a"\nsecret_key_env = "K"\nrefersh_seconds = 5\n'
        "[profiles.a.thresholds]\nexecuting_secs = 60\n",
    )
    warnings: list[str] = []
    settings = load_settings(environ={"K": DEV_KEY, "PLATOS_TUI_CONFIG": str(cfg)}, warn=warnings.append)
    assert settings is not None and settings.refresh_seconds == 2.0  # the misspelt key changes nothing
    said = "\n".join(warnings)
    assert "refersh_seconds: did you mean refresh_seconds?" in said
    assert ":line 5" in said
    assert "executing_secs: did you mean executing_seconds?" in said
    assert "defualt_profile: did you mean default_profile?" in said


def test_every_documented_profile_key_is_known(cfg: Path) -> None:
    """`max_response_mb` and `branch` are read from a profile: they must not warn as unknown keys."""
    write(
        cfg,
        'default_profile = "a"\n[profiles.a]\nurl = "https://a"\nsecret_key_env = "K"\nmax_response_mb = 4\n'
        'branch = "feature-x"\n',
    )
    warnings: list[str] = []
    settings = load_settings(environ={"K": DEV_KEY, "PLATOS_TUI_CONFIG": str(cfg)}, warn=warnings.append)
    assert settings is not None and settings.max_response_mb == 4 and settings.branch == "feature-x"
    assert not any("unknown key" in w for w in warnings), warnings
