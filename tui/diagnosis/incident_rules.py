"""Rules for the stalls real incidents show beyond the runbook's seven (see `incidents`): each returns a Finding
whose runs are all stuck by `stuck.assess`, with the evidence an operator checks and a recovery that fits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tui.diagnosis.evidence import canceled_check, flow_checks, queue_line, run_check, started_line
from tui.diagnosis.facts import QueueFacts, RunTrace, status_age
from tui.diagnosis.findings import Action, Cause, Finding, Recovery, VerifyCheck
from tui.diagnosis.fmt import dur, listing, name, plural
from tui.diagnosis.incidents import SKIPPED, waits_on_child
from tui.diagnosis.scene import Scene, seen_runs
from tui.diagnosis.stuck import Flow, resumed_by
from tui.model import Deployment, Run, RunStatus

NAMED = 10
"""How many runs a finding offers to cancel one by one."""
BUILDING = frozenset({"PENDING", "BUILDING", "DEPLOYING", "INSTALLING"})
BROKEN = frozenset({"FAILED", "CANCELED", "TIMED_OUT"})
ACTIVE = "QUEUED,DEQUEUED,EXECUTING,WAITING"
"""Statuses of a run not finished yet, as a bulk filter."""
MEMORY_WORDS = ("memory", "oom", "heap", "out of memory")


def _cancel(runs: Sequence[Run], then: str = "") -> tuple[Recovery, ...]:
    return tuple(Recovery(f"cancel run {r.id}{then}", Action.CANCEL, r.id) for r in runs[:NAMED])


def _canceled(runs: Sequence[Run]) -> tuple[VerifyCheck, ...]:
    return tuple(canceled_check(r.id) for r in runs[:NAMED])


def _stuck(runs: Sequence[Run], sc: Scene) -> list[Run]:
    found = [r for r in runs if sc.verdict(r).stuck]
    found.sort(key=lambda r: sc.verdict(r).age, reverse=True)
    return found


def _live_words(d: Deployment, sc: Scene) -> str:
    return f"version {name(d.version)}" + (f" (live {dur(sc.now - d.deployed_at)})" if d.deployed_at else "")


# ---------------------------------------------------------------- a deploy whose runs cannot start


def deployment_unrunnable(sc: Scene) -> Finding | None:
    """The live version's runs do not start while the version before it ran: roll back, then move its runs."""
    return sc.once("unrunnable", lambda: _unrunnable(sc))


def _unrunnable(sc: Scene) -> Finding | None:
    bad = sc.unrunnable
    if bad is None:
        return None
    locked = {r.id: r for r in (*bad.runs, *seen_runs(sc.env).values()) if r.version == bad.live.version}
    stuck = _stuck(list(locked.values()), sc)
    live, previous = bad.live, bad.previous
    counts = ", ".join(f"{n} {s}" for s, n in sorted(bad.by_status.items(), key=lambda x: -x[1]))
    evidence = [
        f"live {_live_words(live, sc)}: deployed {live.deployed_at:%Y-%m-%d %H:%M} UTC" if live.deployed_at else "",
        f"runs locked to {name(live.version)} (created from an hour before it went live): {counts}; none completed",
        (
            f"most common error ({plural(bad.errors, 'time')}): {name(bad.error)}"
            if bad.error
            else "no error recorded: its runs are pulled and never start (DEQUEUED, then requeued)"
        ),
    ]
    if previous is not None:
        ran = sc.env.deploys.previous_completed
        evidence.append(
            f"previous version {name(previous.version)}: "
            + (f"{plural(ran, 'recent run')} on it completed" if ran is not None else "not read")
        )
    recovery: list[Recovery] = []
    if previous is not None:
        recovery.append(
            Recovery(
                f"roll back: promote {name(previous.version)} again (new runs lock to it)",
                Action.ROLLBACK,
                previous.version,
            )
        )
    else:
        recovery.append(
            Recovery("deploy a fixed version (no earlier deployed version to roll back to)", external="deploy")
        )
    recovery.append(
        Recovery(
            f"then cancel every unfinished run locked to {name(live.version)} (bulk, filter version) and replay them",
            Action.CANCEL_MATCHING,
            f"version={live.version}&status={ACTIVE}",
        )
    )
    summary = (
        f"{_live_words(live, sc)} cannot run: {plural(len(stuck), 'run')} on it stuck, none completed"
        + (f"; {name(bad.error)}" if bad.error else "")
        + (f"; roll back to {name(previous.version)}" if previous is not None else "")
    )
    return Finding(
        Cause.DEPLOYMENT_UNRUNNABLE,
        summary,
        evidence=tuple(e for e in evidence if e),
        recovery=tuple(recovery),
        verify=_canceled(stuck),
        runs=tuple(r.id for r in stuck),
        runs_note=None if stuck else "its runs have not waited past the window yet",
        waiting=len(locked),
    )


