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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tui.api.client import EngineClient
from tui.api.errors import ApiError, ConfigurationError
from tui.config import Thresholds
from tui.diagnosis.facts import Call, EnvFacts, OpenSpan, QueueFacts, RunFacts, RunTrace
from tui.model import (
    WAIT_FOR_TOKEN,
    Queue,
    QueueType,
    Repair,
    RepairReport,
    Run,
    RunStatus,
    Span,
    TokenDetail,
    TokenStatus,
    Trace,
    effective_limit,
    time_in_status,
)

T = TypeVar("T")
U = TypeVar("U")

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
MAX_SAMPLED_TASKS = 3
SAMPLE_RUNS = 3
SAMPLE_SINCE = timedelta(hours=1)
"""Runs created up to this long before a hung call began can still have finished after it was overdue."""
"""Runs traced per task whose calls hang, to see whether later calls to the same entity answer."""
MAX_METRICS = 40
"""Queue metrics read per triage or diagnosis, one request each: the most backlogged queues first. At 1,000
queues reading them all would take minutes of a 2 req/s budget."""
QUEUE_PROBE_SECONDS = 2.0
PARALLEL = 8
"""Requests in flight at once; the client's budget (and its burst cap) still paces them."""
MAX_CALLS = 40
"""Ended spans kept per trace to judge entities by their calls."""
HOLDER_PERIOD = "30d"
"""Slot holders can be older than the runs list's 7-day default window (API.md §4.2)."""
ENTITY_KEYS = ("entity", "entity.name", "entityName", "entity_name", "tool.entity", "platos.entity")
"""Span attributes that name the entity backend a tool call talks to."""
ACTIVE = (RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING)
HOLDING = (RunStatus.DEQUEUED, RunStatus.EXECUTING)
SAMPLED = (RunStatus.COMPLETED,)
"""Runs that finished well after a call began are the ones that show whether the entity answers since."""


class Notes:
    """Collects what could not be learnt, so a finding can say what it did not see."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def attempt(self, what: str, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except ConfigurationError as exc:
            self.lines.append(f"{what} skipped: {exc}")
        except ApiError as exc:
            self.lines.append(f"{what} failed: {exc}")
        return None


async def bounded(items: Iterable[U], call: Callable[[U], Awaitable[T]]) -> list[T]:
    """`call` each item with at most PARALLEL in flight; results in order.

    A call starts only once it has a slot, so a cancelled gather leaves no coroutine behind unawaited.
    """
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item: U) -> T:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


def _queue_key(q: Queue) -> tuple[str, QueueType]:
    return (q.name, q.type)


# ---------------------------------------------------------------- traces


def entity_of(properties: Any) -> str | None:
    if not properties:
        return None
    for key in ENTITY_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _open_leaves(trace: Trace) -> list[Span]:
    """Open spans with no open child, below the run's own span: what the run is doing right now."""
    leaves = []
    for depth, span in trace.root.walk():
        if depth == 0 or not span.is_partial or any(c.is_partial for c in span.children):
            continue
        leaves.append(span)
    return leaves[:3]


def _ended(span: Span) -> datetime:
    return span.start_time + timedelta(milliseconds=max(0.0, span.duration_ms))


def _movement(trace: Trace, leaves: Sequence[Span]) -> tuple[datetime | None, datetime | None, tuple[Call, ...]]:
    """When the run last moved (leaving out its own span and the open leaves), last (re)started, and its calls."""
    skip = {id(leaf) for leaf in leaves}
    marks: list[datetime] = []
    resumed: list[datetime] = []
    calls: list[Call] = []
    for depth, span in trace.root.walk():
        if depth == 0 or id(span) in skip:
            continue
        marks.append(span.start_time)
        marks.extend(e.time for e in span.events if e.time is not None)
        if span.attempt_number is not None or span.message.startswith("Attempt"):
            resumed.append(span.start_time)
        if span.is_partial:
            continue
        end = _ended(span)
        marks.append(end)
        if span.message == WAIT_FOR_TOKEN or span.message.startswith("wait."):
            resumed.append(end)
        if not span.children:
            ok = not (span.is_error or span.is_cancelled)
            calls.append(Call(span.message, span.start_time, end, ok, entity_of(span.properties)))
    calls.sort(key=lambda c: c.ended_at)
    return max(marks, default=None), max(resumed, default=None), tuple(calls[-MAX_CALLS:])


