"""The runbook's causes as plain rules over facts: each rule returns a Finding or None. No I/O, no state.

Two tables, each in precedence order (most specific first, see `findings.PRECEDENCE`):

- RUN_RULES look at one run's trace (an open tool call, a token wait).
- QUEUE_RULES look at one queue in its environment (paused, drift, blocker, at cap, worker pool empty).

`tui.diagnosis.decide` walks the runbook for one run with them; `tui.diagnosis.triage` applies them to
every queue and traced run of the environment. To add a cause: write a rule here, add it to a table, and
add its code to `Cause`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui.config import Thresholds
from tui.diagnosis.evidence import (
    backlog_queues,
    flow_checks,
    oldest_queued,
    queue_line,
    run_age,
    run_check,
    started_line,
)
from tui.diagnosis.facts import EnvFacts, QueueFacts, RunTrace
from tui.diagnosis.findings import Action, Cause, Finding, Recovery, VerifyCheck, VerifyKind
from tui.diagnosis.fmt import dur, limit_text, listing, name, plural
from tui.model import RunStatus, TokenStatus

RunRule = Callable[[RunTrace, datetime, Thresholds], Finding | None]
QueueRule = Callable[[QueueFacts, EnvFacts, Thresholds], Finding | None]

BLOCKERS_NAMED = 10
STALL_SAMPLE = 20
"""Backlogged queues measured with nothing started that show a stall when not every active queue was measured."""
"""How many blocking runs a finding names and offers to cancel one by one."""


# ---------------------------------------------------------------- run rules


def waitpoint_without_resumer(t: RunTrace, now: datetime, th: Thresholds) -> Finding | None:
    """The run waits on a token with no timeout (or a far one), WAITING longer than the threshold."""
    if t.run.status not in (RunStatus.WAITING, RunStatus.EXECUTING):
        return None
    limit = timedelta(seconds=th.waitpoint_seconds)
    for span in t.open_spans:
        if span.token_id is None:
            continue
        detail = t.token(span.token_id)
        if detail is None or detail.token.status is not TokenStatus.WAITING:
            continue
        token = detail.token
        waited = max(span.age(now), now - token.created_at)
        if waited <= limit:
            continue
        if token.timeout_at is not None and token.timeout_at - now <= limit:
            continue  # it will time out soon by itself
        timeout = "no timeout" if token.timeout_at is None else f"times out in {dur(token.timeout_at - now)}"
        evidence = (
            f"run {t.run.id} is {t.run.status.value} with an open {name(span.message)} span for {dur(span.age(now))}",
            f"token {name(token.id)}: WAITING for {dur(waited)}, {timeout} (threshold {dur(limit)})",
        )
        return Finding(
            Cause.WAITPOINT_WITHOUT_RESUMER,
            f"run {t.run.id} waits on token {name(token.id)}: WAITING {dur(waited)}, {timeout}, nothing resumes it",
            evidence=evidence,
            recovery=(
                Recovery(
                    f"complete token {name(token.id)} with the body its resumer would send",
                    Action.COMPLETE_TOKEN,
                    token.id,
                ),
                Recovery(f"or cancel run {t.run.id}", Action.CANCEL, t.run.id),
            ),
            verify=(
                VerifyCheck(VerifyKind.TOKEN_COMPLETED, f"token {name(token.id)} COMPLETED", token.id),
                run_check(
                    t.run.id,
                    (RunStatus.COMPLETED, RunStatus.CANCELED),
                    f"run {t.run.id} reaches COMPLETED (or CANCELED)",
                ),
            ),
            run_id=t.run.id,
            runs=(t.run.id,),
            waiting=1,
        )
    return None


def entity_backend_unreachable(t: RunTrace, now: datetime, th: Thresholds) -> Finding | None:
    """The run is EXECUTING with an open tool-call span older than the per-call threshold."""
    if t.run.status is not RunStatus.EXECUTING:
        return None
    limit = timedelta(seconds=th.tool_call_seconds)
    hung = [s for s in t.open_spans if s.entity is not None and s.age(now) > limit]
    if not hung:
        return None
    span = max(hung, key=lambda s: s.age(now))
    entity = span.entity or "?"
    return Finding(
        Cause.ENTITY_BACKEND_UNREACHABLE,
        f"run {t.run.id} hung {dur(span.age(now))} calling entity `{name(entity)}` (per-call threshold {dur(limit)})",
        evidence=(
            f"run {t.run.id}: EXECUTING for {dur(run_age(t.run, now))}, open tool call {name(span.message)} "
            f"to entity `{name(entity)}` for {dur(span.age(now))} (per-call threshold {dur(limit)})",
        ),
        recovery=(
            Recovery(
                f"check entity `{name(entity)}` backend status (DNS, firewall, deployment)",
                external="check-entity",
            ),
            Recovery(f"cancel run {t.run.id}", Action.CANCEL, t.run.id),
        ),
        verify=(
            run_check(
                t.run.id,
                (RunStatus.CANCELED, RunStatus.COMPLETED),
                f"run {t.run.id} reaches CANCELED (or COMPLETED once `{name(entity)}` answers)",
            ),
        ),
        run_id=t.run.id,
        runs=(t.run.id,),
        entity=entity,
        waiting=1,
    )


# ---------------------------------------------------------------- queue rules


def queue_paused(q: QueueFacts, env: EnvFacts, th: Thresholds) -> Finding | None:
    """The queue (or the whole environment) is paused while runs wait in it."""
    if q.queue.queued <= 0 or not (q.queue.paused or env.env_paused):
        return None
    flow = flow_checks(q, env)
    if q.queue.paused:
        return Finding(
            Cause.QUEUE_PAUSED,
            f"queue {name(q.name)} is paused: {q.queue.queued} queued, {q.queue.running} running",
            evidence=(queue_line(q, env), started_line(q, env)),
            recovery=(Recovery(f"resume queue {name(q.name)}", Action.RESUME_QUEUE, q.name),),
            verify=flow,
            queues=(q.name,),
            runs=tuple(r.id for r in q.queued_runs),
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
        runs=tuple(r.id for r in q.queued_runs),
        waiting=q.queue.queued,
    )


def queue_state_drift(q: QueueFacts, env: EnvFacts, th: Thresholds) -> Finding | None:
    """The queue's counters disagree with the runs it holds; only repair-queues helps."""
    evidence: list[str] = [queue_line(q, env)]
    if q.leaks:
        statuses = listing(sorted({r.snapshot_status for r in q.leaks}))
        evidence.append(
            f"admin dry run: {plural(len(q.leaks), 'leaked slot')} in {name(q.name)} (snapshots {statuses})"
        )
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
    return Finding(
        Cause.QUEUE_STATE_DRIFT,
        f"queue {name(q.name)} state drifted: running {q.queue.running} "
        f"of limit {limit_text(env.limit_of(q))} "
        f"held by {len(q.holders) if q.holders is not None else '?'} live runs, {q.queue.queued} queued",
        evidence=tuple(evidence),
        recovery=(Recovery(f"repair queue {name(q.name)} (admin; dry run first)", Action.REPAIR_QUEUES, q.name),),
        verify=flow_checks(q, env),
        queues=(q.name,),
        runs=tuple(r.id for r in q.queued_runs),
        waiting=q.queue.queued,
    )


