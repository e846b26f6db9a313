"""Collect a diagnosis's facts through EngineClient, within the request budget, tolerating partial failure.

Budget: metrics only for queues with a backlog or running runs; slot holders only for queues at their
cap; traces only for stuck candidates, at most `max_traces` of them (oldest first; the cap is noted).
A failed call leaves its fact unknown (`None`) with a note; only the first call (the run, or the queue
list for triage) lets its ApiError propagate, so an unreachable server or a bad run id is one clear error.

Finding a run's queue: the API never reports it (API.md §4.1). We list the runs of a candidate queue
created within ±`QUEUE_PROBE_SECONDS` of the run (`filter[queue]`, `filter[createdAt]`, page size 100)
and look for the run's id: first the task queue `task/<taskIdentifier>`, then custom queues with a
backlog or running runs (at most `MAX_QUEUE_PROBES` probes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from tui.api.client import EngineClient
from tui.config import Thresholds
from tui.diagnosis.deploys import deploy_facts
from tui.diagnosis.facts import EnvFacts, QueueFacts, RunFacts
from tui.diagnosis.fetching import Notes, bounded
from tui.diagnosis.traces import sample_calls, trace_run, with_children_done
from tui.model import (
    Queue,
    QueueType,
    Repair,
    RepairReport,
    Run,
    RunStatus,
    TokenDetail,
    TokenStatus,
    effective_limit,
    time_in_status,
)

DEFAULT_WINDOW = "15m"
"""The metrics period in which "dequeued anything" is judged."""
MAX_TRACES = 50
MAX_ACTIVE_PAGES = 5
MAX_HOLDER_PAGES = 3
MAX_QUEUE_PROBES = 10
MAX_QUEUED_SAMPLES = 20
MAX_HOLDER_QUEUES = 20
MAX_QUEUED_PAGES = 3
"""Pages of a backlog's QUEUED runs read (100 each): the runs a finding names."""
MAX_HOLDER_TRACES = 10
"""Slot holders traced when a diagnosis follows a blocked queue to why its holders hang."""
MAX_HEADS = 5
"""Slot holders read in full (for their schedule) when copies of their own task queue behind them."""
MAX_METRICS = 40
"""Queue metrics read per triage or diagnosis, one request each: the most backlogged queues first. At 1,000
queues reading them all would take minutes of a 2 req/s budget."""
QUEUE_PROBE_SECONDS = 2.0
HOLDER_PERIOD = "30d"
"""Slot holders can be older than the runs list's 7-day default window (API.md §4.2)."""
ACTIVE = (RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING)
HOLDING = (RunStatus.DEQUEUED, RunStatus.EXECUTING)


def _queue_key(q: Queue) -> tuple[str, QueueType]:
    return (q.name, q.type)


# ---------------------------------------------------------------- queues


async def _holders(client: EngineClient, q: Queue, notes: Notes) -> tuple[tuple[Run, ...] | None, bool]:
    runs: list[Run] = []
    after: str | None = None
    for _ in range(MAX_HOLDER_PAGES):
        page = await notes.attempt(
            f"slot holders of {q.stored_name}",
            client.list_runs(queue=_queue_key(q), statuses=HOLDING, period=HOLDER_PERIOD, page_size=100, after=after),
        )
        if page is None:
            return None, False
        runs.extend(page.items)
        after = page.next
        if after is None:
            return tuple(runs), True
    return tuple(runs), False


async def _queued(
    client: EngineClient, q: Queue, before: datetime | None, notes: Notes
) -> tuple[tuple[Run, ...] | None, bool]:
    """The queue's QUEUED runs created before `before` (up to MAX_QUEUED_PAGES pages), and whether that is all.

    A queue that counts one page or less is listed whole, fresh runs too: then the listing can be held against
    the queue's own count (a run the queue does not count is lost, see `incidents.orphans`).
    """
    before = None if q.queued <= 100 else before
    runs: list[Run] = []
    after: str | None = None
    for _ in range(MAX_QUEUED_PAGES):
        page = await notes.attempt(
            f"queued runs of {q.stored_name}",
            client.list_runs(
                queue=_queue_key(q), statuses=[RunStatus.QUEUED], created_to=before, page_size=100, after=after
            ),
        )
        if page is None:
            return (tuple(runs) or None), False
        runs.extend(page.items)
        after = page.next
        if after is None:
            return tuple(runs), True
    return tuple(runs), False