# ---------------------------------------------------------------- runs waiting for a version


def pending_version(sc: Scene, task: str | None = None) -> list[Finding]:
    """Runs PENDING_VERSION past the window, one finding per task, saying which deploy holds them."""
    found = sc.once("pending", lambda: _pending(sc))
    return [f for f in found if task is None or f.entity == task]


def _pending(sc: Scene) -> list[Finding]:
    by_task: dict[str, list[Run]] = {}
    for run in sc.env.deploys.pending_runs:
        if run.status is RunStatus.PENDING_VERSION and sc.verdict(run).stuck:
            by_task.setdefault(run.task_identifier, []).append(run)
    return [_pending_finding(task, runs, sc) for task, runs in sorted(by_task.items())]


def _pending_finding(task: str, runs: list[Run], sc: Scene) -> Finding:
    runs.sort(key=lambda r: r.created_at)
    first = runs[0].created_at
    newer = [d for d in sc.env.deploys.deployments if d.created_at >= first - timedelta(minutes=30)]
    newer.sort(key=lambda d: d.created_at, reverse=True)
    live = sc.env.deployment
    oldest = dur(sc.now - first)
    recovery: tuple[Recovery, ...]
    building = next((d for d in newer if d.status in BUILDING), None)
    failed = next((d for d in newer if d.status in BROKEN), None)
    if building is not None:
        why = f"the deploy {name(building.version)} is still {building.status}, for {dur(sc.now - building.created_at)}"
        recovery = (Recovery(f"check the build of {name(building.version)} (stuck builder?)", external="check-deploy"),)
    elif failed is not None:
        error = f": {name(failed.error)}" if failed.error else ""
        why = f"the deploy {name(failed.version)} {failed.status}{error}"
        recovery = (Recovery(f"fix and deploy again: no version has task {name(task)}", external="deploy"),)
    elif live is not None and live.deployed_at is not None and live.deployed_at > first:
        why = (
            f"version {name(live.version)} went live {dur(sc.now - live.deployed_at)} ago, after these runs were "
            "triggered, and did not release them: if it has the task, the engine lost them"
        )
        recovery = _cancel(runs, "; then replay it on the live version")
    else:
        why = f"no deploy since they were triggered has task {name(task)}"
        recovery = (Recovery(f"deploy a version with task {name(task)}", external="deploy"),)
    return Finding(
        Cause.PENDING_VERSION,
        f"{plural(len(runs), 'run')} of task {name(task)} pending a version for up to {oldest}: {why}",
        evidence=(
            f"{plural(len(runs), 'run')} PENDING_VERSION past {dur(sc.th.pending_version_seconds)}: "
            + listing([r.id for r in runs]),
            why,
            *(f"deploy {name(d.version)}: {d.status}, created {dur(sc.now - d.created_at)} ago" for d in newer[:3]),
        ),
        recovery=recovery,
        verify=tuple(
            run_check(
                r.id,
                (RunStatus.QUEUED, RunStatus.EXECUTING, RunStatus.COMPLETED, RunStatus.CANCELED),
                f"run {r.id} leaves PENDING_VERSION",
            )
            for r in runs[:NAMED]
        ),
        runs=tuple(r.id for r in runs),
        entity=task,
        waiting=len(runs),
    )


