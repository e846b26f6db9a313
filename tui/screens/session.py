"""What every pane shares: settings, the client, the clock, the polling switch, freshness and caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tui.api.client import ConnectionState, EngineClient
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import JSON, EnvironmentInfo, QueueMetrics, QueueType

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tui.diagnosis import EnvFacts, Finding
    from tui.diagnosis.scene import Scene
    from tui.journal import Journal
    from tui.screens.flows import ActionFlows


@dataclass(frozen=True)
class TriageResult:
    """One triage of the environment, shared by every pane: the facts, the findings and their scene."""

    env: EnvFacts
    findings: list[Finding]
    scene: Scene
    took: float
    """Wall-clock seconds the triage took."""
    finished: float
    """`time.monotonic()` when it finished."""


MISSED_REFRESHES_FOR_STALE = 3


@dataclass
class PaneStatus:
    """Freshness of one pane's data: when it last succeeded and why it last failed."""

    updated_at: datetime | None = None
    failures: int = 0
    error: str | None = None
    succeeded_at: float | None = None
    """Monotonic time of the last success: staleness is real time passing, whatever clock the screens show."""

    def succeeded(self, now: datetime, at: float | None = None) -> None:
        self.updated_at = now
        self.succeeded_at = time.monotonic() if at is None else at
        self.failures = 0
        self.error = None

    def failed(self, reason: str) -> None:
        self.failures += 1
        self.error = reason

    def stale(self, interval: float, at: float | None = None, *, trying: bool = False) -> bool:
        """Old because polling fails: the last success is older than three intervals, and every poll since
        failed or is still trying (`trying`: a poll in flight, its reads retrying against a dead server).

        Old data that nobody tried to refresh (polling paused, a hidden pane) is not stale: it says so elsewhere.
        """
        if not (self.failures or trying) or self.succeeded_at is None:
            return False
        now = time.monotonic() if at is None else at
        return now - self.succeeded_at > MISSED_REFRESHES_FOR_STALE * interval


def triage_cost(session: Session) -> str:
    """` · triage 62 req`: what the latest triage cost, for the top bar (empty before the first)."""
    triaged = session.triaged
    return f" · triage {triaged.env.requests} req" if triaged is not None else ""


