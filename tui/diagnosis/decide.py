"""Walk the runbook for one run: each check with its outcome and evidence, then the most specific cause."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tui.config import Thresholds
from tui.diagnosis.evidence import DEQUEUED_HINT, queue_line, run_age, run_check, started_line
from tui.diagnosis.facts import RunFacts
from tui.diagnosis.findings import PRECEDENCE, Action, Cause, Finding, Outcome, Recovery, Step
from tui.diagnosis.fmt import dur, limit_text, listing, name
from tui.diagnosis.rules import environment_stall, queue_findings, run_findings, stall_finding, stall_measurable
from tui.model import RunStatus, TokenStatus

# Causes that stop the run from moving at all, whatever its age; concurrency_at_cap only counts once overdue.
_BLOCKING = frozenset(PRECEDENCE) - {Cause.CONCURRENCY_AT_CAP}

CHECK_RUN = "Run page: is the run past its expected window?"
CHECK_CAP = "Queue: is the run's queue at its concurrency cap?"
CHECK_DEQUEUE = "Queue: is the dequeue rate zero?"
CHECK_POOL = "Dequeue 0: worker pool sized to 0 (no queue dequeued anywhere)?"
CHECK_PAUSED = "Dequeue 0: queue or environment paused?"
CHECK_BLOCKER = "Dequeue 0: all slots held by long-running runs?"
CHECK_ENTITY = "Run hung: tool call to an entity backend past the per-call threshold?"
CHECK_WAITPOINT = "Run hung: waiting on a token nothing resumes?"
CHECK_DRIFT = "Queue state drifted (slots held by finished runs)?"


def window_for(f: RunFacts, th: Thresholds) -> timedelta | None:
    """How long the run may sit in its status before it counts as stuck (None: no window applies)."""
    status = f.run.status
    if status in (RunStatus.QUEUED, RunStatus.DEQUEUED, RunStatus.PENDING_VERSION):
        return timedelta(seconds=th.dequeued_seconds)
    if status is RunStatus.EXECUTING:
        return timedelta(seconds=th.executing_seconds)
    if status is RunStatus.WAITING:
        return timedelta(seconds=th.waitpoint_seconds)
    return None


def is_overdue(f: RunFacts, th: Thresholds) -> bool:
    window = window_for(f, th)
    if window is None:
        return False
    if f.time_in_status() > window:
        return True
    spans = f.trace.open_spans if f.trace is not None else ()
    tool = timedelta(seconds=th.tool_call_seconds)
    wait = timedelta(seconds=th.waitpoint_seconds)
    return any(
        (s.entity is not None and s.age(f.now) > tool) or (s.token_id is not None and s.age(f.now) > wait)
        for s in spans
    )


def _run_step(f: RunFacts, th: Thresholds, overdue: bool) -> Step:
    run = f.run
    evidence = [f"run {run.id} ({name(run.task_identifier)}): {run.status.value} for {dur(f.time_in_status())}"]
    window = window_for(f, th)
    if window is not None:
        evidence.append(f"expected window for {run.status.value}: {dur(window)}")
    if run.started_at is not None:
        evidence.append(f"dequeued/started {dur(f.now - run.started_at)} ago")
    live = f.env.deployment.version if f.env.deployment is not None else None
    if run.version is not None:
        evidence.append(
            f"version {name(run.version)}"
            + (
                ""
                if live is None
                else (" (the live deployment)" if live == run.version else f" (live is {name(live)})")
            )
        )
    evidence.append(f"queue {name(f.queue_name)} ({f.queue_how})" if f.queue_name else f"queue unknown ({f.queue_how})")
    if run.terminal:
        return Step(CHECK_RUN, Outcome.NO, (*evidence, "terminal status: the run can no longer change"))
    return Step(CHECK_RUN, Outcome.YES if overdue else Outcome.NO, tuple(evidence))


def _path(f: RunFacts, th: Thresholds, overdue: bool, held: dict[Cause, Finding]) -> list[Step]:
    def outcome(cause: Cause, known: bool) -> Outcome:
        return Outcome.YES if cause in held else (Outcome.NO if known else Outcome.UNKNOWN)

    def ev(cause: Cause, fallback: tuple[str, ...] = ()) -> tuple[str, ...]:
        return held[cause].evidence if cause in held else fallback

    steps = [_run_step(f, th, overdue)]
    q, env = f.queue, f.env
    if q is None:
        steps.append(Step(CHECK_CAP, Outcome.UNKNOWN, (f"run's queue not found ({f.queue_how})",)))
        steps.append(Step(CHECK_DEQUEUE, Outcome.UNKNOWN, ()))
    else:
        cap_ev = (
            queue_line(q, env),
            f"environment: running {env.env_running} of {limit_text(env.env_capacity)}",
        )
        steps.append(Step(CHECK_CAP, Outcome.YES if env.at_cap(q) or env.env_saturated else Outcome.NO, cap_ev))
        dq = Outcome.UNKNOWN if q.started is None else (Outcome.YES if q.started == 0 else Outcome.NO)
        steps.append(Step(CHECK_DEQUEUE, dq, (started_line(q, env),)))
    stall = environment_stall(env)
    pool_known = any(x.metrics is not None for x in env.queues) and stall_measurable(env)
    pool = Outcome.YES if stall is not None else (Outcome.NO if pool_known else Outcome.UNKNOWN)
    pool_ev = (
        stall_finding(stall, env).evidence
        if stall is not None
        else tuple(started_line(x, env) for x in env.queues if x.metrics is not None)[:8]
    )
    steps.append(Step(CHECK_POOL, pool, pool_ev or ("no queue metrics fetched",)))
    paused_ev = (
        f"queue paused: {q.queue.paused if q else 'unknown'}",
        f"environment paused: {env.env_paused}",
    )
    steps.append(Step(CHECK_PAUSED, outcome(Cause.QUEUE_PAUSED, True), ev(Cause.QUEUE_PAUSED, paused_ev)))
    saturated = q is not None and (env.at_cap(q) or env.env_saturated)
    if q is not None and not saturated:
        blocker_ev: tuple[str, ...] = ("slots are free: the queue is not at its cap",)
    elif q is None or q.holders is None:
        blocker_ev = ("slot holders not listed",)
    else:
        blocker_ev = (
            "slot holders: "
            + (listing([f"{h.id} {h.status.value} {dur(run_age(h, f.now))}" for h in q.holders]) or "none"),
        )
    blocker_known = q is not None and (not saturated or q.holders is not None)
    steps.append(
        Step(
            CHECK_BLOCKER,
            outcome(Cause.LONG_RUNNING_BLOCKER, blocker_known),
            ev(Cause.LONG_RUNNING_BLOCKER, blocker_ev),
        )
    )
    steps += _hung_steps(f, held)
    if q is not None and not env.at_cap(q) and env.repair is None:
        drift_ev: tuple[str, ...] = ("queue not at its cap and no admin token: no drift signal",)
    elif env.repair is not None:
        drift_ev = ("admin dry run: no leak in this queue",)
    elif q is not None and q.holders is not None:
        drift_ev = (
            f"no admin token; runs list for {name(q.name)}: {len(q.holders)} DEQUEUED/EXECUTING "
            f"for {q.queue.running} running" + ("" if q.holders_complete else " (list cut by paging)"),
        )
    else:
        drift_ev = ("no admin token, and the slot holders were not listed",)
    drift_known = q is not None and (env.repair is not None or q.holders is not None or not env.at_cap(q))
    steps.append(
        Step(CHECK_DRIFT, outcome(Cause.QUEUE_STATE_DRIFT, drift_known), ev(Cause.QUEUE_STATE_DRIFT, drift_ev))
    )
    return steps


def _hung_steps(f: RunFacts, held: dict[Cause, Finding]) -> list[Step]:
    """The "run hung" branch: only for a run that is running or waiting (it has a trace to read)."""
    if f.trace is None:
        why = (f"the run is {f.run.status.value}: not running, so nothing to hang on",)
        return [Step(CHECK_ENTITY, Outcome.SKIPPED, why), Step(CHECK_WAITPOINT, Outcome.SKIPPED, why)]
    trace = f.trace
    known = trace.note != "trace unavailable"
    span_ev = tuple(
        f"open span {name(s.message)} for {dur(s.age(f.now))}"
        + (f", entity `{name(s.entity)}`" if s.entity else "")
        + (f", token {name(s.token_id)}" if s.token_id else "")
        for s in trace.open_spans
    ) + ((trace.note,) if trace.note else ())
    tokens = tuple(
        f"token {name(t.token.id)}: {t.token.status.value}, created {dur(f.now - t.token.created_at)} ago"
        + (f", times out in {dur(t.token.timeout_at - f.now)}" if t.token.timeout_at else ", no timeout")
        for t in trace.tokens
    )
    steps = []
    for check, cause, fallback in (
        (CHECK_ENTITY, Cause.ENTITY_BACKEND_UNREACHABLE, span_ev or ("no open tool-call span",)),
        (CHECK_WAITPOINT, Cause.WAITPOINT_WITHOUT_RESUMER, tokens or ("waits on no token",)),
    ):
        if cause in held:
            steps.append(Step(check, Outcome.YES, held[cause].evidence))
        else:
            steps.append(Step(check, Outcome.NO if known else Outcome.UNKNOWN, fallback))
    return steps


def _candidates(f: RunFacts, th: Thresholds) -> list[Finding]:
    found: list[Finding] = []
    if f.trace is not None:
        found.extend(run_findings(f.trace, f.now, th))
    q = f.queue
    if q is not None:
        for finding in queue_findings(q, f.env, th):
            blocker_itself = finding.cause is Cause.LONG_RUNNING_BLOCKER and f.run.id in finding.runs
            if f.waits_for_dequeue or blocker_itself:
                found.append(finding)
    if f.run.status is RunStatus.DEQUEUED and not any(x.cause is Cause.WORKER_POOL_EMPTY for x in found):
        stall = environment_stall(f.env)
        if stall is not None:
            found.append(stall_finding(stall, f.env))  # pulled, then the workers went away
    return found


def diagnose(f: RunFacts, th: Thresholds) -> Finding:
    """The runbook's answer for one run: the most specific cause that holds, the others as `also_true`."""
    run = f.run
    overdue = is_overdue(f, th)
    if run.terminal:
        return Finding(
            Cause.NOT_STUCK,
            f"run {run.id} is {run.status.value} (terminal)",
            evidence=_run_step(f, th, False).evidence,
            path=(_run_step(f, th, False),),
            run_id=run.id,
            runs=(run.id,),
        )
    found = _candidates(f, th)
    held = {x.cause: x for x in found}
    path = tuple(_path(f, th, overdue, held))
    acting = [x for x in found if x.cause in _BLOCKING or overdue]
    acting.sort(key=lambda x: PRECEDENCE.index(x.cause))
    if acting:
        primary = acting[0]
        also = tuple(dict.fromkeys(x.cause for x in found if x.cause is not primary.cause))
        runs = tuple(dict.fromkeys((run.id, *primary.runs)))
        return replace(
            primary,
            run_id=run.id,
            runs=runs,
            also_true=also,
            path=path,
            summary=primary.summary if run.id in primary.summary else f"{run.id}: {primary.summary}",
        )
    also = tuple(dict.fromkeys(x.cause for x in found))
    if not overdue:
        window = window_for(f, th)
        within = f" within its {dur(window)} window" if window is not None else ""
        if run.status is RunStatus.DELAYED and run.delayed_until is not None:
            within = f" until {dur(run.delayed_until - f.now)} from now"
        return Finding(
            Cause.NOT_STUCK,
            f"run {run.id} is {run.status.value} for {dur(f.time_in_status())}{within}",
            evidence=path[0].evidence,
            path=path,
            also_true=also,
            run_id=run.id,
            runs=(run.id,),
        )
    return _unknown(f, path, also)


