"""The runbook's causes as plain rules over a `Scene`: each rule returns a Finding or None. No I/O, no state.

Two tables, each in precedence order (most specific first, see `findings.PRECEDENCE`):

- RUN_RULES look at one run's trace (an open tool call, a token wait).
- QUEUE_RULES look at one queue in its environment (paused, drift, blocker, at cap, workers missing or too few).

Every run a finding names is stuck by `stuck.assess` (through `Scene.verdict`): the one definition the runs
pane, triage and `diagnose` share. `tui.diagnosis.decide` walks the runbook for one run with these rules;
`tui.diagnosis.triage` applies them to the whole environment. To add a cause: write a rule here, add it to a
table, and add its code to `Cause`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter

from tui.diagnosis import incident_rules
from tui.diagnosis.evidence import canceled_check, flow_checks, queue_line, run_age, run_check, started_line
from tui.diagnosis.facts import QueueFacts, RunTrace, status_age
from tui.diagnosis.findings import Action, Cause, Finding, Recovery, VerifyCheck, VerifyKind
from tui.diagnosis.fmt import dur, limit_text, listing, name, plural
from tui.diagnosis.scene import Scene, Stall
from tui.diagnosis.stuck import Flow, hung_calls, resumed_by, times_out_soon, token_wait, token_words
from tui.model import Run, RunStatus

RunRule = Callable[[RunTrace, Scene], Finding | None]
QueueRule = Callable[[QueueFacts, Scene], Finding | None]

BLOCKERS_NAMED = 10
"""How many blocking runs a finding names and offers to cancel one by one."""
CHAINED = frozenset({Cause.LONG_RUNNING_BLOCKER, Cause.CONCURRENCY_AT_CAP, Cause.QUEUE_STATE_DRIFT})
SURFACE = frozenset({*CHAINED, Cause.WORKER_POOL_EMPTY, Cause.WORKER_POOL_UNDERSIZED})
"""Queue causes that a deploy whose runs cannot start explains: its runs hold the slots, or hold the workers."""
"""Queue causes that are only the surface when the slot holders hang on something of their own."""


def root_of(q: QueueFacts, holder_findings: Sequence[Finding | None]) -> Finding | None:
    """What the queue's slot holders hang on, when that is why the queue does not move.

    It is when at least half of the holders hang on one cause, or when the slots barely turned over in the
    window (fewer starts than slots) and every holder that hangs, hangs on it: the others are retries that
    will hang the same way.
    """
    found = [f for f in holder_findings if f is not None]
    if not found:
        return None
    groups: dict[tuple[Cause, str | None], list[Finding]] = {}
    for f in found:
        groups.setdefault((f.cause, f.entity), []).append(f)
    top = max(groups.values(), key=len)
    if 2 * len(top) >= len(holder_findings):
        return top[0]
    stalled = q.started is not None and q.started <= len(holder_findings)
    return top[0] if stalled and len(groups) == 1 else None


NO_RUNS_SAMPLED = "no QUEUED run of this queue was listed past the window (not sampled, or all fresh)"


_ID = attrgetter("id")


def _ids(runs: Sequence[Run]) -> tuple[str, ...]:
    return tuple(map(_ID, runs))


def _oldest(runs: Sequence[Run], sc: Scene) -> str:
    return f", oldest waiting {dur(max(status_age(r, sc.now) for r in runs))}" if runs else ""


# ---------------------------------------------------------------- run rules


def waitpoint_without_resumer(t: RunTrace, sc: Scene) -> Finding | None:
    """The run waits on a token with no timeout (or one past the horizon), WAITING longer than the threshold."""
    if t.run.status not in (RunStatus.WAITING, RunStatus.EXECUTING) or not sc.verdict(t.run).stuck:
        return None
    wait = token_wait(t, sc.now)
    limit = timedelta(seconds=sc.th.waitpoint_seconds)
    if wait is None or wait.waited <= limit or times_out_soon(wait.token, sc.now, sc.th):
        return None
    token, span, run = wait.token.token, wait.span, t.run
    timeout = token_words(wait.token, sc.now)
    return Finding(
        Cause.WAITPOINT_WITHOUT_RESUMER,
        f"run {run.id} waits on token {name(token.id)}: WAITING {dur(wait.waited)}, {timeout}, nothing resumes it",
        evidence=(
            f"run {run.id} is {run.status.value} with an open {name(span.message)} span for {dur(span.age(sc.now))}",
            f"token {name(token.id)}: WAITING for {dur(wait.waited)}, {timeout} (threshold {dur(limit)}; "
            f"a timeout within {dur(sc.th.token_horizon_seconds)} would count as its resumer)",
        ),
        recovery=(
            Recovery(
                f"complete token {name(token.id)} with the body its resumer would send", Action.COMPLETE_TOKEN, token.id
            ),
            Recovery(f"or cancel run {run.id}", Action.CANCEL, run.id),
        ),
        verify=(
            VerifyCheck(VerifyKind.TOKEN_COMPLETED, f"token {name(token.id)} COMPLETED", token.id),
            run_check(
                run.id, (RunStatus.COMPLETED, RunStatus.CANCELED), f"run {run.id} reaches COMPLETED (or CANCELED)"
            ),
        ),
        run_id=run.id,
        runs=(run.id,),
        waiting=1,
    )


def entity_backend_unreachable(t: RunTrace, sc: Scene) -> Finding | None:
    """An open tool call past the per-call threshold, and the entity answered no call within that threshold."""
    if t.run.status is not RunStatus.EXECUTING:
        return None
    limit = timedelta(seconds=sc.th.tool_call_seconds)
    hung = [s for s in hung_calls(t, sc.now, sc.th) if sc.answers.answered_recently(s, sc.now, limit) is None]
    if not hung:
        return None
    span = max(hung, key=lambda s: s.age(sc.now))
    entity = span.entity or "?"
    run = t.run
    return Finding(
        Cause.ENTITY_BACKEND_UNREACHABLE,
        f"run {run.id} hung {dur(span.age(sc.now))} calling entity `{name(entity)}` (per-call threshold {dur(limit)})",
        evidence=(
            f"run {run.id}: EXECUTING for {dur(status_age(run, sc.now, t))}, open tool call {name(span.message)} "
            f"to entity `{name(entity)}` for {dur(span.age(sc.now))} (per-call threshold {dur(limit)})",
        ),
        recovery=(
            Recovery(
                f"check entity `{name(entity)}` backend status (DNS, firewall, deployment)", external="check-entity"
            ),
            Recovery(f"cancel run {run.id}", Action.CANCEL, run.id),
        ),
        verify=(
            run_check(
                run.id,
                (RunStatus.CANCELED, RunStatus.COMPLETED),
                f"run {run.id} reaches CANCELED (or COMPLETED once `{name(entity)}` answers)",
            ),
        ),
        run_id=run.id,
        runs=(run.id,),
        entity=entity,
        waiting=1,
    )


# ---------------------------------------------------------------- queue rules


def queue_paused(q: QueueFacts, sc: Scene) -> Finding | None:
    """The queue (or the whole environment) is paused while runs wait in it."""
    env = sc.env
    if q.queue.queued <= 0 or not (q.queue.paused or env.env_paused):
        return None
    flow = flow_checks(q, env)
    stuck = sc.stuck_queued(q)
    note = None if stuck else "no QUEUED run has waited past the window yet: the pause itself holds them"
    if q.queue.paused:
        return Finding(
            Cause.QUEUE_PAUSED,
            f"queue {name(q.name)} is paused: {q.queue.queued} queued, {q.queue.running} running{_oldest(stuck, sc)}",
            evidence=(queue_line(q, env), started_line(q, env)),
            recovery=(Recovery(f"resume queue {name(q.name)}", Action.RESUME_QUEUE, q.name),),
            verify=flow,
            queues=(q.name,),
            runs=_ids(stuck),
            runs_note=note,
            waiting=q.queue.queued,
        )
    env_name = env.environment.slug if env.environment is not None else "environment"
    return Finding(
        Cause.QUEUE_PAUSED,
        f"environment {name(env_name)} is paused: {q.queue.queued} queued in {name(q.name)}",
        evidence=(f"environment {name(env_name)}: paused", queue_line(q, env)),
        recovery=(
            Recovery(
                "resume the environment (needs a personal access token: POST /api/v1/projects/{ref}/{env}/resume)",
                external="resume-environment",
            ),
        ),
        verify=flow,
        queues=(q.name,),
        runs=_ids(stuck),
        runs_note=note,
        waiting=q.queue.queued,
    )


def queue_state_drift(q: QueueFacts, sc: Scene) -> Finding | None:
    """The queue's counters disagree with the runs it holds; only repair-queues helps."""
    env = sc.env
    evidence: list[str] = [queue_line(q, env)]
    if q.leaks:
        statuses = listing(sorted({r.snapshot_status for r in q.leaks}))
        leaked = plural(len(q.leaks), "leaked slot")
        evidence.append(f"admin dry run: {leaked} in {name(q.name)} (snapshots {statuses})")
    elif env.repair is not None:
        env_leaks = env.leaks_outside_queues()
        if not (env_leaks and env.at_cap(q) and q.started == 0):
            return None
        # The queue pass skips runs already in the environment pass, so a queue's leaks often show up there.
        evidence.append(
            f"admin dry run: {plural(len(env_leaks), 'leaked slot')} in the environment pass "
            f"(snapshots {listing(sorted({r.snapshot_status for r in env_leaks}))}), "
            f"and {name(q.name)} is at cap with 0 started"
        )
    else:
        if q.holders is None or not q.holders_complete or not env.at_cap(q):
            return None
        if len(q.holders) >= q.queue.running:
            return None
        evidence.append(
            f"runs list for {name(q.name)}: {len(q.holders)} DEQUEUED/EXECUTING, "
            f"but the queue counts {q.queue.running} running"
        )
    evidence.append(started_line(q, env))
    stuck = sc.stuck_queued(q)
    return Finding(
        Cause.QUEUE_STATE_DRIFT,
        f"queue {name(q.name)} state drifted: running {q.queue.running} "
        f"of limit {limit_text(env.limit_of(q))} "
        f"held by {len(q.holders) if q.holders is not None else '?'} live runs, {q.queue.queued} queued",
        evidence=tuple(evidence),
        recovery=(Recovery(f"repair queue {name(q.name)} (admin; dry run first)", Action.REPAIR_QUEUES, q.name),),
        verify=flow_checks(q, env),
        queues=(q.name,),
        runs=_ids(stuck),
        runs_note=None if stuck else NO_RUNS_SAMPLED,
        waiting=q.queue.queued,
    )


