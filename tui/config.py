"""Profiles and settings: TOML in the user config dir, env overrides, secrets resolved at start-up."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import stat
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from tui.model import EnvironmentType, environment_type_from_key
from tui.model.search import split_terms

APP_NAME = "platos-tui"
Warn = Callable[[str], None]


class ConfigError(Exception):
    """A configuration problem, stated in one line that names the file, the line when known, and the fix."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When runs, tool calls and waits count as stuck; read from the profile's `[profiles.NAME.thresholds]`."""

    dequeued_seconds: float = 120.0
    executing_seconds: float = 900.0
    tool_call_seconds: float = 120.0
    waitpoint_seconds: float = 3600.0
    progress_seconds: float = 300.0
    """A run whose trace moved within this long is progressing: slow, not hung."""
    token_horizon_seconds: float = 7 * 86400.0
    """A token timeout further off than this is no resumer anyone will wait for."""
    pending_version_seconds: float = 900.0
    """How long a run may wait for a deployed version with its task (a deploy's build and rollout)."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """An external recovery command (argv template with `{name}` placeholders), run without a shell."""

    name: str
    command: str
    description: str = ""
    # Extra environment for the command (e.g. a token it needs); kept out of argv and out of reprs.
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app and the client need, resolved from flags, environment and profile."""

    profile: str
    url: str
    secret_key: str = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    env_type: EnvironmentType = EnvironmentType.DEVELOPMENT
    env_label: str = "development"
    read_only: bool = False
    refresh_seconds: float = 2.0
    thresholds: Thresholds = Thresholds()
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    budget_per_second: float = 2.0
    max_response_mb: float = 32.0
    allow_insecure_http: bool = False
    plugins: tuple[Plugin, ...] = ()
    keymap: tuple[tuple[str, str], ...] = ()
    demo: bool = False
    branch: str | None = None
    """The preview branch (`x-trigger-branch`) a `tr_preview_` key needs."""
    searches: tuple[tuple[str, str], ...] = ()
    """Saved run searches, name and search line (`:task send-email :window 2h`), run with `:search NAME`."""

    @property
    def production(self) -> bool:
        return self.env_type is EnvironmentType.PRODUCTION


@dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line flags; they win over the environment and the profile. Never secrets."""

    profile: str | None = None
    url: str | None = None
    refresh: float | None = None
    read_only: bool = False


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where config.toml lives: `$PLATOS_TUI_CONFIG`, else the platform's user config dir."""
    env = os.environ if environ is None else environ
    if env.get("PLATOS_TUI_CONFIG"):
        return Path(env["PLATOS_TUI_CONFIG"]).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


STATE_DIR_ENV = "PLATOS_TUI_STATE_DIR"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the audit log and the journal live: `$PLATOS_TUI_STATE_DIR`, else the platform's user state dir."""
    env = os.environ if environ is None else environ
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser()
    return platformdirs.user_state_path(APP_NAME)


def read_config(path: Path, warn: Warn) -> dict[str, Any] | None:
    """Parse the file (None when absent); warn when group or others can read it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}); check its permissions") from exc
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"warning: {path} is readable by group or others; run: chmod 600 {shlex.quote(str(path))}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        where = f":line {found.group(1)}" if found else ""
        reason = str(exc).split(" (at ")[0]
        raise ConfigError(f"{path}{where}: invalid TOML ({reason}); fix the syntax there") from exc
    return data


def _line_of(path: Path, profile: str, key: str) -> str:
    """Best-effort `:line N` of `key` inside `[profiles.<profile>]`, for error messages."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    inside = False
    header = re.compile(r"^\s*\[+\s*profiles\.\"?" + re.escape(profile) + r"\"?[\].]")
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("["):
            inside = bool(header.match(line))
        elif inside and re.match(r"\s*" + re.escape(key) + r"\s*=", line):
            return f":line {number}"
    return ""


_TYPE_WORDS: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    int: "a number",
    float: "a number",
    dict: "a table",
    list: "a list",
}