# ---------------------------------------------------------------- a resume the engine lost


def resume_lost(t: RunTrace, sc: Scene) -> Finding | None:
    """WAITING although every token it waits on completed past the window, and its queue moves: the resumer
    fired and the engine lost the continuation."""
    run = t.run
    resumed = resumed_by(t)
    if run.status is not RunStatus.WAITING or resumed is None or not sc.verdict(run).stuck:
        return None
    env = sc.env
    if sc.stall is not None or env.env_paused or env.env_saturated:
        return None  # nothing resumes anywhere: that is the environment's cause
    queue = env.queue(sc.queue_name(run) or "")
    done, _ = resumed
    waited = sc.now - done if done is not None else None
    if queue is not None and not _skipped(queue, waited, sc):
        return None
    if queue is None and any(_holds_back(q, sc) for q in env.queues):
        return None  # its queue is not known, and some queue holds runs back: it may wait its turn there
    ago = dur(sc.now - done) if done is not None else "?"
    if t.tokens:
        token = t.tokens[0].token
        what, fact = f"token {name(token.id)} completed", f"token {name(token.id)}: COMPLETED {ago} ago"
    else:
        children = listing([c.run_id for s in t.open_spans for c in s.triggered])
        what, fact = "its child runs finished", f"child runs {children}: all finished, the last {ago} ago"
    return Finding(
        Cause.RESUME_LOST,
        f"run {run.id} still WAITING {ago} after {what}: the engine lost its resume",
        evidence=(
            fact,
            f"run {run.id}: WAITING for {dur(status_age(run, sc.now, t))}, its wait span still open",
            (started_line(queue, env) if queue is not None else "its queue was not listed")
            + ": runs around it resume and start",
        ),
        recovery=(
            *_cancel([run], "; then replay it"),
            Recovery("report the lost resume to the platform team with the run and token ids", external="escalate"),
        ),
        verify=_canceled([run]),
        run_id=run.id,
        runs=(run.id,),
        waiting=1,
    )


def _holds_back(q: QueueFacts, sc: Scene) -> bool:
    return q.queue.queued > 0 and (q.queue.paused or sc.flow(q) in (Flow.STALLED, Flow.CAPPED, Flow.PAUSED))


def _skipped(q: QueueFacts, waited: timedelta | None, sc: Scene) -> bool:
    """Whether a run that re-entered this queue `waited` ago would have been pulled by now: the queue holds no
    backlog, or it serves its runs many times faster (p95 wait) and is not stalled, paused or at its cap."""
    if q.queue.paused or sc.flow(q) in (Flow.STALLED, Flow.CAPPED, Flow.PAUSED):
        return False
    if q.queue.queued == 0:
        return True
    m = q.metrics
    if waited is None or m is None or m.wait_p95_ms is None or m.started_count <= 0:
        return False
    return waited > max(timedelta(seconds=sc.th.dequeued_seconds), timedelta(milliseconds=m.wait_p95_ms) * SKIPPED)


# ---------------------------------------------------------------- runs no queue counts


def run_orphaned(sc: Scene) -> Finding | None:
    return sc.once("orphaned", lambda: _orphaned(sc))