def long_running_blocker(q: QueueFacts, env: EnvFacts, th: Thresholds) -> Finding | None:
    """Every slot is held by runs far older than normal, and the queue dequeued nothing in the window."""
    if q.queue.queued <= 0 or q.queue.paused or q.started != 0:
        return None
    old = timedelta(seconds=th.executing_seconds)
    if env.at_cap(q):
        holders, scope = q.holders, f"queue {name(q.name)}"
        if holders is None or len(holders) < max(1, q.queue.running):
            return None  # fewer live holders than slots is drift, not a blocker
    elif env.env_saturated:
        holders, scope = env.env_holders, "the environment"
        if not holders:
            return None
    else:
        return None
    if not all(run_age(h, env.now) > old for h in holders):
        return None
    ranked = sorted(holders, key=lambda h: run_age(h, env.now), reverse=True)
    named = [f"{h.id} ({h.task_identifier}, {h.status.value} {dur(run_age(h, env.now))})" for h in ranked]
    youngest = min(run_age(h, env.now) for h in holders)
    return Finding(
        Cause.LONG_RUNNING_BLOCKER,
        f"{scope} blocked: all {len(holders)} slots held by runs running ≥ {dur(youngest)}, "
        f"0 started in {env.window}, {q.queue.queued} queued",
        evidence=(
            queue_line(q, env),
            started_line(q, env),
            f"slot holders ({len(holders)}), all older than {dur(old)}: {listing(named, BLOCKERS_NAMED)}",
        ),
        recovery=tuple(Recovery(f"cancel blocking run {h.id}", Action.CANCEL, h.id) for h in ranked[:BLOCKERS_NAMED]),
        verify=(
            *(
                run_check(h.id, (RunStatus.CANCELED,), f"blocking run {h.id} reaches CANCELED")
                for h in ranked[:BLOCKERS_NAMED]
            ),
            *flow_checks(q, env),
        ),
        queues=(q.name,),
        runs=tuple(h.id for h in ranked) + tuple(r.id for r in q.queued_runs),
        waiting=q.queue.queued,
    )