class _Profile:
    """Typed access to one `[profiles.NAME]` table with errors that point at the file and line."""

    def __init__(self, path: Path, name: str, table: Mapping[str, Any]) -> None:
        self.path, self.name, self.table = path, name, table

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}{_line_of(self.path, self.name, key)}: profile {self.name!r}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = self.table.get(key, default)
        if value is None or (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))):
            return value
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join(_TYPE_WORDS.get(k, k.__name__) for k in kinds)
        got = _TYPE_WORDS.get(type(value), type(value).__name__)
        raise self.error(key, f"{key} must be {names}, not {got}; fix its value")

    def bounded(self, key: str, default: float, low: float, high: float) -> float:
        value = self.number(key, default)
        if not low <= value <= high:
            raise self.error(key, f"{key} must be a number from {low:g} to {high:g}; fix its value")
        return value

    def number(self, key: str, default: float, table: Mapping[str, Any] | None = None) -> float:
        source = self.table if table is None else table
        value = source.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(key, f"{key} must be a positive number; fix its value")
        return float(value)


TOP_KEYS = frozenset({"default_profile", "profiles"})
PROFILE_KEYS = frozenset(
    {
        "url", "environment", "env_type", "read_only", "allow_insecure_http",
        "secret_key", "secret_key_env", "secret_key_command",
        "admin_token", "admin_token_env", "admin_token_command",
        "refresh_seconds", "budget_per_second", "connect_timeout", "read_timeout", "max_response_mb", "branch",
        "thresholds", "keymap", "plugins", "searches",
    }
)  # fmt: skip


def _unknown_keys(path: Path, data: Mapping[str, Any], profile: _Profile | None, warn: Warn) -> None:
    """Warn about keys nothing reads, naming the nearest known one: a typo must not pass silently."""

    def check(keys: Iterable[str], known: Iterable[str], where: str, line: Callable[[str], str]) -> None:
        choices = sorted(known)
        for key in keys:
            if key not in choices:
                near = difflib.get_close_matches(key, choices, n=1)
                hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(choices)}"
                warn(f"warning: {path}{line(key)}: {where}unknown key {key}: {hint}")

    check(data, TOP_KEYS, "", lambda _key: "")
    if profile is None:
        return
    prefix = f"profile {profile.name!r}: "
    check(profile.table, PROFILE_KEYS, prefix, lambda key: _line_of(path, profile.name, key))
    thresholds = profile.table.get("thresholds")
    if isinstance(thresholds, dict):
        check(thresholds, Thresholds.__slots__, prefix + "thresholds: ", lambda key: _line_of(path, profile.name, key))


def run_secret_command(command: str, what: str, origin: str) -> str:
    """Run a key command without a shell; its stdout is the secret. Never echo its output."""
    try:
        argv = shlex.split(command)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (ValueError, OSError, subprocess.TimeoutExpired) as exc:
        reason = "timed out after 10 s" if isinstance(exc, subprocess.TimeoutExpired) else type(exc).__name__
        raise ConfigError(f"{origin}: {what} command `{command}` failed ({reason}); check the command") from exc
    secret = result.stdout.strip()
    if result.returncode != 0 or not secret:
        problem = f"exited {result.returncode}" if result.returncode else "printed nothing"
        raise ConfigError(f"{origin}: {what} command `{command}` {problem}; run it by hand to check it")
    return secret


def _secret(
    profile: _Profile | None, kind: str, environ: Mapping[str, str], env_vars: tuple[str, ...], warn: Warn
) -> str | None:
    """Resolve a secret: environment first, then the profile's env var, command or plain value."""
    for var in env_vars:
        value = environ.get(var, "")
        if value and not (var == "TRIGGER_ACCESS_TOKEN" and not value.startswith("tr_pat_")):
            return value
    if profile is None:
        return None
    what = "secret key" if kind == "secret_key" else "admin token"
    var = profile.get(f"{kind}_env", str)
    if var:
        value = environ.get(var, "")
        if value:
            return value
        problem = profile.error(f"{kind}_env", f"{what} env var {var} is not set; export it or fix {kind}_env")
        if kind == "secret_key":
            raise problem
        warn(f"warning: {problem}")  # the admin token is optional: only repair-queues needs it
        return None
    command = profile.get(f"{kind}_command", str)
    if command:
        origin = f"{profile.path}{_line_of(profile.path, profile.name, kind + '_command')}: profile {profile.name!r}"
        return run_secret_command(command, what, origin)
    plain = profile.get(kind, str)
    if plain:
        warn(f"warning: profile {profile.name!r} stores its {what} in plain text; prefer {kind}_env or {kind}_command")
    return plain or None


def _plugins(profile: _Profile) -> tuple[Plugin, ...]:
    items = profile.get("plugins", list, [])
    plugins = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("command"), str)):
            raise profile.error("plugins", "each [[plugins]] entry needs string `name` and `command`")
        env = item.get("env", {})
        if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
            raise profile.error("plugins", f"plugin {item['name']!r}: `env` must be a table of strings")
        pairs = tuple((str(k), v) for k, v in env.items())
        plugins.append(Plugin(item["name"], item["command"], str(item.get("description", "")), pairs))
    return tuple(plugins)