def _holders(q: QueueFacts, sc: Scene) -> tuple[tuple[Run, ...], str] | None:
    """The runs holding the slots that gate this queue, and where: its own, or the environment's."""
    env = sc.env
    if env.at_cap(q):
        if q.holders is None or len(q.holders) < max(1, q.queue.running):
            return None  # fewer live holders than slots is drift, not a blocker
        return q.holders, f"queue {name(q.name)}"
    if env.env_saturated and env.env_holders:
        return env.env_holders, "the environment"
    return None


@dataclass(frozen=True, slots=True)
class _Blocked:
    """What the findings of a blocked scope say of its holders, built once: when the environment is the scope,
    hundreds of queues wait behind the same holders."""

    youngest: timedelta
    """The age of the youngest holder: how long every slot has been held at least."""
    evidence: tuple[str, ...]
    recovery: tuple[Recovery, ...]
    checks: tuple[VerifyCheck, ...]
    ids: tuple[str, ...]


def _blockers(holders: Sequence[Run], sc: Scene) -> _Blocked | None:
    """What the findings say of the holders, oldest first; None when one of them is not stuck."""
    if not all(sc.verdict(h).stuck for h in holders):
        return None
    ranked = sorted(holders, key=lambda h: run_age(h, sc.now), reverse=True)
    named = [f"{h.id} ({h.task_identifier}, {h.status.value} {dur(run_age(h, sc.now))})" for h in ranked]
    first = ranked[:BLOCKERS_NAMED]
    return _Blocked(
        run_age(ranked[-1], sc.now),
        evidence=(
            f"slot holders ({len(holders)}), none moving: {listing(named, BLOCKERS_NAMED)}",
            *(f"{h.id}: {sc.verdict(h).reason}" for h in ranked[:3]),
        ),
        recovery=tuple(Recovery(f"cancel blocking run {h.id}", Action.CANCEL, h.id) for h in first),
        checks=tuple(canceled_check(h.id, f"blocking run {h.id} reaches CANCELED") for h in first),
        ids=_ids(ranked),
    )


