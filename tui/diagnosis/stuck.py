"""One definition of "stuck" for every view: the runs pane's marks, triage, and `diagnose` all ask `assess`.

A run is stuck when it has sat in its status past the window for that status and nothing says it is still
moving. What says it is moving: its trace changed within `progress_seconds` (slow, not hung), a token it waits
on times out by itself within `token_horizon_seconds`, its queue's backlog is draining, or the entity its open
call waits on answered a later call (that one call is slow, the entity is fine). Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tui.config import Thresholds
from tui.diagnosis.facts import OpenSpan, RunTrace, status_age
from tui.diagnosis.fmt import dur, name
from tui.model import Queue, QueueMetrics, Run, RunStatus, TokenDetail, TokenStatus, draining, effective_limit

TIMED_WAITS = ("wait.for", "wait.until")
"""Span names of waits that end by themselves at a set time."""
TIMEOUT_GRACE = timedelta(minutes=2)
"""How late a token's timeout may fire (the engine's timers run in batches) before it counts as lost."""


class State(StrEnum):
    OK = "ok"
    SLOW = "slow"
    """Past its window, but something shows it is still moving."""
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A run's state in words: `reason` is what the screen and the evidence say about it."""

    state: State
    reason: str
    age: timedelta
    window: timedelta | None = None

    @property
    def stuck(self) -> bool:
        return self.state is State.STUCK


class Flow(StrEnum):
    """How a queue's backlog moves, from its counts and metrics: what decides whether its QUEUED runs are stuck."""

    IDLE = "idle"
    FRESH = "fresh"
    """A backlog whose runs have not waited past the window yet (or not known to)."""
    DRAINING = "draining"
    """Dequeue goes on and the backlog is well below its peak: a burst or a recovery in progress."""
    PAUSED = "paused"
    STALLED = "stalled"
    """Nothing dequeued in the metrics window."""
    CAPPED = "capped"
    """At its concurrency limit, dequeueing, and runs wait past the window with the backlog not falling."""
    STARVED = "starved"
    """Free slots, dequeueing, and runs still wait past the window: too few workers pull."""
    UNMEASURED = "unmeasured"
    """A backlog with no metrics read: only the runs' own ages speak."""

    @property
    def moving(self) -> bool:
        return self in (Flow.IDLE, Flow.FRESH, Flow.DRAINING)


def window_for(status: RunStatus, th: Thresholds) -> timedelta | None:
    """How long a run may sit in this status before it can count as stuck (None: no window applies)."""
    global _windows
    if th is not _windows[0]:
        # Asked once per run judged: the windows of the latest thresholds are kept.
        _windows = (
            th,
            {
                RunStatus.QUEUED: timedelta(seconds=th.dequeued_seconds),
                RunStatus.DEQUEUED: timedelta(seconds=th.dequeued_seconds),
                RunStatus.EXECUTING: timedelta(seconds=th.executing_seconds),
                RunStatus.WAITING: timedelta(seconds=th.waitpoint_seconds),
            },
        )
    return _windows[1].get(status)


_windows: tuple[Thresholds | None, dict[RunStatus, timedelta]] = (None, {})


def queue_flow(
    queue: Queue,
    metrics: QueueMetrics | None,
    env_limit: int | None,
    oldest_wait: timedelta | None,
    th: Thresholds,
    *,
    env_paused: bool = False,
) -> Flow:
    """The queue's flow; `oldest_wait` is the longest a sampled QUEUED run has waited (None: none sampled)."""
    if queue.queued <= 0:
        return Flow.IDLE
    if queue.paused or env_paused:
        return Flow.PAUSED
    if metrics is None:
        return Flow.UNMEASURED
    if metrics.started_count <= 0:
        return Flow.STALLED
    if draining(queue, metrics):
        return Flow.DRAINING
    if oldest_wait is None or oldest_wait <= timedelta(seconds=th.dequeued_seconds):
        return Flow.FRESH
    limit = effective_limit(queue, env_limit)
    return Flow.CAPPED if limit is not None and queue.running >= limit else Flow.STARVED


