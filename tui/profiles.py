"""`platos-tui profile list|show|add|remove`: manage profiles without ever printing a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from tui.config import ConfigError, Warn, config_path, read_config, write_config
from tui.model import EnvironmentType

SECRET_SOURCES = {
    "secret_key": "secret key",
    "admin_token": "admin token",
}


def _load(warn: Warn) -> tuple[Any, dict[str, Any]]:
    path = config_path()
    return path, read_config(path, warn) or {}


def _profiles(data: Mapping[str, Any]) -> dict[str, Any]:
    profiles = data.get("profiles", {})
    return profiles if isinstance(profiles, dict) else {}


def secret_source(table: Mapping[str, Any], kind: str, environ: Mapping[str, str]) -> str:
    """Describe where a secret comes from, never its value."""
    if isinstance(table.get(f"{kind}_env"), str):
        var = table[f"{kind}_env"]
        return f"from env {var} ({'set' if environ.get(var) else 'NOT set'})"
    if isinstance(table.get(f"{kind}_command"), str):
        return f"from command `{table[f'{kind}_command']}`"
    if table.get(kind):
        return "stored in the config file (plain text; not recommended)"
    return "not configured"


def list_profiles(out: TextIO, warn: Warn) -> int:
    path, data = _load(warn)
    profiles = _profiles(data)
    if not profiles:
        out.write(f"no profiles in {path}; add one with `platos-tui profile add NAME --url URL ...`\n")
        return 0
    default = data.get("default_profile")
    for name, table in sorted(profiles.items()):
        table = table if isinstance(table, dict) else {}
        marker = "*" if name == default else " "
        kind = table.get("env_type") or "(type from key)"
        label = f"  [{table['environment']}]" if table.get("environment") else ""
        out.write(f"{marker} {name:<16} {table.get('url', '?'):<40} {kind}{label}\n")
    return 0


def show_profile(name: str, out: TextIO, warn: Warn, environ: Mapping[str, str]) -> int:
    path, data = _load(warn)
    table = _profiles(data).get(name)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: unknown profile {name!r}; see `platos-tui profile list`")
    out.write(f"profile {name}{' (default)' if data.get('default_profile') == name else ''}  [{path}]\n")
    hidden = {f"{kind}{suffix}" for kind in SECRET_SOURCES for suffix in ("", "_env", "_command")}
    for key, value in sorted(table.items()):
        if key not in hidden and key != "plugins":
            out.write(f"  {key} = {value!r}\n")
    for kind, label in SECRET_SOURCES.items():
        out.write(f"  {label}: {secret_source(table, kind, environ)}\n")
    for plugin in table.get("plugins", []) or []:
        if isinstance(plugin, dict):
            env = plugin.get("env")
            names = f" (env: {', '.join(sorted(map(str, env)))})" if isinstance(env, dict) and env else ""
            out.write(f"  plugin {plugin.get('name')}: {plugin.get('command')}{names}\n")
    return 0


def add_profile(
    name: str,
    fields: Mapping[str, Any],
    make_default: bool,
    out: TextIO,
    warn: Warn,
) -> int:
    path, data = _load(warn)
    if fields.get("env_type") is not None and fields["env_type"] not in {t.value for t in EnvironmentType}:
        raise ConfigError(f"--env-type must be one of {', '.join(t.value for t in EnvironmentType)}")
    profiles = dict(_profiles(data))
    profiles[name] = {key: value for key, value in fields.items() if value is not None}
    data = {**data, "profiles": profiles}
    if make_default or "default_profile" not in data:
        data["default_profile"] = name
    write_config(path, data)
    out.write(f"saved profile {name} to {path}\n")
    return 0


def remove_profile(name: str, out: TextIO, warn: Warn) -> int:
    path, data = _load(warn)
    profiles = dict(_profiles(data))
    if name not in profiles:
        raise ConfigError(f"{path}: unknown profile {name!r}; see `platos-tui profile list`")
    del profiles[name]
    data = {**data, "profiles": profiles}
    if data.get("default_profile") == name:
        data.pop("default_profile")
    write_config(path, data)
    out.write(f"removed profile {name} from {path}\n")
    return 0
