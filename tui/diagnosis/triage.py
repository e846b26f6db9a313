"""Diagnose the whole environment: apply the rules to every queue and traced run; group, worst first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from itertools import chain

from tui.config import Thresholds
from tui.diagnosis import incident_rules
from tui.diagnosis.evidence import DEQUEUED_HINT, canceled_check, flow_checks
from tui.diagnosis.facts import EnvFacts, QueueFacts
from tui.diagnosis.findings import PRECEDENCE, SEVERITY, Action, Cause, Finding, Recovery, VerifyCheck, VerifyKind
from tui.diagnosis.fmt import dur, listing, name, plural
from tui.diagnosis.rules import BLOCKERS_NAMED, CHAINED, SURFACE, queue_findings, root_of, run_findings
from tui.diagnosis.scene import Scene, seen_runs
from tui.model import RunStatus

EVIDENCE_LINES = 20
"""A group keeps at most this many evidence lines (the rest are summarised in one line)."""


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _joined(parts: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The parts' items in order, without repeats: a group of 1,000 queues' findings holds some 75,000 run ids."""
    return tuple(dict.fromkeys(chain.from_iterable(parts)))


def _merge(members: Sequence[Finding], summary: str) -> Finding:
    """One finding for a group: the members' evidence, recovery, verify and runs, without repeats."""
    evidence = _joined(m.evidence for m in members)
    if len(evidence) > EVIDENCE_LINES:
        evidence = (*evidence[:EVIDENCE_LINES], f"… and {len(evidence) - EVIDENCE_LINES} more lines")
    recovery = tuple({(r.action, r.target, r.external): r for m in members for r in m.recovery}.values())
    verify = tuple({(v.kind, v.target): v for m in members for v in m.verify}.values())
    also = tuple(dict.fromkeys(c for m in members for c in m.also_true if c is not members[0].cause))
    runs = _joined(m.runs for m in members)
    notes = _unique(m.runs_note for m in members if m.runs_note)
    return Finding(
        members[0].cause,
        f"{members[0].label}: {summary}",
        evidence=evidence,
        recovery=recovery,
        verify=verify,
        also_true=also,
        runs=runs,
        runs_note=None if runs else "; ".join(notes) or None,
        queues=_joined(m.queues for m in members),
        entity=members[0].entity,
        waiting=sum(m.waiting for m in members),
    )