def _orphaned(sc: Scene) -> Finding | None:
    runs = {r.id: r for r in (*sc.env.stale_queued, *(r for q in sc.env.queues for r in q.queued_runs))}
    stuck = _stuck([runs[i] for i in sc.orphans if i in runs], sc)
    if not stuck:
        return None
    lines = []
    for run in stuck[:NAMED]:
        queue = sc.env.queue(sc.queue_of.get(run.id, ""))
        where = (
            f"its queue {name(queue.name)} counts {queue.queue.queued} queued, {queue.queue.running} running"
            if queue is not None
            else "no listed queue holds it"
        )
        lines.append(f"{run.id} ({name(run.task_identifier)}): QUEUED {dur(sc.verdict(run).age)}; {where}")
    return Finding(
        Cause.RUN_ORPHANED,
        f"{plural(len(stuck), 'run')} QUEUED in no queue's count, oldest {dur(sc.verdict(stuck[0]).age)}: "
        "no worker will pull them",
        evidence=(
            *lines,
            "the queue's counters leave them out, so repair-queues cannot see them either",
        ),
        recovery=_cancel(stuck, "; then replay it"),
        verify=_canceled(stuck),
        runs=tuple(r.id for r in stuck),
        waiting=len(stuck),
    )


# ---------------------------------------------------------------- deadlock at the environment limit


def deadlock_at_env_limit(q: QueueFacts, sc: Scene) -> Finding | None:
    """A queue whose runs wait behind an environment full of parents that wait on their queued children."""
    if q.queue.queued <= 0 or sc.deadlock is None:
        return None
    return deadlock_finding(sc)


def deadlock_finding(sc: Scene) -> Finding | None:
    return sc.once("deadlock", lambda: _deadlock(sc))


def _deadlock(sc: Scene) -> Finding | None:
    lock = sc.deadlock
    if lock is None:
        return None
    env = sc.env
    holders = [h for h, _ in lock.cycle]
    children = dict.fromkeys(c.run_id for _, c in lock.cycle)  # in the cycle's order: the same list every time
    seen = {r.id: r for q in env.queues for r in q.queued_runs}
    stuck_children = _stuck([seen[c] for c in children if c in seen], sc)
    behind = [r for q in env.queues for r in sc.stuck_queued(q) if r.id not in children]
    youngest = max(holders, key=lambda h: h.created_at)
    pairs = [
        f"{h.id} ({name(h.task_identifier)}) waits on {c.run_id} ({name(c.task_identifier)}, {c.status})"
        for h, c in lock.cycle
    ]
    capacity = env.env_capacity
    child_queues = {sc.queue_of.get(c) for c in children}
    return Finding(
        Cause.DEADLOCK_AT_ENV_LIMIT,
        f"deadlock at the environment limit: {plural(len(holders), 'run')} hold every slot "
        f"({env.env_running} of {capacity if capacity is not None else '?'}), each waiting on a child queued "
        f"behind them for {dur(sc.now - lock.since)}+",
        evidence=(
            f"environment: running {env.env_running} of {capacity if capacity is not None else '?'} (with burst)",
            f"the cycle ({len(lock.cycle)} of {lock.holders} slot holders traced):",
            *pairs[:NAMED],
            "the waits do not checkpoint, so each parent keeps its slot while its child waits for one",
            f"{plural(len(behind), 'other run')} wait behind them" if behind else "no other run waits yet",
        ),
        recovery=(
            Recovery("raise the environment concurrency limit above the number of parents", external="env-limit"),
            Recovery(
                f"or cancel one holder, {youngest.id} (the newest): its slot lets a child run, and the rest unwind",
                Action.CANCEL,
                youngest.id,
            ),
        ),
        verify=tuple(v for q in env.queues if q.name in child_queues for v in flow_checks(q, env)),
        runs=tuple(
            dict.fromkeys(
                [*(r.id for r in stuck_children), *(h.id for h in _stuck(holders, sc)), *(r.id for r in behind)]
            )
        ),
        waiting=len(children) + len(behind),
    )


def in_deadlock(run: Run, sc: Scene) -> bool:
    lock = sc.deadlock
    return lock is not None and any(run.id in (h.id, c.run_id) for h, c in lock.cycle)


# ---------------------------------------------------------------- a zombie of a crashed worker