async def _env_holders(client: EngineClient, notes: Notes) -> tuple[Run, ...] | None:
    runs: list[Run] = []
    after: str | None = None
    for _ in range(MAX_HOLDER_PAGES):
        page = await notes.attempt(
            "running runs",
            client.list_runs(statuses=HOLDING, period=HOLDER_PERIOD, page_size=100, after=after),
        )
        if page is None:
            return None
        runs.extend(page.items)
        after = page.next
        if after is None:
            break
    else:
        # Pages can be short with more behind them (API.md §4.2): this is a floor, not the count.
        notes.lines.append(f"running runs: at least {len(runs)} (read {MAX_HOLDER_PAGES} pages)")
    return tuple(runs)


def _leaks_by_queue(report: RepairReport | None) -> dict[str, tuple[Repair, ...]]:
    if report is None:
        return {}
    return {name: result.leaks for name, result in report.queues}


async def _environment(
    client: EngineClient,
    now: datetime,
    window: str,
    notes: Notes,
    *,
    queues: list[Queue],
    holders_for: Callable[[Queue, int | None], bool],
    sample_queued: Callable[[QueueFacts, int | None], bool],
    queued_before: datetime | None = None,
    first: str | None = None,
    pending: bool = False,
    traced: frozenset[str] = frozenset(),
) -> EnvFacts:
    environment = await notes.attempt("environment (whoami)", client.environment())
    env_limit = environment.concurrency_limit if environment is not None else None
    deployment = await notes.attempt("current deployment", client.current_deployment())
    active = [q for q in queues if q.queued > 0 or q.running > 0]
    # `first` (the diagnosed run's queue) leads, then the longest backlogs: they decide the verdicts.
    active.sort(key=lambda q: (q.stored_name != first, -q.queued, -q.running))
    if len(active) > MAX_METRICS:
        notes.lines.append(f"metrics read for the {MAX_METRICS} most backlogged of {len(active)} active queues")
        active = active[:MAX_METRICS]
    metrics = await bounded(
        active, lambda q: notes.attempt(f"metrics of {q.stored_name}", client.queue_metrics(q, window))
    )
    by_name = {q.stored_name: m for q, m in zip(active, metrics, strict=True)}
    report = await notes.attempt("admin engine report", client.engine_report())
    repair = await notes.attempt("admin repair dry run", client.repair_queues(dry_run=True)) if report else None
    leaks = _leaks_by_queue(repair)
    engine = {s.name: s for s in report.queues} if report is not None else {}
    facts = [
        QueueFacts(
            q,
            by_name.get(q.stored_name),
            leaks=leaks.get(q.stored_name, ()) if repair is not None else None,
            engine=engine.get(q.stored_name),
        )
        for q in queues
    ]
    # Only a queue with runs waiting needs its slot holders named, the longest backlogs first.
    wanted = [i for i, f in enumerate(facts) if holders_for(f.queue, env_limit) and f.queue.queued > 0]
    wanted.sort(key=lambda i: -facts[i].queue.queued)
    if len(wanted) > MAX_HOLDER_QUEUES:
        notes.lines.append(f"slot holders listed for {MAX_HOLDER_QUEUES} of {len(wanted)} backlogged queues at cap")
        wanted = wanted[:MAX_HOLDER_QUEUES]
    listed = await bounded(wanted, lambda i: _holders(client, facts[i].queue, notes))
    for i, (runs, complete) in zip(wanted, listed, strict=True):
        facts[i] = replace(facts[i], holders=runs, holders_complete=complete)
    wanted_samples = [i for i, f in enumerate(facts) if sample_queued(f, env_limit)]
    # Problems first (paused, nothing started, at cap), then the longest backlogs: they decide the verdicts.
    wanted_samples.sort(key=lambda i: (not _suspect(facts[i], env_limit), -facts[i].queue.queued))
    if len(wanted_samples) > MAX_QUEUED_SAMPLES:
        notes.lines.append(f"queued runs listed for {MAX_QUEUED_SAMPLES} of {len(wanted_samples)} backlogged queues")
    sampled = wanted_samples[:MAX_QUEUED_SAMPLES]
    listed = await bounded(sampled, lambda i: _queued(client, facts[i].queue, queued_before, notes))
    for i, (runs, complete) in zip(sampled, listed, strict=True):
        if runs is not None:
            facts[i] = replace(facts[i], queued_runs=runs, queued_complete=complete)
    heads = [i for i, f in enumerate(facts) if _piles_up(f)][:MAX_HEADS]
    details = await bounded(
        heads,
        lambda i: notes.attempt(
            f"head of {facts[i].name}", client.retrieve_run(min(facts[i].holders or (), key=lambda r: r.created_at).id)
        ),
    )
    for i, detail in zip(heads, details, strict=True):
        facts[i] = replace(facts[i], head=detail)
    deploys = await deploy_facts(client, deployment, now, notes, {}, pending=pending, traced=traced)
    result = EnvFacts(
        now,
        window,
        tuple(facts),
        environment=environment,
        deployment=deployment,
        engine_report=report,
        repair=repair,
        admin_checked=report is not None,
        deploys=deploys,
    )
    if result.env_saturated:
        result = replace(result, env_holders=await _env_holders(client, notes))
    return result