SEARCH_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,63}")


def _searches(profile: _Profile) -> tuple[tuple[str, str], ...]:
    """`[profiles.NAME.searches]`: name = search line, each line checked now rather than at 3 a.m."""
    found = []
    for name, line in profile.get("searches", dict, {}).items():
        if not SEARCH_NAME.fullmatch(name):
            problem = f"search name {name[:40]!r}: use letters, digits, - _ . (it is typed as :search NAME)"
            raise profile.error(name, problem)
        if not isinstance(line, str):
            raise profile.error(name, f'search {name} must be a string such as ":task send-email :window 2h"')
        try:
            split_terms(line)
        except ValueError as exc:
            raise profile.error(name, f"search {name}: {exc}; fix the search") from None
        found.append((name, line.strip()))
    return tuple(found)


def _env_type(profile: _Profile | None, key: str) -> EnvironmentType:
    explicit = profile.get("env_type", str) if profile else None
    if explicit:
        try:
            return EnvironmentType(explicit)
        except ValueError:
            assert profile is not None
            choices = ", ".join(t.value for t in EnvironmentType)
            raise profile.error("env_type", f"env_type must be one of {choices}") from None
    # An unrecognised key is treated as production: the safer guess for read-only defaults.
    return environment_type_from_key(key) or EnvironmentType.PRODUCTION


def load_settings(
    overrides: Overrides = Overrides(),
    environ: Mapping[str, str] | None = None,
    warn: Warn = lambda _msg: None,
    *,
    env_overrides: bool = True,
) -> Settings | None:
    """Resolve settings by precedence flags > environment > profile; None when nothing is configured at all.

    `env_overrides=False` takes the profile as written: PLATOS_API_URL, PLATOS_SECRET_KEY and their fallbacks
    do not apply (every profile at once, or a switch to a named profile, must not all point at one server).

    The file looks like this (thresholds live in their own sub-table, never as flat keys)::

        default_profile = "prod"

        [profiles.prod]
        url = "https://platos.example.com"
        environment = "prod-eu"            # a label; env_type is development|staging|production|preview
        secret_key_command = "pass show platos/prod"   # or secret_key_env = "VAR"; plain secret_key warns
        admin_token_env = "PLATOS_PROD_PAT"           # or admin_token_command; optional
        branch = "feature-x"               # preview keys only (x-trigger-branch); or PLATOS_BRANCH
        refresh_seconds = 2                # also: read_only, allow_insecure_http, connect_timeout,
                                           # read_timeout, budget_per_second, max_response_mb
        [profiles.prod.thresholds]
        dequeued_seconds = 120             # executing_seconds, tool_call_seconds, waitpoint_seconds
        [profiles.prod.keymap]             # binding id = key; `?` shows each key where it applies
        "runs.cancel" = "x"
        [profiles.prod.searches]           # saved run searches: `:search stuck-emails`
        stuck-emails = ":task send-email :status DEQUEUED :window 2h"
        [[profiles.prod.plugins]]
        name = "scale-workers"
        command = "kubectl -n platos scale deploy/worker --replicas={replicas}"
        env = { KUBECONFIG = "/etc/platos/kubeconfig" }   # optional

    env_type comes from the profile, else the key prefix, else production (the safe guess). Production
    profiles start read-only unless they say `read_only = false`; the --read-only flag always wins.
    """
    env = os.environ if environ is None else environ
    path = config_path(env)
    data = read_config(path, warn) or {}
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: `profiles` must be a table of [profiles.NAME]; fix the file")
    name = overrides.profile or env.get("PLATOS_PROFILE") or data.get("default_profile")
    if name is None and len(profiles) == 1:
        name = next(iter(profiles))
    profile: _Profile | None = None
    if name is not None:
        table = profiles.get(name)
        if not isinstance(table, dict):
            known = ", ".join(sorted(profiles)) or "none"
            fix = "add it with `platos-tui profile add`"
            raise ConfigError(f"{path}: unknown profile {name!r} (known: {known}); {fix}")
        profile = _Profile(path, name, table)
    _unknown_keys(path, data, profile, warn)
    url = overrides.url or (env.get("PLATOS_API_URL") or env.get("TRIGGER_API_URL") if env_overrides else None)
    url = url or (profile.get("url", str) if profile else None)
    key_vars = ("PLATOS_SECRET_KEY", "TRIGGER_SECRET_KEY") if env_overrides else ()
    key = _secret(profile, "secret_key", env, key_vars, warn)
    if profile is None and not url and not key:
        return None
    where = f"profile {profile.name!r} in {path}" if profile else "the environment"
    if not url:
        raise ConfigError(f"{where}: no API URL; set `url` in the profile or PLATOS_API_URL")
    if not key:
        raise ConfigError(f"{where}: no secret key; set secret_key_env or secret_key_command, or PLATOS_SECRET_KEY")
    admin_vars = ("PLATOS_ADMIN_TOKEN", "TRIGGER_ACCESS_TOKEN") if env_overrides else ()
    admin = _secret(profile, "admin_token", env, admin_vars, warn)
    env_type = _env_type(profile, key)
    read_only = profile.get("read_only", bool) if profile else None
    if read_only is None:
        read_only = env_type is EnvironmentType.PRODUCTION
    thresholds = Thresholds()
    keymap: tuple[tuple[str, str], ...] = ()
    if profile is not None:
        table = profile.get("thresholds", dict, {})
        thresholds = Thresholds(*(profile.number(f, getattr(thresholds, f), table) for f in Thresholds.__slots__))
        keymap = tuple((str(k), str(v)) for k, v in profile.get("keymap", dict, {}).items())
    refresh = overrides.refresh or (profile.number("refresh_seconds", 2.0) if profile else 2.0)
    branch = _branch(profile, env, key, warn)
    return Settings(
        profile=profile.name if profile else "env",
        url=url.rstrip("/"),
        secret_key=key,
        admin_token=admin,
        env_type=env_type,
        env_label=(profile.get("environment", str) if profile else None) or env_type.value,
        read_only=read_only or overrides.read_only,
        refresh_seconds=refresh,
        thresholds=thresholds,
        connect_timeout=profile.number("connect_timeout", 3.0) if profile else 3.0,
        read_timeout=profile.number("read_timeout", 10.0) if profile else 10.0,
        budget_per_second=profile.number("budget_per_second", 2.0) if profile else 2.0,
        max_response_mb=profile.bounded("max_response_mb", 32.0, 1, 1024) if profile else 32.0,
        allow_insecure_http=bool(profile.get("allow_insecure_http", bool, False)) if profile else False,
        plugins=_plugins(profile) if profile else (),
        keymap=keymap,
        branch=branch,
        searches=_searches(profile) if profile else (),
    )