def long_running_blocker(q: QueueFacts, sc: Scene) -> Finding | None:
    """Every slot is held by runs stuck past their window (no progress), and runs wait behind them."""
    env = sc.env
    if q.queue.queued <= 0 or q.queue.paused:
        return None
    held = _holders(q, sc)
    if held is None:
        return None
    holders, scope = held
    blocked = sc.once(("blockers", scope), lambda: _blockers(holders, sc))
    if blocked is None:
        return None  # a holder that is moving (or young) is load, not a blocker
    stuck = sc.stuck_queued(q)
    return Finding(
        Cause.LONG_RUNNING_BLOCKER,
        f"{scope} blocked: all {len(holders)} slots held by runs running ≥ {dur(blocked.youngest)} with no "
        f"progress, {q.started if q.started is not None else '?'} started in {env.window}, {q.queue.queued} queued",
        evidence=(queue_line(q, env), started_line(q, env), *blocked.evidence),
        recovery=blocked.recovery,
        verify=(*blocked.checks, *flow_checks(q, env)),
        queues=(q.name,),
        runs=blocked.ids + _ids(stuck),
        waiting=q.queue.queued,
    )


def concurrency_at_cap(q: QueueFacts, sc: Scene) -> Finding | None:
    """At its limit, runs wait past the window and the backlog does not fall: the limit is what holds them."""
    env = sc.env
    if q.queue.queued <= 0 or q.queue.paused or sc.flow(q) in (Flow.DRAINING, Flow.PAUSED):
        return None
    stuck = sc.stuck_queued(q)
    if not stuck:
        return None
    held = _holders(q, sc)
    if held is not None and all(sc.verdict(h).stuck for h in held[0]):
        return None  # every holder hangs: a blocker, not the limit
    if not q.started and held is None:
        return None  # nothing started and the holders unknown: a stall or drift, not the limit
    if env.at_cap(q):
        limit = env.limit_of(q)
        binding = (
            "environment"
            if q.queue.concurrency_limit is None
            or (env.env_limit is not None and env.env_limit < q.queue.concurrency_limit)
            else "queue"
        )
        scope = f"queue {name(q.name)}"
    elif env.env_saturated:
        limit, binding, scope = env.env_capacity, "environment", "environment"
    else:
        return None
    recovery = [
        Recovery(f"raise the concurrency limit of {name(q.name)} (override)", Action.OVERRIDE_CONCURRENCY, q.name)
    ]
    if binding == "environment":
        recovery = [Recovery("raise the environment concurrency limit (admin), or shed load", external="env-limit")]
    return Finding(
        Cause.CONCURRENCY_AT_CAP,
        f"{scope} at its concurrency cap: running {q.queue.running} of {limit_text(limit)} "
        f"({binding} limit), {q.queue.queued} queued, {q.started or 0} started in {env.window}{_oldest(stuck, sc)}",
        evidence=(
            queue_line(q, env),
            started_line(q, env),
            _trend_line(q),
            f"environment: running {env.env_running} of {limit_text(env.env_capacity)} (with burst)",
            f"{plural(len(stuck), 'sampled run')} waited past the {dur(sc.th.dequeued_seconds)} window"
            f"{_oldest(stuck, sc)}",
        ),
        recovery=tuple(recovery),
        verify=flow_checks(q, env),
        queues=(q.name,),
        runs=_ids(stuck),
        waiting=q.queue.queued,
    )