@dataclass(frozen=True, slots=True)
class Answers:
    """When each entity (and each call, by span message) last answered a call: the latest end of a call that
    ended well."""

    latest_ok: Mapping[str, datetime] = field(default_factory=dict)

    @classmethod
    def from_traces(cls, traces: Iterable[RunTrace]) -> Answers:
        latest: dict[str, datetime] = {}
        for trace in traces:
            for call in trace.calls:
                if not call.ok:
                    continue
                for key in (call.entity, call.message):
                    if key is not None and (key not in latest or latest[key] < call.ended_at):
                        latest[key] = call.ended_at
        return cls(latest)

    def answered_recently(self, span: OpenSpan, now: datetime, window: timedelta) -> datetime | None:
        """When the entity of this call last answered a call, if within `window` of now (None: not seen).

        An entity that answered within the per-call threshold is reachable, and this open call is its own
        problem; calls that ended as an outage began are older than that by the time any call is overdue.
        """
        seen = [self.latest_ok.get(k) for k in (span.entity, span.message) if k is not None]
        recent = [t for t in seen if t is not None and t >= now - window]
        return max(recent) if recent else None


NO_ANSWERS = Answers()
NO_BROKEN: Mapping[str, str] = {}


def hung_calls(trace: RunTrace, now: datetime, th: Thresholds) -> list[OpenSpan]:
    """Open tool calls past the per-call threshold with nothing else in the run moving since they began."""
    limit = timedelta(seconds=th.tool_call_seconds)
    return [
        s
        for s in trace.open_spans
        if s.entity is not None
        and s.age(now) > limit
        and (trace.last_activity is None or trace.last_activity <= s.started_at)
    ]


@dataclass(frozen=True, slots=True)
class TokenWait:
    """The run waits on this token, still WAITING, for `waited`."""

    span: OpenSpan
    token: TokenDetail
    waited: timedelta


def token_wait(trace: RunTrace, now: datetime) -> TokenWait | None:
    """The longest wait on a token that is still WAITING, if the run has one open."""
    waits = []
    for span in trace.open_spans:
        detail = trace.token(span.token_id) if span.token_id is not None else None
        if detail is not None and detail.token.status is TokenStatus.WAITING:
            waits.append(TokenWait(span, detail, max(span.age(now), now - detail.token.created_at)))
    return max(waits, key=lambda w: w.waited) if waits else None


def times_out_soon(token: TokenDetail, now: datetime, th: Thresholds) -> bool:
    """The token's own timeout will resume the run within the horizon: that timeout is its resumer."""
    timeout = token.token.timeout_at
    if timeout is None:
        return False
    # A timeout that passed minutes ago with the token still WAITING fired nothing: no resumer after all.
    return now - TIMEOUT_GRACE <= timeout <= now + timedelta(seconds=th.token_horizon_seconds)


def token_words(token: TokenDetail, now: datetime) -> str:
    timeout = token.token.timeout_at
    if timeout is None:
        return "no timeout"
    return f"times out in {dur(timeout - now)}" if timeout > now else f"timed out {dur(now - timeout)} ago"


def progressed(trace: RunTrace | None, now: datetime, th: Thresholds) -> datetime | None:
    """When the trace last moved, if within `progress_seconds` (None: no recent activity seen)."""
    if trace is None:
        return None
    marks = [trace.last_activity, *(s.started_at for s in trace.open_spans if s.token_id is None)]
    latest = max((m for m in marks if m is not None), default=None)
    if latest is None or now - latest > timedelta(seconds=th.progress_seconds):
        return None
    return latest


def _waiting_words(run: Run, age: timedelta) -> str:
    if run.status is RunStatus.DEQUEUED:
        return f"dequeued {dur(age)} ago, its attempt never started"
    return f"waiting for a worker for {dur(age)}"