def _unknown(f: RunFacts, path: tuple[Step, ...], also: tuple[Cause, ...]) -> Finding:
    run = f.run
    checked = [f"checked: {s.check} → {s.outcome.value}" for s in path[1:]]
    hint: list[str] = []
    if run.status is RunStatus.DEQUEUED:
        hint.append(DEQUEUED_HINT)
    if run.status is RunStatus.PENDING_VERSION:
        hint.append(f"no deployed version has task {name(run.task_identifier)} yet: deploy it")
    if f.trace is not None and any(t.token.status is TokenStatus.WAITING for t in f.trace.tokens):
        hint.append("waits on a token that is still within its threshold or times out soon")
    notes = [*f.notes, *f.env.notes]
    return Finding(
        Cause.UNKNOWN,
        f"{run.id}: {run.status.value} for {dur(f.time_in_status())}; none of the known causes fits",
        evidence=(*path[0].evidence, *hint, *checked, *(f"note: {n}" for n in notes)),
        recovery=(
            Recovery(f"cancel run {run.id}", Action.CANCEL, run.id),
            Recovery("trace the run for forensic detail", external="trace-run"),
        ),
        verify=(run_check(run.id, (RunStatus.CANCELED, RunStatus.COMPLETED), f"run {run.id} reaches CANCELED"),),
        path=path,
        also_true=also,
        run_id=run.id,
        runs=(run.id,),
    )