def _trend_line(q: QueueFacts) -> str:
    if q.metrics is None:
        return f"backlog trend of {name(q.name)}: unknown (metrics not fetched)"
    trend = q.metrics.depth_trend
    return (
        f"backlog of {name(q.name)} over {q.metrics.period}: peak {max((q.metrics.peak_queued, *trend), default=0)}, "
        f"now {q.queue.queued} (trend {', '.join(str(v) for v in trend[-6:])})"
    )


def worker_pool_empty(q: QueueFacts, sc: Scene) -> Finding | None:
    """Backlog and nothing dequeued in any queue of the environment, nothing paused: no worker pulls."""
    stall = sc.stall
    if stall is None or q.name not in sc.stalled_names:
        return None
    return sc.once("stall", lambda: stall_finding(stall, sc))


def stall_finding(stall: Stall, sc: Scene) -> Finding:
    env = sc.env
    # Runs a worker pulled before the pool went away sit DEQUEUED: the same stall holds them.
    pulled = [t.run for t in env.candidates if t.run.status is RunStatus.DEQUEUED and sc.verdict(t.run).stuck]
    # Runs whose tokens completed wait for a worker to resume them: no worker comes for them either.
    resumed = [t.run for t in env.candidates if _resumed(t) and sc.verdict(t.run).stuck]
    queued = [r for q in stall.stalled for r in sc.stuck_queued(q)]
    stuck = [*queued, *pulled, *resumed]
    free = [q for q in stall.stalled if not env.at_cap(q)]
    evidence = [
        f"started in last {env.window}: 0 in all {plural(stall.checked, 'queue')} with metrics"
        + (f" (of {env.active_queues} active)" if env.active_queues > stall.checked else ""),
        f"backlog: {stall.backlog} runs in {plural(len(stall.stalled), 'queue')}, none paused, environment not paused",
        *(queue_line(q, env) for q in stall.stalled[:BLOCKERS_NAMED]),
        f"free slots left unused, e.g. {queue_line(free[0], env)}" if free else "no free slots",
    ]
    oldest = max((status_age(r, sc.now) for r in queued), default=None)
    if oldest is not None:
        evidence.append(f"oldest queued run seen: {dur(oldest)}")
    if pulled:
        names = listing(list(_ids(pulled)))
        evidence.append(f"{plural(len(pulled), 'run')} pulled before the workers went, still DEQUEUED: {names}")
    if resumed:
        names = listing(list(_ids(resumed)))
        evidence.append(
            f"{plural(len(resumed), 'run')} WAITING for a worker to resume them (tokens completed): {names}"
        )
    summary = (
        f"worker pool empty, {plural(len(stall.stalled), 'queue')}, {stall.backlog} runs waiting, "
        f"0 started in {env.window}" + (f", oldest {dur(oldest)}" if oldest is not None else "")
    )
    verify: list[VerifyCheck] = []
    for q in stall.stalled:
        verify.extend(flow_checks(q, env))
    return Finding(
        Cause.WORKER_POOL_EMPTY,
        summary,
        evidence=tuple(evidence),
        recovery=(
            Recovery(
                "scale the worker pool up (self-hosted: the worker deployment is at 0 replicas)",
                external="scale-workers",
            ),
        ),
        verify=tuple(verify),
        queues=tuple(q.name for q in stall.stalled),
        runs=_ids(stuck),
        runs_note=None if stuck else NO_RUNS_SAMPLED,
        waiting=stall.backlog,
    )


