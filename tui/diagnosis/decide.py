"""Walk the runbook for one run: each check with its outcome and evidence, then the most specific cause."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tui.config import Thresholds
from tui.diagnosis import incident_rules
from tui.diagnosis.evidence import DEQUEUED_HINT, queue_line, run_age, run_check, started_line
from tui.diagnosis.facts import RunFacts, status_age
from tui.diagnosis.findings import PRECEDENCE, Action, Cause, Finding, Outcome, Recovery, Step
from tui.diagnosis.fmt import dur, limit_text, listing, name
from tui.diagnosis.rules import (
    CHAINED,
    SURFACE,
    queue_findings,
    root_of,
    run_findings,
    stall_finding,
    undersized_finding,
)
from tui.diagnosis.scene import Scene, stall_measurable
from tui.diagnosis.stuck import Flow, Verdict, window_for
from tui.model import RunStatus, TokenStatus

CHECK_RUN = "Run page: is the run past its expected window?"
CHECK_CAP = "Queue: is the run's queue at its concurrency cap?"
CHECK_DEQUEUE = "Queue: is the dequeue rate zero?"
CHECK_POOL = "Dequeue 0: worker pool sized to 0 (no queue dequeued anywhere)?"
CHECK_PAUSED = "Dequeue 0: queue or environment paused?"
CHECK_BLOCKER = "Dequeue 0: all slots held by long-running runs?"
CHECK_CHAIN = "Slot holders: do they hang on something of their own (the root cause)?"
CHECK_UNDERSIZED = "Dequeue slow: runs wait behind free slots (too few workers)?"
CHECK_ENTITY = "Run hung: tool call to an entity backend past the per-call threshold?"
CHECK_WAITPOINT = "Run hung: waiting on a token nothing resumes?"
CHECK_DRIFT = "Queue state drifted (slots held by finished runs)?"


def _run_step(f: RunFacts, th: Thresholds, verdict: Verdict) -> Step:
    run = f.run
    evidence = [
        f"run {run.id} ({name(run.task_identifier)}): {run.status.value} for {dur(f.time_in_status())}",
        f"verdict: {verdict.state.value}: {verdict.reason}",
    ]
    window = window_for(run.status, th)
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
    return Step(CHECK_RUN, Outcome.YES if verdict.stuck else Outcome.NO, tuple(evidence))


def _path(f: RunFacts, sc: Scene, verdict: Verdict, held: dict[Cause, Finding], root: Finding | None) -> list[Step]:
    th = sc.th

    def outcome(cause: Cause, known: bool) -> Outcome:
        return Outcome.YES if cause in held else (Outcome.NO if known else Outcome.UNKNOWN)

    def ev(cause: Cause, fallback: tuple[str, ...] = ()) -> tuple[str, ...]:
        return held[cause].evidence if cause in held else fallback

    steps = [_run_step(f, th, verdict)]
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
    stall = sc.stall
    pool_known = any(x.metrics is not None for x in env.queues) and stall_measurable(env)
    pool = Outcome.YES if stall is not None else (Outcome.NO if pool_known else Outcome.UNKNOWN)
    pool_ev = (
        stall_finding(stall, sc).evidence
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
    steps.append(_chain_step(f, root))
    flow_ev = (f"queue flow: {sc.flow(q).value}" if q is not None else "queue unknown",)
    steps.append(
        Step(
            CHECK_UNDERSIZED,
            outcome(Cause.WORKER_POOL_UNDERSIZED, q is not None and q.metrics is not None),
            ev(Cause.WORKER_POOL_UNDERSIZED, flow_ev),
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


def _chain_step(f: RunFacts, root: Finding | None) -> Step:
    q = f.queue
    if root is not None:
        holders = [t.run.id for t in q.holder_traces] if q is not None else []
        return Step(
            CHECK_CHAIN,
            Outcome.YES,
            (
                f"run {f.run.id} waits for a slot of {name(f.queue_name)}; its holders {listing(holders)} "
                f"are stuck themselves: {root.cause.value}",
                *root.evidence[:3],
            ),
        )
    if q is None or not q.holder_traces:
        return Step(CHECK_CHAIN, Outcome.SKIPPED, ("the run does not wait behind traced slot holders",))
    return Step(CHECK_CHAIN, Outcome.NO, ("the slot holders hang on no entity or token of their own",))


def _root(f: RunFacts, sc: Scene, surface: Finding) -> Finding | None:
    """Follow a blocked queue to its slot holders: when every holder hangs for a reason of its own, that reason."""
    q = f.queue
    if q is None or surface.cause not in CHAINED or not q.holder_traces or not q.holders:
        return None
    traced = {t.run.id: t for t in q.holder_traces}
    firsts = []
    for holder in q.holders:
        trace = traced.get(holder.id)
        found = run_findings(trace, sc) if trace is not None else []
        firsts.append(found[0] if found else None)
    return root_of(q, firsts)


def _candidates(f: RunFacts, sc: Scene) -> tuple[list[Finding], Finding | None]:
    """Every cause that holds for the run, most specific first, and the root cause behind a blocked queue."""
    found: list[Finding] = []
    root = None
    if f.trace is not None:
        found.extend(run_findings(f.trace, sc))
    q = f.queue
    if q is not None:
        for finding in queue_findings(q, sc):
            blocker_itself = (
                finding.cause in (Cause.LONG_RUNNING_BLOCKER, Cause.SCHEDULE_PILEUP) and f.run.id in finding.runs
            )
            if f.waits_for_dequeue or blocker_itself:
                found.append(finding)
                if root is None and f.waits_for_dequeue:
                    root = _root(f, sc, finding)
    found.extend(_incidents(f, sc))
    deploy = incident_rules.deployment_unrunnable(sc)
    surface = f.waits_for_dequeue and any(x.cause in SURFACE for x in found)
    if deploy is not None and (f.run.version in sc.broken or surface):
        root = deploy  # its runs hold the slots and the workers: every surface cause follows from it
    if root is not None:
        found.insert(0, root)
    causes = {x.cause for x in found}
    waits = f.run.status is RunStatus.DEQUEUED or (f.run.status is RunStatus.WAITING and f.waits_for_dequeue)
    if waits and sc.stall is not None and Cause.WORKER_POOL_EMPTY not in causes:
        found.append(stall_finding(sc.stall, sc))  # pulled, then the workers went away
    starved = f.waits_for_dequeue and q is not None and sc.flow(q) is Flow.STARVED and sc.stall is None
    if starved and Cause.WORKER_POOL_UNDERSIZED not in causes:
        found.append(undersized_finding([x for x in f.env.queues if sc.flows[x.name] is Flow.STARVED], sc))
    return found, root


def _incidents(f: RunFacts, sc: Scene) -> list[Finding]:
    """The incident findings that name this run: pending a version, orphaned, in a deadlock."""
    run = f.run
    found: list[Finding] = []
    if run.status is RunStatus.PENDING_VERSION:
        found.extend(incident_rules.pending_version(sc, run.task_identifier))
    orphaned = incident_rules.run_orphaned(sc) if run.id in sc.orphans else None
    lock = incident_rules.deadlock_finding(sc) if incident_rules.in_deadlock(run, sc) else None
    found.extend(x for x in (orphaned, lock) if x is not None and run.id in x.runs)
    return found


def with_run_listed(f: RunFacts) -> RunFacts:
    """The diagnosed QUEUED run counts among its queue's listed runs, even when the listing's page missed it."""
    q = f.queue
    if q is None or f.run.status is not RunStatus.QUEUED or any(r.id == f.run.id for r in q.queued_runs):
        return f
    listed = replace(q, queued_runs=(*q.queued_runs, f.run))
    return replace(f, env=replace(f.env, queues=tuple(listed if x is q else x for x in f.env.queues)))


def scene_for(f: RunFacts, th: Thresholds) -> Scene:
    """The scene around one run: its trace among the others, and its queue known."""
    run = f.run
    if f.queue is not None:
        uncounted = f.queue.queue.queued == 0
    else:  # its queue is gone from the list, or no queue it could be in holds it
        uncounted = f.queue_name is not None or f.queue_how.startswith("not found in any")
    lost = uncounted and run.status is RunStatus.QUEUED
    env = replace(f.env, stale_queued=(*f.env.stale_queued, run)) if lost else f.env
    past = status_age(run, f.now) > timedelta(seconds=th.dequeued_seconds)
    sc = Scene.of(env, th, trace=f.trace, lost=frozenset({run.id}) if lost and past else frozenset())
    if f.queue_name is not None:
        sc.queue_of[run.id] = f.queue_name
    return sc


def diagnose(f: RunFacts, th: Thresholds) -> Finding:
    """The runbook's answer for one run: the most specific cause that holds, the others as `also_true`."""
    f = with_run_listed(f)
    run = f.run
    sc = scene_for(f, th)
    verdict = sc.verdict(run)
    if run.terminal:
        step = _run_step(f, th, verdict)
        return Finding(
            Cause.NOT_STUCK,
            f"run {run.id} is {run.status.value} (terminal)",
            evidence=step.evidence,
            path=(step,),
            run_id=run.id,
            runs=(run.id,),
        )
    found, root = _candidates(f, sc)
    held = {x.cause: x for x in found}
    path = tuple(_path(f, sc, verdict, held, root))
    if not verdict.stuck:
        window = window_for(run.status, th)
        within = f" within its {dur(window)} window" if window is not None and verdict.age <= window else ""
        return Finding(
            Cause.NOT_STUCK,
            f"run {run.id} is {run.status.value} for {dur(verdict.age)}{within}: {verdict.reason}",
            evidence=path[0].evidence,
            path=path,
            also_true=tuple(dict.fromkeys(x.cause for x in found)),
            run_id=run.id,
            runs=(run.id,),
        )
    if found:
        primary = found[0] if root is not None else min(found, key=lambda x: PRECEDENCE.index(x.cause))
        also = tuple(dict.fromkeys(x.cause for x in found if x.cause is not primary.cause))
        runs = tuple(dict.fromkeys((run.id, *primary.runs)))
        if root is not None and f.queue is not None:
            runs = tuple(dict.fromkeys((run.id, *(t.run.id for t in f.queue.holder_traces))))
        return replace(
            primary,
            run_id=run.id,
            runs=runs,
            runs_note=None,
            also_true=also,
            path=path,
            summary=primary.summary if run.id in primary.summary else f"{run.id}: {primary.summary}",
        )
    return _unknown(f, path, ())


def _unknown(f: RunFacts, path: tuple[Step, ...], also: tuple[Cause, ...]) -> Finding:
    run = f.run
    checked = [f"checked: {s.check} → {s.outcome.value}" for s in path[1:]]
    hint: list[str] = []
    if run.status is RunStatus.DEQUEUED:
        hint.append(DEQUEUED_HINT)
    if f.queue is None and run.status in (RunStatus.QUEUED, RunStatus.DEQUEUED):
        hint.append(
            f"its queue was not found among the listed queues ({f.queue_how}): if a deploy removed it, "
            "nothing will dequeue the run; cancel it and trigger it again into a queue that exists"
        )
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