@dataclass
class Session:
    """Mutable state shared by the panes of one app; `generation` changes when the profile does."""

    settings: Settings
    client: EngineClient
    clock_override: Callable[[], datetime] | None = None
    """A fixed clock (tests); by default ages follow the server's clock (`EngineClient.server_now`)."""
    paused: bool = False
    read_only_locked: bool = False
    """Started with --read-only: a hard lock that `:write` cannot lift (a profile's `read_only` can be)."""
    generation: int = 0
    panes: dict[str, PaneStatus] = field(default_factory=dict)
    metrics: dict[str, tuple[datetime, QueueMetrics]] = field(default_factory=dict)
    """Queue metrics by stored queue name, with the time they expire (one bucket after they were read)."""
    environment: EnvironmentInfo | None = None
    run_queue: tuple[str, QueueType] | None = None
    """The queue the runs pane is scoped to, set by `enter` on a queue."""
    created_run: str | None = None
    """The run the latest replay created: `N` opens it."""
    make_flows: Callable[[Session], ActionFlows] | None = None
    """Builds the recovery flows the first time a key needs them."""
    _flows: ActionFlows | None = field(default=None, repr=False)
    triaged: TriageResult | None = None
    """The latest triage: the triage pane shows it, the runs pane marks STUCK from it (one answer)."""
    _triaging: asyncio.Task[TriageResult] | None = field(default=None, repr=False)
    journal: Journal | None = None
    """The incident journal (None: nothing is journaled, as in most tests)."""
    _link: bool | None = field(default=None, repr=False)
    """Whether the server was reachable at the last poll, for the journal's connection lost / recovered."""

    def __post_init__(self) -> None:
        if self.journal is not None:
            self.journal.protect(self.settings.secret_key, self.settings.admin_token)

    def clock(self) -> datetime:
        """Now, by the server's clock: every age and "stuck for" is judged against it, not this machine's."""
        return self.clock_override() if self.clock_override is not None else self.client.server_now()

    @property
    def flows(self) -> ActionFlows | None:
        # Built on first use: the flows pull in every action screen, which first paint does not need.
        if self._flows is None and self.make_flows is not None:
            self._flows = self.make_flows(self)
        return self._flows

    @flows.setter
    def flows(self, value: ActionFlows | None) -> None:
        """Replace the flows (tests, or None for "no actions here"); nothing is built lazily after that."""
        self._flows, self.make_flows = value, None

    async def triage(self, *, max_age: float = 0.0) -> TriageResult:
        """The latest triage if younger than `max_age` seconds, else a new one; one at a time for every pane.

        A triage is work the operator asked for (a pane that shows findings or STUCK marks), so it bursts
        within the server's bucket rather than trickling at the polling budget.
        """
        known = self.triaged
        if known is not None and time.monotonic() - known.finished <= max_age:
            return known
        if self._triaging is None or self._triaging.done():
            self._triaging = asyncio.ensure_future(self._run_triage(self.generation))
        # A pane that stops waiting must not cancel the triage another pane is waiting on.
        return await asyncio.shield(self._triaging)

    async def _run_triage(self, generation: int) -> TriageResult:
        from tui.diagnosis.gather import gather_environment_facts
        from tui.diagnosis.scene import Scene
        from tui.diagnosis.triage import findings_of

        thresholds = self.settings.thresholds
        started = time.monotonic()
        env = await gather_environment_facts(self.client, thresholds, self.clock())
        scene = Scene.of(env, thresholds)
        result = TriageResult(env, findings_of(scene), scene, time.monotonic() - started, time.monotonic())
        if generation == self.generation:
            self.triaged = result
            if self.journal is not None:
                from tui.journal.sightings import sightings

                self.journal.triage(
                    self.settings.profile, self.settings.env_label, env.now, sightings(result.findings, env)
                )
        return result

    def journal_audit(self, record: Mapping[str, JSON]) -> None:
        """The audit log's sink: each action record goes into the journal too, at the session's time."""
        if self.journal is not None:
            self.journal.audit(record, self.clock())

    def note_connection(self) -> None:
        """After each poll: journal the moment the server stops answering, and the moment it answers again."""
        stats = self.client.stats()
        if self.journal is None or stats.state is ConnectionState.RETRYING or stats.state is ConnectionState.CONNECTING:
            return
        up = stats.state is ConnectionState.CONNECTED
        if up != self._link and not (up and self._link is None):
            state = "recovered" if up else "lost"
            self.journal.connection(
                self.settings.profile, self.settings.env_label, self.clock(), state, stats.last_error
            )
        self._link = up

    def pane(self, name: str) -> PaneStatus:
        return self.panes.setdefault(name, PaneStatus())

    @property
    def guard(self) -> WriteGuard:
        return self.client.guard

    def switch(self, settings: Settings, client: EngineClient) -> EngineClient:
        """Point every pane at another profile; returns the old client for the caller to close."""
        old = self.client
        self.settings = settings
        self.client = client
        self.generation += 1
        self.panes.clear()
        self.metrics.clear()
        self.environment = None
        self.run_queue = None
        self.triaged = None
        self._triaging = None
        self._flows = None  # the next key builds them again, against the new client
        self._link = None
        if self.journal is not None:
            self.journal.protect(settings.secret_key, settings.admin_token)
        return old

    def cached_metrics(self, stored_name: str, now: datetime) -> QueueMetrics | None:
        entry = self.metrics.get(stored_name)
        if entry is None:
            return None
        return entry[1]

    def metrics_due(self, stored_name: str, now: datetime) -> bool:
        entry = self.metrics.get(stored_name)
        return entry is None or entry[0] <= now
