"""Start a finding's recovery from a key: resolve its targets, then hand over to the action flows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from textual.screen import Screen

from tui.actions.inputs import from_query
from tui.api.errors import ApiError
from tui.config import Plugin
from tui.diagnosis import Action, Finding, RunFacts
from tui.model import Queue, Run
from tui.model.text import clean
from tui.screens.session import Session

if TYPE_CHECKING:
    from tui.screens.flows import ActionFlows

PLUGIN = "plugin"


def known_runs(facts: RunFacts | None) -> dict[str, Run]:
    """Runs the gathered facts already hold, by id, so a cancel needs no extra lookup."""
    if facts is None:
        return {}
    runs = {facts.run.id: facts.run}
    for q in facts.env.queues:
        runs.update({r.id: r for r in (*(q.holders or ()), *q.queued_runs)})
    runs.update({r.id: r for r in facts.env.env_holders or ()})
    runs.update({t.run.id: t.run for t in facts.env.candidates})
    return runs


class RecoveryRunner:
    """Maps the recovery keys of a finding to `session.flows` (the confirm flows of the actions work)."""

    def __init__(self, screen: Screen[None], session: Session) -> None:
        self._screen = screen
        self._session = session
        self._busy: set[str] = set()
        self.calls = 0
        """How many flows were started (for tests)."""

    @property
    def plugin_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self._session.settings.plugins)

    def _plugin(self, finding: Finding) -> Plugin | None:
        by_name = {p.name: p for p in self._session.settings.plugins}
        return next((by_name[r.external] for r in finding.recovery if r.external in by_name), None)

    def no_plugin(self, finding: Finding) -> str:
        """Why `x` does nothing on this finding: which external step it has, and the plugin that would run it."""
        steps = [r.external for r in finding.recovery if r.external]
        if not steps:
            return "Nothing to run: this finding's recovery is all in-app keys, no external step"
        configured = ", ".join(sorted(self.plugin_names)) or "none"
        return (
            f"No plugin for this finding: its external step is {clean(steps[0], 40)}; add a plugin with that name "
            f"to the profile ([[profiles.NAME.plugins]]) to run it from here (configured: {clean(configured, 80)})"
        )

    def targets(self, finding: Finding, what: str) -> list[str]:
        return [r.target for r in finding.recovery if r.action is not None and r.action.value == what and r.target]

    def offers(self, finding: Finding, what: str) -> bool:
        if what == PLUGIN:
            return self._plugin(finding) is not None
        return any(r.action is not None and r.action.value == what for r in finding.recovery)

    def start(
        self,
        finding: Finding,
        what: str,
        facts: RunFacts | None = None,
        runs: Mapping[str, Run] | None = None,
        blocked: Mapping[str, str] | None = None,
    ) -> None:
        """Run the flow in a worker of the screen; `blocked` maps token ids to the run each one blocks."""
        flows = self._session.flows
        if flows is None:
            self._screen.notify("Recovery actions are not available yet", severity="warning")
            return
        if what in self._busy:
            self._screen.notify(f"{what.replace('_', ' ')} is already in progress", severity="warning")
            return
        if what == PLUGIN and self._plugin(finding) is None:
            self._screen.notify(self.no_plugin(finding), severity="warning", timeout=8)
            return
        index = {**known_runs(facts), **(runs or {})}
        self._busy.add(what)
        self._screen.run_worker(self._run(flows, finding, what, index, blocked or {}), group="recovery")

    async def _run(
        self, flows: ActionFlows, finding: Finding, what: str, runs: Mapping[str, Run], blocked: Mapping[str, str]
    ) -> None:
        try:
            call = await self._call(flows, finding, what, runs, blocked)
            if call is not None:
                self.calls += 1
                await call()
        except ApiError as error:
            self._screen.notify(f"Could not start the recovery: {clean(str(error), 160)}", severity="error")
        except Exception as error:  # a bug in a flow must not take the console down during an incident
            self._screen.log.error(f"recovery {what} failed: {error!r}")
            self._screen.notify(f"Recovery failed: internal error ({type(error).__name__})", severity="error")
        finally:
            self._busy.discard(what)
        done = getattr(self._screen, "recovered", None)
        if callable(done):
            done()

    async def _call(
        self, flows: ActionFlows, finding: Finding, what: str, runs: Mapping[str, Run], blocked: Mapping[str, str]
    ) -> Callable[[], Awaitable[object]] | None:
        targets = self.targets(finding, what)
        client = self._session.client
        if what == PLUGIN:
            plugin = self._plugin(finding)
            return None if plugin is None else (lambda: flows.run_plugin(plugin, preset=None))
        if what == Action.CANCEL.value:
            found = [runs[t] if t in runs else (await client.retrieve_run(t)).run for t in targets]
            return (lambda: flows.cancel_runs(found)) if found else None
        if what == Action.COMPLETE_TOKEN.value and targets:
            token = targets[0]
            run_id = blocked.get(token) or finding.run_id
            return lambda: flows.complete_token(token, blocked_run_id=run_id)
        if what == Action.CANCEL_MATCHING.value and targets:
            try:
                matching = from_query(targets[0])
            except ValueError as error:
                self._screen.notify(f"This finding's filter is not usable: {clean(str(error), 120)}", severity="error")
                return None
            return lambda: flows.cancel_matching(matching)
        if what == Action.ROLLBACK.value:
            if not targets:
                self._screen.notify("This finding names no version to roll back to", severity="warning")
                return None
            version = targets[0]
            return lambda: flows.rollback(version)
        if what == Action.REPAIR_QUEUES.value:
            return lambda: flows.repair(queues=tuple(targets))
        if what in (Action.RESUME_QUEUE.value, Action.OVERRIDE_CONCURRENCY.value):
            if not targets:
                self._screen.notify(
                    "The environment itself is paused: resume it from the platform, not a queue", severity="warning"
                )
                return None
            queue = await self._queue(targets[0])
            if queue is None:
                return None
            if what == Action.OVERRIDE_CONCURRENCY.value:
                return lambda: flows.override(queue)
            if not queue.paused:
                self._screen.notify(f"Queue {clean(queue.name, 60)} is not paused any more", timeout=3)
                return None
            return lambda: flows.toggle_pause(queue)
        return None

    async def _queue(self, stored_name: str) -> Queue | None:
        """The queue as it is now (pause toggles, so acting on an old copy could pause it again)."""
        queues: Iterable[Queue] = await self._session.client.list_queues()
        found = next((q for q in queues if q.stored_name == stored_name), None)
        if found is None:
            self._screen.notify(f"Queue {clean(stored_name, 60)} not found", severity="warning")
        return found