def assess(
    run: Run,
    now: datetime,
    th: Thresholds,
    trace: RunTrace | None = None,
    *,
    answers: Answers = NO_ANSWERS,
    flow: Flow | None = None,
    broken: Mapping[str, str] = NO_BROKEN,
) -> Verdict:
    """The run's verdict. `trace`, `answers` and the `flow` of its queue sharpen it when known; `broken` maps
    versions whose runs cannot start to why (a bad deploy): an unfinished run locked to one is stuck."""
    age = status_age(run, now, trace)
    window = window_for(run.status, th)
    if run.terminal:
        return Verdict(State.OK, f"{run.status.value} (finished)", age)
    if run.status is RunStatus.DELAYED:
        until = f" until {dur(run.delayed_until - now)} from now" if run.delayed_until else ""
        return Verdict(State.OK, f"delayed{until}", age)
    if run.version is not None and run.version in broken:
        return Verdict(
            State.STUCK,
            f"{run.status.value}, locked to version {name(run.version)}: {broken[run.version]}",
            age,
            window,
        )
    if run.status is RunStatus.PENDING_VERSION:
        limit = timedelta(seconds=th.pending_version_seconds)
        words = f"waiting {dur(age)} for a deployed version with its task"
        return Verdict(State.STUCK if age > limit else State.OK, words, age, limit)
    if window is None:
        return Verdict(State.OK, run.status.value, age)
    if run.status in (RunStatus.QUEUED, RunStatus.DEQUEUED):
        words = _waiting_words(run, age)
        if age <= window:
            return Verdict(State.OK, words, age, window)
        if run.status is RunStatus.QUEUED and flow is not None and flow.moving:
            return Verdict(State.SLOW, f"{words}; its queue is {flow.value}", age, window)
        return Verdict(State.STUCK, words, age, window)
    if trace is not None:
        verdict = _from_trace(run, now, th, trace, answers, age, window, flow)
        if verdict is not None:
            return verdict
    if age <= window:
        return Verdict(State.OK, f"{run.status.value} for {dur(age)}", age, window)
    moved = progressed(trace, now, th)
    if moved is not None:
        words = f"{run.status.value} for {dur(age)}, but its trace moved {dur(now - moved)} ago"
        return Verdict(State.SLOW, words, age, window)
    return Verdict(State.STUCK, f"{run.status.value} for {dur(age)} with no sign of progress", age, window)


def resumed_by(trace: RunTrace) -> tuple[datetime | None, str] | None:
    """When everything the run waits on finished, and what it was: every token COMPLETED, or every child run of a
    `triggerAndWait`/`batchTriggerAndWait` finished. None while something is still pending."""
    if trace.tokens:
        done = [t.token.completed_at for t in trace.tokens if t.token.status is TokenStatus.COMPLETED]
        if len(done) != len(trace.tokens):
            return None
        return max((d for d in done if d is not None), default=None), "its token completed"
    if trace.children_done_at is not None:
        return trace.children_done_at, "its child runs finished"
    return None


def _resumable(
    run: Run, now: datetime, th: Thresholds, trace: RunTrace, window: timedelta, flow: Flow | None
) -> Verdict | None:
    """A WAITING run whose tokens all completed waits for a worker to resume it: judged like a QUEUED run, in
    its queue's flow (a backlog it waits its turn in; with none, it should have been pulled at once)."""
    resumed = resumed_by(trace)
    if run.status is not RunStatus.WAITING or resumed is None:
        return None
    since, what = resumed
    age = max(timedelta(0), now - since) if since is not None else status_age(run, now)
    limit = timedelta(seconds=th.dequeued_seconds)
    words = f"{what} {dur(age)} ago; waiting for a worker to resume it"
    if age <= limit:
        return Verdict(State.OK, words, age, limit)
    if flow in (Flow.FRESH, Flow.DRAINING, Flow.CAPPED):
        return Verdict(State.SLOW, f"{words}; its queue is {flow.value}", age, limit)
    return Verdict(State.STUCK, words, age, limit)


def _from_trace(
    run: Run,
    now: datetime,
    th: Thresholds,
    trace: RunTrace,
    answers: Answers,
    age: timedelta,
    window: timedelta,
    flow: Flow | None = None,
) -> Verdict | None:
    """What the open spans say, when they decide: a hung call, or a token wait."""
    if run.status is RunStatus.EXECUTING:
        for span in sorted(hung_calls(trace, now, th), key=lambda s: s.started_at):
            if answers.answered_recently(span, now, timedelta(seconds=th.tool_call_seconds)) is None:
                words = f"call to `{name(span.entity)}` open for {dur(span.age(now))}, no answer"
                return Verdict(State.STUCK, words, age, window)
    timer = next((s for s in trace.open_spans if s.token_id is None and s.message.startswith(TIMED_WAITS)), None)
    if timer is not None:
        return Verdict(State.OK, f"{run.status.value}: waits on {name(timer.message)}, a timer", age, window)
    wait = token_wait(trace, now)
    if wait is None:
        return _resumable(run, now, th, trace, window, flow)
    token = wait.token
    words = f"waits on token {name(token.token.id)} for {dur(wait.waited)}, {token_words(token, now)}"
    if wait.waited <= timedelta(seconds=th.waitpoint_seconds):
        return Verdict(State.OK, words, age, window)
    if times_out_soon(token, now, th):
        return Verdict(State.SLOW, words, age, window)
    return Verdict(State.STUCK, words + ", nothing resumes it", age, window)