async def trace_run(client: EngineClient, run: Run, notes: Notes, tokens: dict[str, TokenDetail | None]) -> RunTrace:
    """The run's open leaf spans (entity or token resolved through span detail), its tokens, and its movement."""
    trace = await notes.attempt(f"trace of {run.id}", client.run_trace(run.id))
    if trace is None:
        return RunTrace(run, note="trace unavailable")
    spans: list[OpenSpan] = []
    missing: list[str] = []
    leaves = _open_leaves(trace)
    for leaf in leaves:
        props = leaf.properties
        entity_type = None
        if props is None and leaf.attempt_number is None and not leaf.message.startswith("Attempt"):
            detail = await notes.attempt(f"span {leaf.id} of {run.id}", client.span_detail(run.id, leaf.id))
            if detail is not None:
                props, entity_type = detail.properties, detail.entity_type
            else:
                missing.append(leaf.id)
        token_id = None
        if leaf.message == WAIT_FOR_TOKEN or entity_type == "waitpoint":
            value = (props or {}).get("id")
            token_id = value if isinstance(value, str) and value.startswith("waitpoint_") else None
        entity = None if token_id is not None or entity_type == "waitpoint" else entity_of(props)
        spans.append(OpenSpan(leaf.id, leaf.message, leaf.start_time, entity=entity, token_id=token_id))
    found: list[TokenDetail] = []
    for span in spans:
        if span.token_id is None:
            continue
        if span.token_id not in tokens:
            tokens[span.token_id] = await notes.attempt(f"token {span.token_id}", client.retrieve_token(span.token_id))
        token = tokens[span.token_id]
        if token is not None:
            found.append(token)
    note = f"span detail failed for {', '.join(missing)}" if missing else None
    if trace.truncated:
        note = "trace truncated by the server" + (f"; {note}" if note else "")
    moved, resumed, calls = _movement(trace, leaves)
    return RunTrace(run, tuple(spans), tuple(found), note, last_activity=moved, resumed_at=resumed, calls=calls)


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
    """The queue's QUEUED runs created before `before` (up to MAX_QUEUED_PAGES pages), and whether that is all."""
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
    result = EnvFacts(
        now,
        window,
        tuple(facts),
        environment=environment,
        deployment=deployment,
        engine_report=report,
        repair=repair,
        admin_checked=report is not None,
    )
    if result.env_saturated:
        result = replace(result, env_holders=await _env_holders(client, notes))
    return result


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
    return None, f"not found among {min(len(probes), MAX_QUEUE_PROBES)} queues probed"


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
    )
    tokens: dict[str, TokenDetail | None] = {}
    trace = await trace_run(client, run, notes, tokens) if run.status in ACTIVE else None
    facts = RunFacts(now, detail, env, queue_name=queue_name, queue_how=how, trace=trace)
    if facts.waits_for_dequeue and facts.queue is not None and facts.queue.holders:
        # Follow the chain: why do the runs holding this queue's slots not finish?
        holders = facts.queue.holders[:MAX_HOLDER_TRACES]
        traced = await bounded(holders, lambda r: trace_run(client, r, notes, tokens))
        env = replace(
            env,
            queues=tuple(replace(q, holder_traces=tuple(traced)) if q.name == queue_name else q for q in env.queues),
        )
    seen = [*(t for q in env.queues for t in q.holder_traces), *((trace,) if trace is not None else ())]
    samples = await sample_calls(client, seen, thresholds, now, notes, tokens)
    env = replace(env, samples=samples, notes=tuple(notes.lines))
    return replace(facts, env=env)


async def sample_calls(
    client: EngineClient,
    traces: Sequence[RunTrace],
    th: Thresholds,
    now: datetime,
    notes: Notes,
    tokens: dict[str, TokenDetail | None],
) -> tuple[RunTrace, ...]:
    """Traces of the latest runs that completed, of the tasks whose calls stay open: did the entity answer them?

    An entity is judged by all its calls: one slow call while other calls to the same entity finish is that
    call's problem, not the entity's.
    """
    limit = timedelta(seconds=th.tool_call_seconds)
    opened: dict[str, datetime] = {}
    for t in traces:
        for span in t.open_spans:
            if span.entity is not None and span.age(now) > limit:
                task = t.run.task_identifier
                opened[task] = min(opened.get(task, span.started_at), span.started_at)
    known = {t.run.id for t in traces}
    tasks = sorted(opened, key=lambda task: opened[task])[:MAX_SAMPLED_TASKS]
    pages = await bounded(
        tasks,
        lambda task: notes.attempt(
            f"recent runs of {task}",
            client.list_runs(
                tasks=[task], statuses=SAMPLED, created_from=opened[task] - SAMPLE_SINCE, page_size=SAMPLE_RUNS
            ),
        ),
    )
    picked = [r for page in pages if page is not None for r in page.items if r.id not in known]
    runs = list({r.id: r for r in picked}.values())[: SAMPLE_RUNS * len(tasks)]
    return tuple(await bounded(runs, lambda r: trace_run(client, r, notes, tokens)))


# ---------------------------------------------------------------- the environment


def _candidate(run: Run, now: datetime, th: Thresholds) -> bool:
    age = time_in_status(run, now).total_seconds()
    if run.status is RunStatus.DEQUEUED:
        return age > th.dequeued_seconds
    if run.status is RunStatus.EXECUTING:
        return age > min(th.tool_call_seconds, th.executing_seconds, th.waitpoint_seconds)
    return run.status is RunStatus.WAITING and age > th.waitpoint_seconds


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
        ),
        _active_runs(client, notes),
        notes.attempt(
            "QUEUED runs past the window",
            client.list_runs(statuses=[RunStatus.QUEUED], created_to=queued_before, page_size=100),
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
