"""Profiles and settings: TOML in the user config dir, env overrides, secrets resolved at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tui.model import EnvironmentType, StuckThresholds


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When runs, tool calls and waits count as stuck; read from the profile."""

    dequeued_seconds: float = 120.0
    executing_seconds: float = 900.0
    tool_call_seconds: float = 120.0
    waitpoint_seconds: float = 3600.0

    def stuck(self) -> StuckThresholds:
        return StuckThresholds(
            dequeued=timedelta(seconds=self.dequeued_seconds),
            executing=timedelta(seconds=self.executing_seconds),
        )


@dataclass(frozen=True, slots=True)
class Plugin:
    """An external recovery command (argv template with `{name}` placeholders), run without a shell."""

    name: str
    command: str
    description: str = ""


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
    allow_insecure_http: bool = False
    plugins: tuple[Plugin, ...] = ()
    keymap: tuple[tuple[str, str], ...] = ()
    demo: bool = False

    @property
    def production(self) -> bool:
        return self.env_type is EnvironmentType.PRODUCTION