def _group_summary(cause: Cause, members: Sequence[Finding], sc: Scene) -> str:
    env = sc.env
    queues = _joined(m.queues for m in members)
    waiting = sum(m.waiting for m in members)
    hung = [m for m in members if m.run_id is not None]
    behind = _joined(m.runs for m in members if m.run_id is None)
    more = f"; {len(behind)} more wait behind them in {listing([name(q) for q in queues])}" if behind else ""
    if cause in (
        Cause.WORKER_POOL_EMPTY,
        Cause.WORKER_POOL_UNDERSIZED,
        Cause.DEPLOYMENT_UNRUNNABLE,
        Cause.DEADLOCK_AT_ENV_LIMIT,
        Cause.RUN_ORPHANED,
    ):
        return members[0].summary
    if cause is Cause.ENTITY_BACKEND_UNREACHABLE:
        entity = members[0].entity
        ids = {m.run_id for m in hung}
        spans = [s for t in env.candidates if t.run.id in ids for s in t.open_spans if s.entity == entity]
        messages = {s.message for s in spans}
        failed = sum(1 for t in sc.traces.values() for c in t.calls if not c.ok and c.message in messages)
        errors = f", {plural(failed, 'earlier call')} ended in error" if failed else ""
        oldest = f", oldest call {dur(max(s.age(env.now) for s in spans))}" if spans else ""
        return (
            f"{plural(len(hung), 'run')} hung calling entity `{name(entity)}` ({plural(len(spans), 'open call')}"
            f" past {dur(sc.th.tool_call_seconds)}, none answered in the last {dur(sc.th.tool_call_seconds)}{errors})"
            f"{oldest}{more}"
        )
    if cause is Cause.RESUME_LOST and len(hung) > 1:
        return f"{len(hung)} runs still WAITING after their tokens completed: the engine lost their resumes{more}"
    if cause is Cause.WORKER_CRASHED and len(hung) > 1:
        return f"{len(hung)} runs EXECUTING on workers that are gone, traces silent{more}"
    if cause is Cause.WORKER_CRASHED and hung:
        return hung[0].summary + more
    if cause is Cause.WAITPOINT_WITHOUT_RESUMER:
        tokens = _unique(r.target or "" for m in members for r in m.recovery if r.action is Action.COMPLETE_TOKEN)
        ages = [env.now - d.token.created_at for t in env.candidates for d in t.tokens if d.token.id in tokens]
        oldest = f", oldest {dur(max(ages))}" if ages else ""
        return f"{plural(len(hung), 'run')} wait on {plural(len(tokens), 'token')} nothing resumes{oldest}{more}"
    if len(members) == 1:
        return members[0].summary
    if cause is Cause.QUEUE_PAUSED:
        names = listing([name(q) for q in queues])
        return f"{plural(len(queues), 'queue')} paused, {waiting} runs waiting: {names}"
    if cause is Cause.SCHEDULE_PILEUP:
        return f"{len(members)} schedules pile up behind stuck heads, {waiting} copies queued"
    if cause is Cause.LONG_RUNNING_BLOCKER:
        blockers = _unique(r.target or "" for m in members for r in m.recovery if r.action is Action.CANCEL)
        return (
            f"{plural(len(queues), 'queue')} blocked by long-running runs {listing(list(blockers))}, "
            f"{waiting} runs waiting"
        )
    if cause is Cause.QUEUE_STATE_DRIFT:
        names = listing([name(q) for q in queues])
        return f"{plural(len(queues), 'queue')} drifted ({names}), {waiting} runs waiting"
    return (
        f"{plural(len(queues), 'queue')} at their concurrency cap, {waiting} runs waiting: "
        f"{listing([name(q) for q in queues])}"
    )


def _unknown_group(sc: Scene, explained: set[str]) -> Finding | None:
    """Stuck runs that no cause explains: say so, one line each, rather than stay silent."""
    stuck = []
    for run in seen_runs(sc.env).values():
        if run.id in explained:
            continue
        if run.status is RunStatus.QUEUED and run.id not in sc.queue_of:
            continue  # its queue is not known: it is judged with its queue, or not at all
        if sc.verdict(run).stuck:
            stuck.append(run)
    if not stuck:
        return None
    stuck.sort(key=lambda r: sc.verdict(r).age, reverse=True)
    return Finding(
        Cause.UNKNOWN,
        f"UNKNOWN: {plural(len(stuck), 'run')} stuck with no known cause, oldest {dur(sc.verdict(stuck[0]).age)}",
        evidence=(
            *(f"{r.id} ({name(r.task_identifier)}): {sc.verdict(r).reason}" for r in stuck[:EVIDENCE_LINES]),
            *((DEQUEUED_HINT,) if any(r.status is RunStatus.DEQUEUED for r in stuck) else ()),
        ),
        recovery=tuple(Recovery(f"cancel run {r.id}", Action.CANCEL, r.id) for r in stuck[:BLOCKERS_NAMED]),
        verify=tuple(canceled_check(r.id) for r in stuck[:BLOCKERS_NAMED]),
        runs=tuple(r.id for r in stuck),
        waiting=len(stuck),
    )


def behind(q: QueueFacts, root: Finding, sc: Scene, blocked: Finding) -> Finding:
    """The queued runs of a queue whose slot holders hang for `root`'s reason: the same root cause."""
    stuck = sc.stuck_queued(q)
    return Finding(
        root.cause,
        root.summary,
        evidence=(
            f"queue {name(q.name)}: {q.queue.queued} queued behind runs that are stuck themselves ({root.cause.value})",
            *blocked.evidence[:2],
        ),
        recovery=root.recovery,
        verify=(*root.verify, *_flow_after(root, q, sc)),  # the root's recovery is what gets done
        also_true=(blocked.cause,),
        runs=tuple(r.id for r in stuck),
        queues=(q.name,),
        entity=root.entity,
        waiting=q.queue.queued,
    )