def _resumed(t: RunTrace) -> bool:
    """A WAITING run whose tokens or children all finished: it waits for a worker to resume it."""
    return t.run.status is RunStatus.WAITING and resumed_by(t) is not None


def worker_pool_undersized(q: QueueFacts, sc: Scene) -> Finding | None:
    """Runs wait past the window behind free slots while dequeue goes on: too few workers pull."""
    env = sc.env
    if sc.stall is not None or env.env_saturated or sc.flow(q) is not Flow.STARVED:
        return None
    return sc.once("undersized", lambda: undersized_finding(sc.starved, sc))


def undersized_finding(starved: Sequence[QueueFacts], sc: Scene) -> Finding:
    env = sc.env
    stuck = [r for q in starved for r in sc.stuck_queued(q)]
    measured = [q for q in env.queues if q.metrics is not None]
    started = sum(q.metrics.started_count for q in measured if q.metrics is not None)
    minutes = max(1.0, _window_minutes(measured))
    grown = sum(
        q.queue.queued - (q.metrics.depth_trend[0] if q.metrics and q.metrics.depth_trend else 0) for q in starved
    )
    arrivals = started + grown
    backlog = sum(q.queue.queued for q in starved)
    oldest = max((status_age(r, sc.now) for r in stuck), default=None)
    summary = (
        f"worker pool too small: {backlog} runs waiting in {plural(len(starved), 'queue')} with free slots, "
        f"dequeue {started / minutes:.1f}/min" + (f", oldest waiting {dur(oldest)}" if oldest is not None else "")
    )
    evidence = [
        f"dequeue: {started} started in the last {env.window} across {plural(len(measured), 'queue')} "
        f"({started / minutes:.1f}/min)",
        f"arrivals: about {max(0, arrivals)} in the same window ({max(0, arrivals) / minutes:.1f}/min: "
        f"started plus the backlog's growth of {grown})",
        *(f"{queue_line(x, env)}: free slots, runs still wait" for x in starved[:BLOCKERS_NAMED]),
        *(_trend_line(x) for x in starved[:3]),
        "no starved queue is at its own limit and the environment is not at its limit: the workers are",
    ]
    if oldest is not None:
        evidence.append(f"oldest queued run seen: {dur(oldest)} (window {dur(sc.th.dequeued_seconds)})")
    verify: list[VerifyCheck] = []
    for x in starved:
        verify.extend(flow_checks(x, env))
    return Finding(
        Cause.WORKER_POOL_UNDERSIZED,
        summary,
        evidence=tuple(evidence),
        recovery=(
            Recovery("scale the worker pool up (more replicas or more slots per worker)", external="scale-workers"),
        ),
        verify=tuple(verify),
        queues=tuple(x.name for x in starved),
        runs=_ids(stuck),
        waiting=backlog,
    )


