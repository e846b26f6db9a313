"""Every profile at once: each triaged concurrently with its own client, request budget and deadline.

`platos-tui triage --all-profiles --json` prints:

    {
      "profiles": [{"profile": "prod", "environment": "prod-eu", "envType": "production", "connection":
                    "CONNECTED", "error": null, "findings": 2, "stuckRuns": 7, "worst": "STALLED …" | null,
                    "checked": {...as triage...}, "notes": ["…"]}],
      "findings": [{"profile": "prod", "environment": "prod-eu", ...each triage finding's keys...}]
    }

Exit code: 2 when any profile could not be triaged (its `error` says why; the others are still reported),
else 1 when any has findings, else 0.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from tui.api.client import EngineClient
from tui.api.errors import ApiError, Unauthorized
from tui.config import ConfigError, Settings
from tui.diagnosis.facts import EnvFacts
from tui.diagnosis.findings import Finding
from tui.diagnosis.gather import gather_environment_facts
from tui.diagnosis.report import EXIT_FINDINGS, EXIT_OK, render_triage, triage_json
from tui.diagnosis.triage import affected_runs, triage
from tui.model.text import clean

EXIT_ERROR = 2
PROFILE_SECONDS = 30.0
"""How long one profile may take (settings, secrets and triage) before it is reported as not answering."""

LoadSettings = Callable[[], Settings]
MakeClient = Callable[[Settings], EngineClient]


@dataclass(frozen=True, slots=True)
class ProfileTriage:
    """One profile's triage, or the one line saying why there is none."""

    profile: str
    environment: str = ""
    env_type: str = ""
    production: bool = False
    connection: str = "DISCONNECTED"
    findings: tuple[Finding, ...] = ()
    env: EnvFacts | None = None
    error: str | None = None
    seen_at: datetime | None = None
    """The server's time when the triage finished (None when it failed)."""
    seen_monotonic: float | None = None
    settings: Settings | None = field(default=None, repr=False)

    @property
    def stuck_runs(self) -> int:
        return len(affected_runs(self.findings))

    @property
    def worst(self) -> Finding | None:
        return self.findings[0] if self.findings else None


async def triage_profile(
    name: str, load: LoadSettings, make_client: MakeClient, *, timeout: float = PROFILE_SECONDS
) -> ProfileTriage:
    """Triage one profile with a client of its own (its own request budget); never raises for the profile's
    own failures: a bad configuration, a dead server or a slow one become `error`."""
    client: EngineClient | None = None
    settings: Settings | None = None

    async def run() -> ProfileTriage:
        nonlocal client, settings
        # A secret command may take seconds: in a thread, so other profiles go on meanwhile.
        settings = await asyncio.to_thread(load)
        client = make_client(settings)
        now = await client.server_time()
        env = await gather_environment_facts(client, settings.thresholds, now)
        return ProfileTriage(
            name,
            settings.env_label,
            settings.env_type.value,
            settings.production,
            client.stats().state.value,
            tuple(triage(env, settings.thresholds)),
            env,
            seen_at=client.server_now(),
            seen_monotonic=time.monotonic(),
            settings=settings,
        )

    try:
        async with asyncio.timeout(timeout):
            return await run()
    except Exception as error:  # every failure is this profile's alone: a bad config, a dead server, a bug
        state = "UNAUTHORIZED" if isinstance(error, Unauthorized) else "DISCONNECTED"
        return ProfileTriage(
            name,
            settings.env_label if settings else "",
            settings.env_type.value if settings else "",
            settings.production if settings else False,
            state,
            error=_reason(error, timeout),
            settings=settings,
        )
    finally:
        if client is not None:
            await client.aclose()


def _reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConfigError | ApiError):
        return clean(str(error) or type(error).__name__, 300)
    return f"internal error ({type(error).__name__})"


async def triage_profiles(
    profiles: Sequence[tuple[str, LoadSettings]], make_client: MakeClient, *, timeout: float = PROFILE_SECONDS
) -> list[ProfileTriage]:
    """Every profile concurrently, in the order given; one dead profile never holds up the others."""
    tasks = [triage_profile(name, load, make_client, timeout=timeout) for name, load in profiles]
    return list(await asyncio.gather(*tasks))


def fleet_json(results: Sequence[ProfileTriage]) -> dict[str, Any]:
    profiles: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for result in results:
        plugins = frozenset(p.name for p in result.settings.plugins) if result.settings else frozenset()
        where = {"profile": result.profile, "environment": result.environment}
        entry: dict[str, Any] = {
            **where,
            "envType": result.env_type or None,
            "connection": result.connection,
            "error": result.error,
            "findings": len(result.findings),
            "stuckRuns": result.stuck_runs,
            "worst": result.worst.summary if result.worst else None,
        }
        if result.env is not None:
            single = triage_json(result.findings, result.env, plugins)
            entry.update(checked=single["checked"], notes=single["notes"])
            findings += [{**where, **finding} for finding in single["findings"]]
        profiles.append(entry)
    return {"profiles": profiles, "findings": findings}


def render_fleet(results: Sequence[ProfileTriage]) -> str:
    parts: list[str] = []
    for result in results:
        kind = "PRODUCTION" if result.production else result.env_type
        title = " · ".join(clean(p) for p in (result.profile, result.environment, kind) if p)
        parts.append(f"== {title} ==\n")
        if result.error is not None or result.env is None:
            parts.append(f"error: {clean(result.error or 'no answer')}\n")
        else:
            plugins = frozenset(p.name for p in result.settings.plugins) if result.settings else frozenset()
            parts.append(render_triage(result.findings, result.env, plugins))
        parts.append("\n")
    return "".join(parts)


def fleet_exit(results: Sequence[ProfileTriage]) -> int:
    if any(r.error is not None for r in results):
        return EXIT_ERROR
    return EXIT_FINDINGS if any(r.findings for r in results) else EXIT_OK


async def triage_all_command(
    profiles: Sequence[tuple[str, LoadSettings]],
    make_client: MakeClient,
    as_json: bool,
    out: TextIO,
    err: TextIO,
    *,
    timeout: float = PROFILE_SECONDS,
) -> int:
    """`platos-tui triage --all-profiles [--json]`; each failed profile also gets one line on `err`."""
    results = await triage_profiles(profiles, make_client, timeout=timeout)
    out.write(json.dumps(fleet_json(results), indent=2) + "\n" if as_json else render_fleet(results))
    for result in results:
        if result.error is not None:
            err.write(f"platos-tui: error: profile {clean(result.profile, 40)}: {clean(result.error)}\n")
    return fleet_exit(results)