def _piles_up(f: QueueFacts) -> bool:
    """A few slot holders with runs of their own task queued behind them: maybe a schedule behind a stuck head."""
    holders = f.holders or ()
    if not holders or len(holders) > 3 or not f.queued_runs:
        return False
    tasks = {r.task_identifier for r in holders}
    return len(tasks) == 1 and all(r.task_identifier in tasks for r in f.queued_runs)


def _suspect(f: QueueFacts, env_limit: int | None) -> bool:
    return f.queue.paused or not f.started or _at_cap(f.queue, env_limit)


def _at_cap(q: Queue, env_limit: int | None) -> bool:
    limit = effective_limit(q, env_limit)
    return q.running > 0 and limit is not None and q.running >= limit


# ---------------------------------------------------------------- one run


async def find_queue(client: EngineClient, run: Run, queues: Sequence[Queue], notes: Notes) -> tuple[str | None, str]:
    """The stored name of the run's queue, and how it was found (see the module docstring)."""
    if run.queue:
        return run.queue, "reported with the run"
    task = next((q for q in queues if q.type is QueueType.TASK and q.name == run.task_identifier), None)
    probes = [task or Queue("", run.task_identifier, QueueType.TASK, 0, 0, False, None)]
    probes += [q for q in queues if q.type is QueueType.CUSTOM and (q.queued > 0 or q.running > 0)]
    slack = timedelta(seconds=QUEUE_PROBE_SECONDS)
    for q in probes[:MAX_QUEUE_PROBES]:
        page = await notes.attempt(
            f"runs of {q.stored_name}",
            client.list_runs(
                queue=_queue_key(q),
                created_from=run.created_at - slack,
                created_to=run.created_at + slack,
                page_size=100,
            ),
        )
        if page is not None and any(r.id == run.id for r in page.items):
            return (
                q.stored_name,
                f"found by listing runs of {q.stored_name} created within ±{QUEUE_PROBE_SECONDS:g} s",
            )
    if len(probes) <= MAX_QUEUE_PROBES:
        return None, f"not found in any of the {len(probes)} queues it could be in"
    return None, f"not found among the first {MAX_QUEUE_PROBES} of {len(probes)} queues it could be in"


async def gather_run_facts(
    client: EngineClient, run_id: str, thresholds: Thresholds, now: datetime, *, window: str = DEFAULT_WINDOW
) -> RunFacts:
    """Everything `decide.diagnose` needs for one run; the run lookup's ApiError propagates.

    The operator asked for it, so it bursts (see `EngineClient.burst`); `env.requests` says how many it sent.
    """
    async with client.burst() as tally:
        facts = await _run_facts(client, run_id, thresholds, now, window)
    return replace(facts, env=replace(facts.env, requests=tally.requests))


async def _run_facts(client: EngineClient, run_id: str, thresholds: Thresholds, now: datetime, window: str) -> RunFacts:
    detail = await client.retrieve_run(run_id)
    run = detail.run
    if run.terminal:
        return RunFacts(now, detail, EnvFacts(now, window, ()), queue_how="not looked up: the run is terminal")
    notes = Notes()
    queues = await notes.attempt("queue list", client.list_queues()) or []
    queue_name, how = await find_queue(client, run, queues, notes)
    env = await _environment(
        client,
        now,
        window,
        notes,
        queues=queues,
        holders_for=lambda q, limit: q.stored_name == queue_name and _at_cap(q, limit),
        sample_queued=lambda f, limit: f.name == queue_name and f.queue.queued > 0,
        queued_before=now - timedelta(seconds=thresholds.dequeued_seconds + 1),
        first=queue_name,
        pending=run.status is RunStatus.PENDING_VERSION,
        traced=frozenset({run.id}),
    )
    tokens: dict[str, TokenDetail | None] = {}
    trace = await trace_run(client, run, notes, tokens) if run.status in ACTIVE else None
    if trace is not None:
        (trace,) = await with_children_done(client, [trace], notes)
    facts = RunFacts(now, detail, env, queue_name=queue_name, queue_how=how, trace=trace)
    if facts.waits_for_dequeue and facts.queue is not None and facts.queue.holders:
        # Follow the chain: why do the runs holding this queue's slots not finish?
        holders = facts.queue.holders[:MAX_HOLDER_TRACES]
        traced = await bounded(holders, lambda r: trace_run(client, r, notes, tokens))
        env = replace(
            env,
            queues=tuple(replace(q, holder_traces=tuple(traced)) if q.name == queue_name else q for q in env.queues),
        )
    if env.env_saturated and env.env_holders and (facts.waits_for_dequeue or run.status is RunStatus.EXECUTING):
        # The environment is full: why its holders do not finish decides (a deadlock, a blocker).
        others = [h for h in env.env_holders if h.id != run.id][:MAX_HOLDER_TRACES]
        env = replace(env, candidates=tuple(await bounded(others, lambda r: trace_run(client, r, notes, tokens))))
    seen = [*(t for q in env.queues for t in q.holder_traces), *((trace,) if trace is not None else ())]
    samples = await sample_calls(client, seen, thresholds, now, notes, tokens)
    env = replace(env, samples=samples, notes=tuple(notes.lines))
    return replace(facts, env=env)