def _flow_after(root: Finding, q: QueueFacts, sc: Scene) -> tuple[VerifyCheck, ...]:
    """How the queue shows the root is fixed. Behind a bad deploy its started count includes every failed pull
    of the bad version, so only the depth coming back down shows it."""
    checks = flow_checks(q, sc.env)
    if root.cause is Cause.DEPLOYMENT_UNRUNNABLE:
        return tuple(c for c in checks if c.kind is VerifyKind.QUEUE_DEPTH_NORMAL)
    return checks


def chained(q: QueueFacts, first: Finding, by_run: Mapping[str, Finding]) -> Finding | None:
    """The holders' own finding when most slot holders of a blocked queue hang on an entity or a token."""
    if first.cause not in CHAINED or not q.holders:
        return None
    return root_of(q, [by_run.get(h.id) for h in q.holders])


def triage(env: EnvFacts, th: Thresholds) -> list[Finding]:
    """Findings for the environment, one per cause (per entity for hung tool calls), worst first."""
    return findings_of(Scene.of(env, th))


def findings_of(sc: Scene) -> list[Finding]:
    """The triage of a scene (see `triage`)."""
    env = sc.env
    primaries: list[Finding] = []
    by_run: dict[str, Finding] = {}
    for trace in env.candidates:
        found = run_findings(trace, sc)
        if found:
            by_run[trace.run.id] = replace(found[0], also_true=tuple(f.cause for f in found[1:]))
            primaries.append(by_run[trace.run.id])
    deploy = incident_rules.deployment_unrunnable(sc)
    if deploy is not None:
        primaries.append(deploy)  # first, so that its own evidence leads the group's
    for q in env.queues:
        found = queue_findings(q, sc)
        if not found:
            continue
        root = deploy if deploy is not None and found[0].cause in SURFACE else chained(q, found[0], by_run)
        if root is not None:
            primaries.append(behind(q, root, sc, found[0]))
        else:
            first, also = found[0], tuple(f.cause for f in found[1:])
            # An environment-wide finding is one object for every queue (Scene.once): give it one copy.
            primaries.append(sc.once(("also", id(first), also), partial(replace, first, also_true=also)))
    extra = (incident_rules.run_orphaned(sc), *incident_rules.pending_version(sc))
    primaries.extend(f for f in extra if f is not None)
    explained = set(chain.from_iterable(f.runs for f in primaries))

    groups: dict[tuple[Cause, str | None], dict[int, Finding]] = {}
    for f in primaries:
        groups.setdefault((f.cause, f.entity), {}).setdefault(id(f), f)
    findings = [
        _merge(list(members.values()), _group_summary(cause, list(members.values()), sc))
        for (cause, _), members in groups.items()
    ]
    if env.candidates_total > len(env.candidates):
        note = f"traced {len(env.candidates)} of {env.candidates_total} stuck candidates (cap)"
        findings = [
            replace(f, evidence=(*f.evidence, note))
            if f.cause in (Cause.ENTITY_BACKEND_UNREACHABLE, Cause.WAITPOINT_WITHOUT_RESUMER)
            else f
            for f in findings
        ]
    unknown = _unknown_group(sc, explained)
    if unknown is not None:
        findings.append(unknown)
    findings.sort(
        key=lambda f: (
            SEVERITY[f.cause],
            -f.waiting,
            PRECEDENCE.index(f.cause) if f.cause in PRECEDENCE else len(PRECEDENCE),
        )
    )
    return findings


def affected_runs(findings: Sequence[Finding]) -> tuple[str, ...]:
    """Every affected run id across findings, in finding order, without repeats."""
    return _joined(f.runs for f in findings)


def verify_checks(findings: Sequence[Finding]) -> tuple[VerifyCheck, ...]:
    return tuple({(v.kind, v.target): v for f in findings for v in f.verify}.values())
