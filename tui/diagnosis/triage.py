"""Diagnose the whole environment: apply the rules to every queue and traced run; group, worst first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta

from tui.config import Thresholds
from tui.diagnosis.evidence import DEQUEUED_HINT, run_age, run_check
from tui.diagnosis.facts import EnvFacts
from tui.diagnosis.findings import PRECEDENCE, SEVERITY, Action, Cause, Finding, Recovery, VerifyCheck
from tui.diagnosis.fmt import dur, listing, name, plural
from tui.diagnosis.rules import BLOCKERS_NAMED, queue_findings, run_findings
from tui.model import RunStatus

EVIDENCE_LINES = 20
"""A group keeps at most this many evidence lines (the rest are summarised in one line)."""


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _merge(members: Sequence[Finding], summary: str) -> Finding:
    """One finding for a group: the members' evidence, recovery, verify and runs, without repeats."""
    evidence = _unique(e for m in members for e in m.evidence)
    if len(evidence) > EVIDENCE_LINES:
        evidence = (*evidence[:EVIDENCE_LINES], f"… and {len(evidence) - EVIDENCE_LINES} more lines")
    recovery = tuple({(r.action, r.target, r.external): r for m in members for r in m.recovery}.values())
    verify = tuple({(v.kind, v.target): v for m in members for v in m.verify}.values())
    also = tuple(dict.fromkeys(c for m in members for c in m.also_true if c is not members[0].cause))
    return Finding(
        members[0].cause,
        f"{members[0].label}: {summary}",
        evidence=evidence,
        recovery=recovery,
        verify=verify,
        also_true=also,
        runs=_unique(r for m in members for r in m.runs),
        queues=_unique(q for m in members for q in m.queues),
        entity=members[0].entity,
        waiting=sum(m.waiting for m in members),
    )


def _group_summary(cause: Cause, members: Sequence[Finding], env: EnvFacts) -> str:
    queues = _unique(q for m in members for q in m.queues)
    waiting = sum(m.waiting for m in members)
    if cause is Cause.WORKER_POOL_EMPTY:
        return members[0].summary
    if cause is Cause.ENTITY_BACKEND_UNREACHABLE:
        entity = members[0].entity
        ids = {r for m in members for r in m.runs}
        ages = [s.age(env.now) for t in env.candidates if t.run.id in ids for s in t.open_spans if s.entity == entity]
        oldest = f", oldest call {dur(max(ages))}" if ages else ""
        return f"{plural(len(members), 'run')} hung calling entity `{name(entity)}`{oldest}"
    if cause is Cause.WAITPOINT_WITHOUT_RESUMER:
        tokens = _unique(r.target or "" for m in members for r in m.recovery if r.action is Action.COMPLETE_TOKEN)
        ages = [env.now - d.token.created_at for t in env.candidates for d in t.tokens if d.token.id in tokens]
        oldest = f", oldest {dur(max(ages))}" if ages else ""
        return f"{plural(len(members), 'run')} wait on {plural(len(tokens), 'token')} nothing resumes{oldest}"
    if len(members) == 1:
        return members[0].summary
    if cause is Cause.QUEUE_PAUSED:
        names = listing([name(q) for q in queues])
        return f"{plural(len(queues), 'queue')} paused, {waiting} runs waiting: {names}"
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


def _unknown_group(env: EnvFacts, th: Thresholds, explained: set[str]) -> Finding | None:
    """Traced runs past their window that no cause explains: say so rather than stay silent."""
    window = {
        RunStatus.DEQUEUED: timedelta(seconds=th.dequeued_seconds),
        RunStatus.EXECUTING: timedelta(seconds=th.executing_seconds),
    }
    stuck = [
        t.run
        for t in env.candidates
        if t.run.id not in explained and t.run.status in window and run_age(t.run, env.now) > window[t.run.status]
    ]
    if not stuck:
        return None
    stuck.sort(key=lambda r: run_age(r, env.now), reverse=True)
    return Finding(
        Cause.UNKNOWN,
        f"UNKNOWN: {plural(len(stuck), 'run')} past their window with no known cause, "
        f"oldest {dur(run_age(stuck[0], env.now))}",
        evidence=(
            *(
                f"{r.id} ({name(r.task_identifier)}): {r.status.value} for {dur(run_age(r, env.now))}"
                for r in stuck[:EVIDENCE_LINES]
            ),
            *((DEQUEUED_HINT,) if any(r.status is RunStatus.DEQUEUED for r in stuck) else ()),
        ),
        recovery=tuple(Recovery(f"cancel run {r.id}", Action.CANCEL, r.id) for r in stuck[:BLOCKERS_NAMED]),
        verify=tuple(
            run_check(r.id, (RunStatus.CANCELED,), f"run {r.id} reaches CANCELED") for r in stuck[:BLOCKERS_NAMED]
        ),
        runs=tuple(r.id for r in stuck),
        waiting=len(stuck),
    )


def triage(env: EnvFacts, th: Thresholds) -> list[Finding]:
    """Findings for the environment, one per cause (per entity for hung tool calls), worst first."""
    primaries: list[Finding] = []
    explained: set[str] = set()
    for trace in env.candidates:
        found = run_findings(trace, env.now, th)
        if found:
            primaries.append(replace(found[0], also_true=tuple(f.cause for f in found[1:])))
            explained.add(trace.run.id)
    for q in env.queues:
        found = queue_findings(q, env, th)
        if not found:
            continue
        first = found[0]
        if first.cause is Cause.LONG_RUNNING_BLOCKER and q.holders and {h.id for h in q.holders} <= explained:
            # The slot holders are themselves hung on an entity or a token: that is the more specific cause.
            found = found[1:]
            if not found:
                continue
            first = found[0]
        primaries.append(replace(first, also_true=tuple(f.cause for f in found[1:])))
    for f in primaries:
        explained.update(f.runs)

    groups: dict[tuple[Cause, str | None], list[Finding]] = {}
    for f in primaries:
        members = groups.setdefault((f.cause, f.entity), [])
        if f not in members:  # environment-wide findings come once per queue, identical
            members.append(f)
    findings = [_merge(members, _group_summary(cause, members, env)) for (cause, _), members in groups.items()]
    capped = env.candidates_total > len(env.candidates)
    if capped:
        note = f"traced {len(env.candidates)} of {env.candidates_total} stuck candidates (cap)"
        findings = [
            replace(f, evidence=(*f.evidence, note))
            if f.cause in (Cause.ENTITY_BACKEND_UNREACHABLE, Cause.WAITPOINT_WITHOUT_RESUMER)
            else f
            for f in findings
        ]
    unknown = _unknown_group(env, th, explained)
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
    return _unique(r for f in findings for r in f.runs)


def verify_checks(findings: Sequence[Finding]) -> tuple[VerifyCheck, ...]:
    return tuple({(v.kind, v.target): v for f in findings for v in f.verify}.values())
