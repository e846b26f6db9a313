"""The environment read once for a diagnosis: every derived fact (flows, answers, verdicts, stall) computed one time.

Rules ask the scene instead of re-deriving from the raw facts, so a triage stays linear in the number of
queues and every view judges a run with the same `assess` call and the same context.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tui.config import Thresholds
from tui.diagnosis.facts import EnvFacts, QueueFacts, RunTrace, status_age
from tui.diagnosis.fmt import name
from tui.diagnosis.incidents import Deadlock, Unrunnable, deadlock, orphans, unrunnable
from tui.diagnosis.stuck import Answers, Flow, Verdict, assess, queue_flow
from tui.model import QueueType, Run, RunStatus, stored_queue_name

T = TypeVar("T")

STALL_SAMPLE = 20
"""Backlogged queues measured with nothing started that show a stall when not every active queue was measured."""


@dataclass(frozen=True, slots=True)
class Stall:
    """The environment-wide picture behind worker_pool_empty."""

    stalled: tuple[QueueFacts, ...]
    checked: int
    backlog: int


@dataclass
class Scene:
    """Facts plus what follows from them; build with `Scene.of`."""

    env: EnvFacts
    th: Thresholds
    answers: Answers
    traces: dict[str, RunTrace]
    """Every trace read (candidates, slot holders, samples), by run id."""
    flows: dict[str, Flow]
    """Each queue's flow, by stored name."""
    queue_of: dict[str, str]
    """Stored queue name of each run seen in a queue's listing, by run id."""
    stall: Stall | None = None
    orphans: frozenset[str] = frozenset()
    """QUEUED runs no queue counts (see `incidents.orphans`)."""
    unrunnable: Unrunnable | None = None
    deadlock: Deadlock | None = None
    _verdicts: dict[str, Verdict] = field(default_factory=dict)
    _memo: dict[Hashable, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, env: EnvFacts, th: Thresholds, *, trace: RunTrace | None = None, lost: frozenset[str] = frozenset()
    ) -> Scene:
        """The scene of a triage, or of one run's diagnosis (with that run's `trace`); `lost` are runs known to
        be in no queue's count besides those the facts show (a diagnosed run no queue holds)."""
        traces: dict[str, RunTrace] = {}
        holders = (t for q in env.queues for t in q.holder_traces)
        for t in (*env.samples, *env.deploys.live_traces, *holders, *env.candidates, *((trace,) if trace else ())):
            traces[t.run.id] = t
        queue_of: dict[str, str] = {}
        for q in env.queues:
            for run in (*(q.holders or ()), *q.queued_runs):
                queue_of[run.id] = q.name
        lost = orphans(env, th) | lost
        flows = {
            q.name: queue_flow(
                q.queue, q.metrics, env.env_limit, oldest_wait(q, env.now, lost), th, env_paused=env.env_paused
            )
            for q in env.queues
        }
        scene = cls(env, th, Answers.from_traces(traces.values()), traces, flows, queue_of, orphans=lost)
        scene.unrunnable = unrunnable(env, traces.values(), th)
        scene.deadlock = deadlock(env, traces, th)
        scene.stall = environment_stall(env)
        if scene.stall is None and any(q.started for q in env.queues):
            # Workers pull elsewhere but not here, with slots free: they are too few (or all busy elsewhere).
            for q in env.queues:
                if flows[q.name] is Flow.STALLED and not env.at_cap(q) and not env.env_saturated:
                    flows[q.name] = Flow.STARVED
        return scene

    @property
    def now(self) -> datetime:
        return self.env.now

    @property
    def broken(self) -> dict[str, str]:
        """Versions whose runs cannot start, and why: what `assess` needs to call their runs stuck."""
        return self.once("broken", self._broken)

    def _broken(self) -> dict[str, str]:
        bad = self.unrunnable
        if bad is None:
            return {}
        why = f"its runs do not start ({name(bad.error)})" if bad.error else "its runs do not start"
        return {bad.live.version: why}

    def once(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()` the first time `key` is asked for, the same value after: environment-wide findings are
        asked for once per queue, and rebuilding them each time makes a large triage quadratic."""
        if key not in self._memo:
            self._memo[key] = build()
        value: T = self._memo[key]
        return value

    @property
    def stalled_names(self) -> frozenset[str]:
        stalled = self.stall.stalled if self.stall is not None else ()
        return self.once("stalled-names", lambda: frozenset(q.name for q in stalled))

    @property
    def starved(self) -> list[QueueFacts]:
        return self.once("starved", lambda: [q for q in self.env.queues if self.flows[q.name] is Flow.STARVED])

    def trace(self, run_id: str) -> RunTrace | None:
        return self.traces.get(run_id)

    def flow(self, q: QueueFacts) -> Flow:
        return self.flows[q.name]

    def verdict(self, run: Run) -> Verdict:
        """`assess` with everything the scene knows about the run: its trace, the entities' answers, its queue."""
        known = self._verdicts.get(run.id)
        if known is not None:
            return known
        verdict = assess(
            run,
            self.now,
            self.th,
            self.traces.get(run.id),
            answers=self.answers,
            flow=self._flow_of(run),
            broken=self.broken,
        )
        self._verdicts[run.id] = verdict
        return verdict

    def judge(self, run: Run, now: datetime) -> Verdict:
        """`assess` at another moment with this scene's context: the runs pane's marks between two triages.

        The trace counts only while the run is the version that was traced (a run that moved since has a
        new story); its queue's flow and the entities' answers count as they were last seen.
        """
        trace = self.follows(run)
        return assess(run, now, self.th, trace, answers=self.answers, flow=self._flow_of(run), broken=self.broken)

    def follows(self, run: Run) -> RunTrace | None:
        """The trace `judge` reads for the run: only while the run is the version that was traced. Without one, a
        run's verdict changes with time only when its time in status crosses its window."""
        trace = self.traces.get(run.id)
        if trace is not None and (trace.run.status, trace.run.updated_at) != (run.status, run.updated_at):
            return None
        return trace

    def changed_from(self, before: Scene) -> tuple[frozenset[str], frozenset[str]] | None:
        """What may make `judge` differ between `before` and this scene: the run ids (traced in either, an orphan in
        one, or listed in another queue) and the queue names whose flow changed. None: any run may (the thresholds
        or the broken versions changed). A run outside both judges the same, so a new triage need not re-judge it."""
        if self.th != before.th or self.broken != before.broken:
            return None
        # The entities' answers matter only to a traced run's open calls: the traced runs are all in `runs`.
        runs = self.traces.keys() | before.traces.keys() | (self.orphans ^ before.orphans)
        moved = self.queue_of.keys() | before.queue_of.keys()
        runs |= {r for r in moved if self.queue_of.get(r) != before.queue_of.get(r)}
        queues = {q for q in self.flows.keys() | before.flows.keys() if self.flows.get(q) != before.flows.get(q)}
        return frozenset(runs), frozenset(queues)

    def queue_name(self, run: Run) -> str | None:
        """The stored name of the run's queue: where a listing saw it, or for a run out of its queue (waiting,
        executing) the task's own queue, the one it most likely re-enters. None for a QUEUED run no listing saw."""
        queue = self.queue_of.get(run.id) or run.queue
        if queue is None and run.status is not RunStatus.QUEUED:
            queue = stored_queue_name(run.task_identifier, QueueType.TASK)
        return queue

    def _flow_of(self, run: Run) -> Flow | None:
        """The flow of the run's queue; none for a run its queue does not count (it gains nothing from it)."""
        if run.id in self.orphans:
            return None
        queue = self.queue_name(run)
        return self.flows.get(queue) if queue is not None else None

    def stuck_queued(self, q: QueueFacts) -> tuple[Run, ...]:
        """The queue's sampled QUEUED runs that are stuck, longest waiting first."""
        runs = [r for r in q.queued_runs if self.verdict(r).stuck]
        runs.sort(key=lambda r: status_age(r, self.now), reverse=True)
        return tuple(runs)


def oldest_wait(q: QueueFacts, now: datetime, lost: frozenset[str] = frozenset()) -> timedelta | None:
    """How long the longest-waiting sampled QUEUED run of the queue has waited (runs it lost left out)."""
    ages = [status_age(r, now) for r in q.queued_runs if r.status is RunStatus.QUEUED and r.id not in lost]
    return max(ages) if ages else None


def backlog_queues(env: EnvFacts) -> list[QueueFacts]:
    """Queues that have runs waiting and are not paused (a pause explains its own backlog)."""
    return [q for q in env.queues if q.queue.queued > 0 and not q.queue.paused]


def environment_stall(env: EnvFacts) -> Stall | None:
    """Backlog, nothing dequeued in the window in any queue checked, nothing paused, and free slots to fill.

    Paused queues are left out (their backlog is their own cause); a paused environment rules this out. When
    some active queues were not measured (a large environment), the measured ones must be a real sample.
    """
    if env.env_paused or env.env_saturated:
        return None
    if env.engine_report is not None and not env.engine_report.can_dequeue:
        return None
    backlog = backlog_queues(env)
    measured = [q for q in env.queues if q.metrics is not None]
    if not backlog or not measured or not stall_measurable(env):
        return None
    if any(q.started for q in measured):
        return None
    if all(env.at_cap(q) for q in backlog):
        return None  # every backlog sits behind full slots: a blocker or drift, not missing workers
    return Stall(tuple(backlog), len(measured), sum(q.queue.queued for q in backlog))


def stall_measurable(env: EnvFacts) -> bool:
    """Whether the measured queues can show an environment-wide stall: all active queues, or a sample of them.

    An unmeasured queue might be dequeuing, but an empty worker pool stops every queue: STALL_SAMPLE backlogged
    queues (the longest backlogs, measured first) with nothing started is evidence enough.
    """
    active = [q for q in env.queues if q.queue.queued > 0 or q.queue.running > 0]
    if all(q.metrics is not None for q in active):
        return True
    return sum(1 for q in active if q.metrics is not None and q.queue.queued > 0) >= STALL_SAMPLE


def seen_runs(env: EnvFacts) -> dict[str, Run]:
    """Every run the facts hold (traced, listed in a queue, holding a slot, or QUEUED past the window), by id."""
    runs: dict[str, Run] = {r.id: r for r in env.stale_queued}
    for q in env.queues:
        runs.update({r.id: r for r in (*(q.holders or ()), *q.queued_runs)})
    runs.update({r.id: r for r in env.env_holders or ()})
    runs.update({t.run.id: t.run for t in env.candidates})
    return runs