def _window_minutes(measured: Sequence[QueueFacts]) -> float:
    for q in measured:
        if q.metrics is not None:
            return max(0.0, (q.metrics.window_to - q.metrics.window_from).total_seconds() / 60)
    return 0.0


# ---------------------------------------------------------------- the tables (precedence order)

RUN_RULES: tuple[tuple[Cause, RunRule], ...] = (
    (Cause.RESUME_LOST, incident_rules.resume_lost),
    (Cause.WAITPOINT_WITHOUT_RESUMER, waitpoint_without_resumer),
    (Cause.ENTITY_BACKEND_UNREACHABLE, entity_backend_unreachable),
    (Cause.WORKER_CRASHED, incident_rules.worker_crashed),
)

QUEUE_RULES: tuple[tuple[Cause, QueueRule], ...] = (
    (Cause.QUEUE_PAUSED, queue_paused),
    (Cause.QUEUE_STATE_DRIFT, queue_state_drift),
    (Cause.DEADLOCK_AT_ENV_LIMIT, incident_rules.deadlock_at_env_limit),
    (Cause.SCHEDULE_PILEUP, incident_rules.schedule_pileup),
    (Cause.LONG_RUNNING_BLOCKER, long_running_blocker),
    (Cause.CONCURRENCY_AT_CAP, concurrency_at_cap),
    (Cause.WORKER_POOL_EMPTY, worker_pool_empty),
    (Cause.WORKER_POOL_UNDERSIZED, worker_pool_undersized),
)


def run_findings(t: RunTrace, sc: Scene) -> list[Finding]:
    """Every run rule that holds, most specific first."""
    return [f for _, rule in RUN_RULES if (f := rule(t, sc)) is not None]


def queue_findings(q: QueueFacts, sc: Scene) -> list[Finding]:
    """Every queue rule that holds for this queue, most specific first."""
    return [f for _, rule in QUEUE_RULES if (f := rule(q, sc)) is not None]