# ---------------------------------------------------------------- the environment


def _candidate(run: Run, now: datetime, th: Thresholds) -> bool:
    age = time_in_status(run, now).total_seconds()
    if run.status is RunStatus.DEQUEUED:
        return age > th.dequeued_seconds
    if run.status is RunStatus.EXECUTING:
        return age > min(th.tool_call_seconds, th.executing_seconds, th.waitpoint_seconds)
    # A WAITING run whose token completed minutes ago should have resumed: trace them early enough to see it.
    return run.status is RunStatus.WAITING and age > min(th.dequeued_seconds, th.waitpoint_seconds)


async def _active_runs(client: EngineClient, notes: Notes) -> list[Run]:
    active: list[Run] = []
    after: str | None = None
    for _ in range(MAX_ACTIVE_PAGES):
        page = await notes.attempt("active runs", client.list_runs(statuses=ACTIVE, page_size=100, after=after))
        if page is None:
            break
        active.extend(page.items)
        after = page.next
        if after is None:
            break
    else:
        notes.lines.append(f"active runs: read the first {len(active)} only")
    return active


async def gather_environment_facts(
    client: EngineClient,
    thresholds: Thresholds,
    now: datetime,
    *,
    window: str = DEFAULT_WINDOW,
    max_traces: int = MAX_TRACES,
) -> EnvFacts:
    """Everything `triage.triage` needs. The queue list's ApiError propagates (no server, bad key).

    A triage is work the operator asked for: it bursts (see `EngineClient.burst`); `requests` says how many.
    """
    async with client.burst() as tally:
        env = await _environment_facts(client, thresholds, now, window, max_traces)
    return replace(env, requests=tally.requests)


async def _environment_facts(
    client: EngineClient, thresholds: Thresholds, now: datetime, window: str, max_traces: int
) -> EnvFacts:
    notes = Notes()
    queues = await client.list_queues()
    queued_before = now - timedelta(seconds=thresholds.dequeued_seconds + 1)
    env, active, stale = await asyncio.gather(
        _environment(
            client,
            now,
            window,
            notes,
            queues=queues,
            holders_for=_at_cap,
            sample_queued=lambda f, limit: f.queue.queued > 0,
            queued_before=queued_before,
            pending=True,
        ),
        _active_runs(client, notes),
        notes.attempt(
            "QUEUED runs past the window",
            client.list_runs(
                statuses=[RunStatus.QUEUED], created_to=queued_before, page_size=100, fill=MAX_QUEUED_PAGES
            ),
        ),
    )
    candidates = sorted(
        (r for r in active if _candidate(r, now, thresholds)),
        key=lambda r: time_in_status(r, now),
        reverse=True,
    )
    if len(candidates) > max_traces:
        notes.lines.append(f"traced {max_traces} of {len(candidates)} stuck candidates (cap)")
    tokens: dict[str, TokenDetail | None] = {}
    traces = await bounded(candidates[:max_traces], lambda r: trace_run(client, r, notes, tokens))
    traces = list(await with_children_done(client, traces, notes))
    samples, waiting = await asyncio.gather(
        sample_calls(client, traces, thresholds, now, notes, tokens),
        notes.attempt("waiting tokens", client.list_tokens(statuses=[TokenStatus.WAITING], page_size=100)),
    )
    return replace(
        env,
        candidates=tuple(traces),
        candidates_total=len(candidates),
        active_runs_seen=len(active),
        waiting_tokens=waiting.items if waiting is not None else (),
        stale_queued=stale.items if stale is not None else (),
        samples=samples,
        notes=tuple(notes.lines),
    )