def worker_crashed(t: RunTrace, sc: Scene) -> Finding | None:
    """EXECUTING and stuck, its trace worked in this attempt and then went silent long past the window: the
    worker died (OOM, node loss) and nothing ended the run, which keeps its slot."""
    run = t.run
    if run.status is not RunStatus.EXECUTING or not sc.verdict(run).stuck or t.last_activity is None:
        return None
    if waits_on_child(t) is not None or any(s.token_id or s.entity for s in t.open_spans):
        return None
    began = t.resumed_at
    worked = [c for c in t.calls if began is None or c.started_at >= began]
    silent = sc.now - t.last_activity
    quiet = timedelta(seconds=max(sc.th.executing_seconds, 3 * sc.th.progress_seconds))
    if not worked or silent <= quiet:
        return None
    last = worked[-1]
    texts = [c.message for c in t.calls] + [c.error or "" for c in t.calls]
    memory = next((x for x in texts if any(w in x.lower() for w in MEMORY_WORDS)), None)
    queue = sc.env.queue(sc.queue_name(run) or "")
    held = (
        f"it holds a slot of {name(queue.name)}: {queue_line(queue, sc.env)}"
        if queue is not None
        else "it holds a concurrency slot"
    )
    recovery = [*_cancel([run])]
    if memory is not None:
        recovery.append(
            Recovery("run the task on a larger machine (the trace shows memory pressure)", external="larger-machine")
        )
    return Finding(
        Cause.WORKER_CRASHED,
        f"run {run.id}: its worker is gone; EXECUTING {dur(status_age(run, sc.now, t))}, trace silent for "
        f"{dur(silent)} since {name(last.message)} ended",
        evidence=(
            f"last span: {name(last.message)}, ended {dur(sc.now - last.ended_at)} ago"
            + ("" if last.ok else " in error"),
            f"nothing in the trace since: no span, no event, no open call or wait (silent {dur(silent)}, "
            f"window {dur(quiet)})",
            *((f"memory pressure before it went silent: {name(memory)}",) if memory else ()),
            held,
        ),
        recovery=tuple(recovery),
        verify=_canceled([run]),
        run_id=run.id,
        runs=(run.id,),
        waiting=1,
    )


# ---------------------------------------------------------------- a schedule piling up behind a stuck head


def schedule_pileup(q: QueueFacts, sc: Scene) -> Finding | None:
    """The queue's only holder is a scheduled run that is stuck, and its schedule keeps queueing copies."""
    head = q.head
    if head is None or head.schedule_id is None or not sc.verdict(head.run).stuck:
        return None
    copies = [r for r in q.queued_runs if r.task_identifier == head.run.task_identifier]
    if len(copies) < 2:
        return None
    stuck = sc.stuck_queued(q)
    newest = max(copies, key=lambda r: r.created_at)
    before_newest = newest.created_at - timedelta(milliseconds=1)
    schedule = name(head.schedule_id)
    return Finding(
        Cause.SCHEDULE_PILEUP,
        f"schedule {schedule} piles up: head run {head.run.id} stuck {dur(sc.verdict(head.run).age)}, "
        f"{q.queue.queued} copies queued behind it in {name(q.name)}",
        evidence=(
            f"head {head.run.id} ({name(head.run.task_identifier)}): {sc.verdict(head.run).reason}",
            queue_line(q, sc.env),
            started_line(q, sc.env),
            f"copies listed: {len(copies)}, newest {newest.id} created {dur(sc.now - newest.created_at)} ago",
        ),
        recovery=(
            Recovery(f"cancel the head run {head.run.id}", Action.CANCEL, head.run.id),
            Recovery(
                f"then bulk cancel the copies but the newest: schedule {schedule}, QUEUED, created before "
                f"{newest.created_at:%Y-%m-%d %H:%M:%S} UTC",
                Action.CANCEL_MATCHING,
                f"schedule={head.schedule_id}&status=QUEUED&to={before_newest.isoformat()}",
            ),
        ),
        verify=(*_canceled([head.run]), *flow_checks(q, sc.env)),
        queues=(q.name,),
        runs=tuple(dict.fromkeys([head.run.id, *(r.id for r in stuck)])),
        waiting=q.queue.queued,
    )