def concurrency_at_cap(q: QueueFacts, env: EnvFacts, th: Thresholds) -> Finding | None:
    """The queue or environment is at its limit, and dequeue continues as slots free up."""
    if q.queue.queued <= 0 or q.queue.paused or not q.started:
        return None
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
        f"({binding} limit), "
        f"{q.queue.queued} queued, {q.started} started in {env.window}",
        evidence=(
            queue_line(q, env),
            started_line(q, env),
            f"environment: running {env.env_running} of {limit_text(env.env_capacity)} (with burst)",
        ),
        recovery=tuple(recovery),
        verify=flow_checks(q, env),
        queues=(q.name,),
        runs=tuple(r.id for r in q.queued_runs),
        waiting=q.queue.queued,
    )


@dataclass(frozen=True, slots=True)
class Stall:
    """The environment-wide picture behind worker_pool_empty."""

    stalled: tuple[QueueFacts, ...]
    checked: int
    backlog: int


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


def worker_pool_empty(q: QueueFacts, env: EnvFacts, th: Thresholds) -> Finding | None:
    """Backlog and nothing dequeued in any queue of the environment, nothing paused: no worker pulls."""
    stall = environment_stall(env)
    if stall is None or all(s.name != q.name for s in stall.stalled):
        return None
    return stall_finding(stall, env)


def stall_finding(stall: Stall, env: EnvFacts) -> Finding:
    oldest = oldest_queued(list(stall.stalled), env.now)
    free = [q for q in stall.stalled if not env.at_cap(q)]
    evidence = [
        f"started in last {env.window}: 0 in all {plural(stall.checked, 'queue')} with metrics"
        + (f" (of {env.active_queues} active)" if env.active_queues > stall.checked else ""),
        f"backlog: {stall.backlog} runs in {plural(len(stall.stalled), 'queue')}, none paused, environment not paused",
        *(queue_line(q, env) for q in stall.stalled[:BLOCKERS_NAMED]),
        f"free slots left unused, e.g. {queue_line(free[0], env)}" if free else "no free slots",
    ]
    if oldest is not None:
        evidence.append(f"oldest queued run seen: {dur(oldest)}")
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
        runs=tuple(r.id for q in stall.stalled for r in q.queued_runs),
        waiting=stall.backlog,
    )


# ---------------------------------------------------------------- the tables (precedence order)

RUN_RULES: tuple[tuple[Cause, RunRule], ...] = (
    (Cause.WAITPOINT_WITHOUT_RESUMER, waitpoint_without_resumer),
    (Cause.ENTITY_BACKEND_UNREACHABLE, entity_backend_unreachable),
)

QUEUE_RULES: tuple[tuple[Cause, QueueRule], ...] = (
    (Cause.QUEUE_PAUSED, queue_paused),
    (Cause.QUEUE_STATE_DRIFT, queue_state_drift),
    (Cause.LONG_RUNNING_BLOCKER, long_running_blocker),
    (Cause.CONCURRENCY_AT_CAP, concurrency_at_cap),
    (Cause.WORKER_POOL_EMPTY, worker_pool_empty),
)


def run_findings(t: RunTrace, now: datetime, th: Thresholds) -> list[Finding]:
    """Every run rule that holds, most specific first."""
    return [f for _, rule in RUN_RULES if (f := rule(t, now, th)) is not None]


def queue_findings(q: QueueFacts, env: EnvFacts, th: Thresholds) -> list[Finding]:
    """Every queue rule that holds for this queue, most specific first."""
    return [f for _, rule in QUEUE_RULES if (f := rule(q, env, th)) is not None]