def profile_names(environ: Mapping[str, str] | None = None, warn: Warn = lambda _msg: None) -> list[str]:
    """The profiles of the config file, the default first, then by name (none without a file)."""
    data = read_config(config_path(os.environ if environ is None else environ), warn) or {}
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        return []
    default = data.get("default_profile")
    return sorted(profiles, key=lambda name: (name != default, name))


def load_profile(
    name: str, *, read_only: bool = False, environ: Mapping[str, str] | None = None, warn: Warn = lambda _msg: None
) -> Settings:
    """One named profile as written (no environment overrides); raises ConfigError."""
    settings = load_settings(Overrides(profile=name, read_only=read_only), environ, warn, env_overrides=False)
    if settings is None:
        raise ConfigError(f"profile {name!r} is not configured")
    return settings


BRANCH_HELP = (
    'a tr_preview_ key needs a branch: set branch = "..." in the profile, PLATOS_BRANCH or TRIGGER_PREVIEW_BRANCH'
)


def _branch(profile: _Profile | None, environ: Mapping[str, str], key: str, warn: Warn) -> str | None:
    """The preview branch: PLATOS_BRANCH, then Trigger.dev's own TRIGGER_PREVIEW_BRANCH, then the profile."""
    value = environ.get("PLATOS_BRANCH") or environ.get("TRIGGER_PREVIEW_BRANCH")
    value = (value or (profile.get("branch", str) if profile else None) or "").strip()
    if value and not re.fullmatch(r"[\x21-\x7e]{1,256}", value):
        problem = f"branch {value[:40]!r} is not a header value: printable ASCII, no spaces, at most 256"
        raise ConfigError(f"{problem}; fix PLATOS_BRANCH, TRIGGER_PREVIEW_BRANCH or the profile's branch")
    if not value and key.startswith("tr_preview_"):
        warn(f"warning: {BRANCH_HELP}")
    return value or None


def write_config(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically with mode 0600 in a 0700 directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(dict(data), handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
