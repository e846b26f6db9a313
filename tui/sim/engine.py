"""The simulated run engine: a virtual clock, queues with concurrency slots, workers, runs, traces and tokens.

Conventions the console relies on:
- A tool call is a span named `tool <entity>.<tool>` whose span detail carries properties
  `{"entity": <entity>, "tool": <tool>}`; it stays open (partial) while the call is in flight.
- A token wait is a span named `wait.forToken()` whose span detail has entityType "waitpoint" and
  properties `{"id": "waitpoint_…"}` (API.md §7.6).
- `repair-queues` with dryRun false removes leaked slots at once (the real engine waits 60 s first).
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.sim import lifecycle
from tui.sim.clock import iso as iso
from tui.sim.clock import parse_duration as parse_duration
from tui.sim.clock import parse_when as parse_when
from tui.sim.clock import to_json
from tui.sim.clock import utc as utc
from tui.sim.history import History
from tui.sim.lifecycle import MAX_ATTEMPTS as MAX_ATTEMPTS
from tui.sim.lifecycle import MAX_REQUEUES as MAX_REQUEUES
from tui.sim.lifecycle import STALL_TIMEOUT as STALL_TIMEOUT
from tui.sim.promotion import PromoteRefused, newer
from tui.sim.state import Bulk, Deployment, Environment, Plan, Queue, Run, Span, Token
from tui.sim.timers import Alarms, Schedule

TICK = 10.0
START_DELAY = 2.0
BULK_BATCH = 25

ACTIVE_DB = ("PENDING", "DEQUEUED", "EXECUTING", "WAITING_TO_RESUME", "DELAYED", "PENDING_VERSION")
_TENDED = frozenset({"DELAYED", "PENDING", "DEQUEUED", "EXECUTING"})
"""The statuses a tick looks at runs in (the timers, TTL expiry and the lifecycle)."""


@dataclass
class TaskSpec:
    """A task: its default queue, arrival rate and how its runs behave."""

    id: str
    queue: str
    per_minute: float
    plan: Callable[[random.Random], Plan]
    payload: Callable[[random.Random, int], Any] = lambda rng, n: {"n": n}
    tags: Callable[[random.Random, int], list[str]] = lambda rng, n: []


class Engine:
    """Deterministic from its seed; time only moves through `advance` (and `sync`, which follows the real clock).

    A tick costs what is due in it, not the size of the world: runs wait in `Alarms` for their next timer, tokens
    and releases in `Schedule`s, and only queues with waiting runs are offered to the dequeuer. A tick still visits
    what is due in the order a full scan would (runs by id, queues in list order, tokens by creation), so a world
    comes out the same from the same seed.
    """

    def __init__(self, *, seed: int = 1, start: datetime | None = None, speed: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.now = (start or datetime.now(UTC)).replace(microsecond=0)
        self.speed = speed
        self._anchor = time.monotonic()
        self._counter = 0
        self.env = Environment(id=self.new_id(), slug="dev", type="DEVELOPMENT", concurrency_limit=40)
        self.queues: dict[str, Queue] = {}
        self.removed_queues: dict[str, Queue] = {}
        """Queues gone from the queue list (a deploy dropped them); their runs stay where they were."""
        self.tasks: dict[str, TaskSpec] = {}
        self.runs: dict[str, Run] = {}
        self.order: list[Run] = []
        self.order_keys: list[tuple[datetime, str]] = []
        """Sort keys of `order` (createdAt, id), oldest first, for cursor look-ups."""
        self.children: dict[str, list[Run]] = {}
        self.by_status: dict[str, set[str]] = {}
        self.tokens: dict[str, Token] = {}
        self.token_order: list[Token] = []
        self.resolvers = Schedule()
        self.bulks: dict[str, Bulk] = {}
        self.deployments: list[Deployment] = []
        self.version = "20261128.1"
        self.workers = 6
        self.slots_per_worker = 5
        self.entities_down: set[str] = set()
        self.tool_timeout = 1800.0
        self.replica_lag = 0.0
        """Seconds the run-list replica trails the database (API.md §4.2); 0 is a consistent list."""
        self.releases = Schedule()
        """PENDING_VERSION runs and when a deploy with their task releases them into their queue."""
        self.lost: set[str] = set()
        """Runs whose resume the engine loses: their token or child completes and they stay WAITING."""
        self.auto_resolve: float | None = 90.0
        """Seconds after which an approver completes a run's token; None leaves tokens orphaned."""
        self.history = History()
        self.metrics_failing: set[str] = set()
        """Queues (stored names) whose metrics query fails in ClickHouse: their metrics route answers 503."""
        self.scenario = ""
        self._arrivals: dict[str, float] = {}
        self._since_sample = 0.0
        self._started: dict[str, int] = {}
        self._waits: dict[str, list[float]] = {}
        self._idem: dict[str, str] = {}
        self._alarms = Alarms()
        """Each run's next due moment (`lifecycle.due`): a tick wakes only these."""
        self._ready: set[str] = set()
        """Runs woken but not yet looked at by the part of the tick that handles their status."""
        self._timeouts = Schedule()
        """Token timeouts, by token id."""
        self._token_rank: dict[str, int] = {}
        self._queue_rank: dict[str, int] = {}
        """Each listed queue's place in `queues`: the dequeuer and TTL expiry visit queues in that order."""
        self._backlog: set[str] = set()
        """Queues (stored names) that may have waiting runs; the rest cannot dequeue anything."""
        self._open_bulks: list[Bulk] = []

    # -- ids and clock ---------------------------------------------------------------------------------
    def new_id(self) -> str:
        """A 25-char cuid-like id, deterministic from the seed."""
        self._counter += 1
        return f"c{self._counter:08x}{self.rng.getrandbits(64):016x}"

    def hex_id(self, length: int = 16) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def sync(self) -> None:
        """Advance virtual time by the real time elapsed since the last sync, times the speed factor."""
        real = time.monotonic()
        elapsed, self._anchor = real - self._anchor, real
        if self.speed > 0 and elapsed > 0:
            self.advance(elapsed * self.speed)

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward, running the engine in ticks of at most 10 s."""
        remaining = max(0.0, seconds)
        while remaining > 1e-9:
            step = min(TICK, remaining)
            remaining -= step
            moved = self.now + timedelta(seconds=step)
            self.now = moved.replace(microsecond=moved.microsecond // 1000 * 1000)  # the API speaks milliseconds
            self._tick(step)

    # -- indexes -----------------------------------------------------------------------------------------
    def set_status(self, run: Run, status: str, snapshot: str) -> None:
        self.by_status.get(run.status, set()).discard(run.iid)
        if run.updated_at < self.now - timedelta(seconds=self.replica_lag) or run.replica_status is None:
            run.replica_status = run.status  # changes within one lag collapse: the replica holds the older one
        run.status, run.snapshot, run.updated_at = status, snapshot, self.now
        self.by_status.setdefault(status, set()).add(run.iid)

    _set_status = set_status

    def arm(self, run: Run) -> None:
        """Wake `run` by its next due moment (call after changing its timers from outside the engine)."""
        when = lifecycle.due(self, run)
        if when is not None:
            self._alarms.set(run.iid, when)

    def with_status(self, *statuses: str) -> list[Run]:
        """Runs in these DB statuses, in creation order (ids sort by creation), so every tick is deterministic."""
        return [self.runs[i] for s in statuses for i in sorted(self.by_status.get(s, ()))]

    def add_queue(self, name: str, type_: str, limit: int | None) -> Queue:
        queue = Queue(id=f"queue_{self.new_id()}", name=name, type=type_, base_limit=limit)
        self.queues[queue.stored] = queue
        self._queue_rank[queue.stored] = len(self._queue_rank)
        self._started.setdefault(queue.stored, 0)
        return queue

    def queue_for(self, param: str, kind: str) -> Queue | None:
        """Find a queue by `queue_…` id (kind "id") or by name (kind "task"/"custom")."""
        if kind == "id":
            return next((q for q in self.queues.values() if q.id == param), None)
        stored = f"task/{param.removeprefix('task/')}" if kind == "task" else param
        queue = self.queues.get(stored)
        return queue if queue is not None and queue.type == kind else None

    # -- creating runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        task: str,
        *,
        created_at: datetime | None = None,
        queue: str | None = None,
        payload: Any = None,
        tags: Iterable[str] = (),
        metadata: dict[str, Any] | None = None,
        plan: Plan | None = None,
        delay_until: datetime | None = None,
        ttl: str | None = None,
        idempotency_key: str | None = None,
        parent: Run | None = None,
        enqueue: bool = True,
    ) -> Run:
        spec = self.tasks.get(task)
        when = created_at or self.now
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)  # cursors carry createdAt in milliseconds
        stored = queue or (spec.queue if spec else f"task/{task}")
        if stored not in self.queues:
            self.add_queue(stored.removeprefix("task/"), "task" if stored.startswith("task/") else "custom", None)
        n = len(self.order)
        run = Run(
            iid=self.new_id(),
            task=task,
            queue=stored,
            status="PENDING",
            snapshot="RUN_CREATED",
            created_at=when,
            updated_at=when,
            plan=plan or (spec.plan(self.rng) if spec else Plan(duration=5.0)),
            payload=payload if payload is not None else (spec.payload(self.rng, n) if spec else {}),
            tags=sorted(set(tags) or set(spec.tags(self.rng, n) if spec else ())),
            metadata=metadata,
            ttl=ttl,
            idempotency_key=idempotency_key,
            trace_id=self.hex_id(32),
        )
        if parent is not None:
            run.parent, run.root, run.depth = parent.iid, parent.root or parent.iid, parent.depth + 1
            run.trigger_function = "triggerAndWait"
            self.children.setdefault(parent.iid, []).append(run)
        self._admit(run)
        if ttl:
            run.expire_at = when + timedelta(seconds=parse_duration(ttl))
        if delay_until is not None and delay_until > self.now:
            run.delay_until = delay_until
            self.set_status(run, "DELAYED", "DELAYED")
            self.arm(run)
        elif enqueue:
            self.enqueue(run, when)
        return run

    def seed_run(self, task: str, queue: Queue, created_at: datetime, plan: Plan, status: str, snapshot: str) -> Run:
        """A run put straight in `status`, made as `create_run` makes one of an unregistered task (the same ids).

        For seeding big worlds: it skips what such a run does not need (task defaults, tags, the queue check).
        """
        when = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
        run = Run(
            iid=self.new_id(),
            task=task,
            queue=queue.stored,
            status=status,
            snapshot=snapshot,
            created_at=when,
            updated_at=when,
            plan=plan,
            payload={},
            trace_id=self.hex_id(32),
        )
        self._admit(run)
        return run

    def _admit(self, run: Run) -> None:
        """Give a new run its root span and enter it in the indexes (by id, creation order, status)."""
        when = run.created_at
        run.spans = Span(id=self.hex_id(), run_id=run.friendly, message=run.task, start=when)
        run.span_index[run.spans.id] = run.spans
        self.runs[run.iid] = run
        key = (when, run.iid)
        if not self.order_keys or key >= self.order_keys[-1]:
            self.order_keys.append(key)  # the common case (arrivals, seeding in time order) skips the search
            self.order.append(run)
        else:
            index = bisect.bisect_right(self.order_keys, key)
            self.order_keys.insert(index, key)
            self.order.insert(index, run)
        self.by_status.setdefault(run.status, set()).add(run.iid)

    def enqueue(self, run: Run, at: datetime | None = None) -> None:
        """Put a run in its queue's waiting set (QUEUED snapshot)."""
        status = "WAITING_TO_RESUME" if run.status == "WAITING_TO_RESUME" else "PENDING"
        self.set_status(run, status, "QUEUED")
        run.eligible_at = at or self.now
        self.add_waiting(self.queue_of(run), run)
        self.arm(run)

    def add_waiting(self, queue: Queue, run: Run) -> None:
        """Append a run to a queue's waiting list (seeders that build queues by hand must come through here)."""
        queue.waiting.append(run.iid)
        self._backlog.add(queue.stored)

    def add_span(self, run: Run, message: str, *, parent: Span | None = None, **extra: Any) -> Span:
        host = parent or self.attempt_span(run) or run.spans
        assert host is not None
        span = Span(id=self.hex_id(), run_id=run.friendly, message=message, start=self.now, parent_id=host.id, **extra)
        host.children.append(span)
        run.span_index[span.id] = span
        return span

    def attempt_span(self, run: Run) -> Span | None:
        if run.spans is None:
            return None
        attempts = [c for c in run.spans.children if c.attempt is not None and c.message.startswith("Attempt")]
        return attempts[-1] if attempts else None

    _attempt_span = attempt_span

    def open_leaf(self, run: Run) -> Span | None:
        attempt = self.attempt_span(run)
        if attempt is None:
            return None
        open_children = [c for c in attempt.children if c.end is None]
        return open_children[-1] if open_children else None

    _open_leaf = open_leaf

    # -- slots -------------------------------------------------------------------------------------------
    def queue_of(self, run: Run) -> Queue:
        """The run's queue, listed or removed."""
        return self.queues.get(run.queue) or self.removed_queues[run.queue]

    def remove_queue(self, stored: str) -> None:
        """Drop a queue from the list, as a deploy that removes its task does; no worker pulls from it again."""
        self.removed_queues[stored] = self.queues.pop(stored)

    def release(self, run: Run) -> None:
        queue = self.queue_of(run)
        queue.operational.discard(run.iid)
        queue.dequeued.discard(run.iid)
        self.env.operational.discard(run.iid)
        if run.iid in queue.waiting:
            queue.waiting.remove(run.iid)

    _release = release

    def image_error(self, version: str | None) -> str | None:
        """Why runs locked to this version cannot start, if its image is broken."""
        return next((d.image_error for d in self.deployments if d.version == version), None)

    def start_error(self, version: str | None) -> str | None:
        """Why every attempt on this version crashes as it starts, if it does."""
        return next((d.start_error for d in self.deployments if d.version == version), None)

    def worker_capacity(self) -> int:
        return self.workers * self.slots_per_worker

    def worker_used(self) -> int:
        executing = self.by_status.get("EXECUTING", ())
        return len(self.by_status.get("DEQUEUED", ())) + sum(
            1 for i in executing if self.runs[i].snapshot != "QUEUED_EXECUTING"
        )

    def env_limit(self) -> int:
        return 0 if self.env.paused else self.env.concurrency_limit

    def queue_limit(self, queue: Queue) -> int:
        if queue.paused:
            return 0
        return min(queue.limit if queue.limit is not None else 1_000_000, self.env_limit())

    # -- the tick ----------------------------------------------------------------------------------------
    def _tick(self, dt: float) -> None:
        self._arrive(dt)
        self._timers()
        for run in self._woken("DEQUEUED"):
            lifecycle.tend_dequeued(self, run)
            self.arm(run)
        # Runs started just now are looked at in the same tick (a zero-length phase ends at once), as before.
        for run in self._woken("EXECUTING"):
            lifecycle.tend_executing(self, run)
            self.arm(run)
        self._dequeue()
        self._bulk_step()
        self._since_sample += dt
        if self._since_sample >= TICK - 1e-9:
            self._since_sample = 0.0
            self._sample()
        # What woke for a status no later part of a tick handles needs nothing until it changes status again.
        self._ready = {i for i in self._ready if self.runs[i].status in _TENDED}

    def _woken(self, status: str) -> list[Run]:
        """Runs in `status` whose alarm has gone off, by id (creation order), as `with_status` would list them."""
        self._ready.update(self._alarms.due(self.now))
        picked = sorted(i for i in self._ready if self.runs[i].status == status)
        self._ready.difference_update(picked)
        return [self.runs[i] for i in picked]

    def _arrive(self, dt: float) -> None:
        for spec in self.tasks.values():
            acc = self._arrivals.get(spec.id, self.rng.random()) + spec.per_minute * dt / 60.0
            count = int(acc)
            self._arrivals[spec.id] = acc - count
            for _ in range(count):
                # Arrivals land anywhere inside the tick, so scheduling delays are real, not zero.
                self.create_run(spec.id, created_at=self.now - timedelta(seconds=self.rng.uniform(0, dt)))

    def _timers(self) -> None:
        if self.releases.due(self.now):
            for iid, when in list(self.releases.items()):
                if when <= self.now:
                    del self.releases[iid]
                    if self.runs[iid].status == "PENDING_VERSION":
                        self.enqueue(self.runs[iid])
        for run in self._woken("DELAYED"):
            if run.delay_until is not None and run.delay_until <= self.now:
                self.enqueue(run, run.delay_until)
            else:
                self.arm(run)
        self._expire()
        due = {i for i in self._timeouts.due(self.now) + self.resolvers.due(self.now) if i in self._token_rank}
        for iid in sorted(due, key=self._token_rank.__getitem__):
            token = self.tokens[iid]
            if token.status != "PENDING":
                continue
            if token.timeout_at is not None and token.timeout_at <= self.now:
                message = f"Waitpoint timed out at {iso(token.timeout_at)}"
                self.complete_token(token, to_json({"code": "TRIGGER_WAITPOINT_TIMEOUT", "message": message}), True)
            elif token.iid in self.resolvers and self.resolvers[token.iid] <= self.now:
                self.complete_token(token, to_json({"approved": True, "by": "approver-bot"}))

    def _expire(self) -> None:
        """TTL expiry of runs still waiting in a listed queue, in queue order, then waiting order."""
        due = []
        for run in self._woken("PENDING"):
            queue = self.queues.get(run.queue)
            if run.expire_at is not None and run.expire_at > self.now:
                self.arm(run)  # woken early (an alarm set before it was queued)
                continue
            if queue is None or run.expire_at is None or run.iid not in queue.waiting:
                continue  # enqueue arms the run again if it comes back to a queue
            due.append((self._queue_rank[run.queue], queue.waiting.index(run.iid), run))
        for *_, run in sorted(due, key=lambda item: item[:2]):
            if run.status == "PENDING" and run.expire_at is not None and run.expire_at <= self.now:
                lifecycle.finish(self, run, "EXPIRED", error={"type": "STRING_ERROR", "raw": "Run expired (TTL)"})
                run.expired_at = self.now

    def _dequeue(self) -> None:
        capacity = self.worker_capacity() - len(self.by_status.get("DEQUEUED", ()))
        if capacity <= 0 or not self._backlog:
            return  # nothing can be pulled: skip counting the executing runs
        capacity = self.worker_capacity() - self.worker_used()
        env_cap = math.floor(self.env_limit() * self.env.burst_factor)
        listed = sorted((s for s in self._backlog if s in self.queues), key=self._queue_rank.__getitem__)
        queues = [self.queues[s] for s in listed]
        try:
            progress = True
            while progress and capacity > 0:
                progress = False
                for queue in queues:
                    if capacity <= 0 or len(self.env.operational) >= env_cap:
                        return
                    if not queue.waiting or len(queue.operational) >= self.queue_limit(queue):
                        continue
                    run = self.runs[queue.waiting.pop(0)]
                    if run.eligible_at is not None and run.eligible_at > self.now:
                        queue.waiting.append(run.iid)
                        continue
                    self._pull(queue, run)
                    capacity -= 1
                    progress = True
        finally:
            self._backlog = {s for s in self._backlog if s in self.queues and self.queues[s].waiting}

    def _pull(self, queue: Queue, run: Run) -> None:
        queue.operational.add(run.iid)
        queue.dequeued.add(run.iid)
        self.env.operational.add(run.iid)
        if run.status == "WAITING_TO_RESUME":
            run.phase = "resume"
        self.set_status(run, "DEQUEUED", "PENDING_EXECUTING")
        run.locked_at = self.now
        run.version = run.version or self.version
        run.phase_end = self.now + timedelta(seconds=START_DELAY)
        self.arm(run)
        self._started[queue.stored] = self._started.get(queue.stored, 0) + 1
        eligible = run.eligible_at or run.created_at
        self._waits.setdefault(queue.stored, []).append((self.now - eligible).total_seconds() * 1000)

    def _sample(self) -> None:
        stamp = self.now.timestamp()
        for stored, queue in self.queues.items():
            self.history.record(
                stored,
                stamp,
                queued=len(queue.waiting),
                running=len(queue.dequeued),
                limit=self.queue_limit(queue),
                started=self._started.get(stored, 0),
                waits=self._waits.pop(stored, []),
            )
            self._started[stored] = 0

    # -- mutations the API exposes -----------------------------------------------------------------------
    def cancel(self, run: Run) -> None:
        """Cancel an unfinished run; a finished run is left as it is (the API still answers 200)."""
        if run.final:
            return
        lifecycle.finish(
            self, run, "CANCELED", error={"type": "STRING_ERROR", "raw": "Canceled by user"}, cancelled=True
        )

    def replay(self, run: Run) -> Run:
        return self.create_run(run.task, queue=run.queue, payload=run.payload, tags=run.tags, metadata=run.metadata)

    def create_token(
        self,
        *,
        idempotency_key: str | None = None,
        timeout: str | None = None,
        tags: Iterable[str] = (),
        created_at: datetime | None = None,
    ) -> Token:
        if idempotency_key and idempotency_key in self._idem:
            return self.tokens[self._idem[idempotency_key]]
        token = Token(iid=self.new_id(), created_at=created_at or self.now, tags=sorted(set(tags)))
        token.idempotency_key = idempotency_key or self.hex_id(24)
        token.user_key = idempotency_key is not None
        if idempotency_key:
            self._idem[idempotency_key] = token.iid
            token.idempotency_expires_at = token.created_at + timedelta(days=30)
        if timeout:
            token.timeout_at = parse_when(timeout, token.created_at)
            self._timeouts[token.iid] = token.timeout_at
        self._token_rank[token.iid] = len(self.token_order)
        self.tokens[token.iid] = token
        self.token_order.append(token)
        if token.iid in self.resolvers:
            self.resolvers[token.iid] = self.resolvers[token.iid]  # set before the token existed: schedule it now
        return token

    def complete_token(self, token: Token, output: str | None, is_error: bool = False) -> None:
        """Complete a token once (later completions are no-ops) and continue every run blocked on it."""
        if token.status == "COMPLETED":
            return
        token.status, token.output, token.output_is_error, token.completed_at = "COMPLETED", output, is_error, self.now
        for iid in sorted(token.waiters - self.lost):
            run = self.runs[iid]
            if run.status == "WAITING_TO_RESUME":
                self.enqueue(run)  # back through the queue; the API shows WAITING until a worker pulls it
            elif run.status == "EXECUTING" and run.phase == "wait":
                run.phase_end = self.now
                self.arm(run)
        token.waiters.clear()

    def pause_queue(self, queue: Queue, paused: bool) -> None:
        queue.paused = paused

    def override(self, queue: Queue, limit: int | None, percent: float | None) -> None:
        if percent is not None:
            limit = min(self.env.concurrency_limit, max(1, math.floor(self.env.concurrency_limit * percent / 100)))
        queue.override_limit, queue.override_percent, queue.overridden_at = limit, percent, self.now

    def reset(self, queue: Queue) -> None:
        queue.override_limit = queue.override_percent = queue.overridden_at = None

    def scale_workers(self, size: int) -> None:
        self.workers = max(0, size)

    # -- deployments -------------------------------------------------------------------------------------
    def current_deployment(self) -> Deployment | None:
        """The promoted deployment: the newest record of `version`, the one version new runs lock to."""
        return next((d for d in reversed(self.deployments) if d.version == self.version), None)

    def promote(self, version: str, *, allow_rollbacks: bool = False) -> Deployment:
        """Make `version` current for runs not yet locked (API.md §9); raises PromoteRefused or LookupError.

        Runs already locked keep their version: `_pull` only fills a run's version when it has none.
        """
        target = next((d for d in reversed(self.deployments) if d.version == version), None)
        if target is None:
            raise LookupError(version)
        if target.status != "DEPLOYED":
            raise PromoteRefused("Deployment must be in the DEPLOYED state to be promoted.")
        current = self.current_deployment()
        if current is not None:
            if current is target:
                raise PromoteRefused("Deployment is already the current deployment.")
            if not allow_rollbacks and not newer(target.version, current.version):
                raise PromoteRefused("Cannot promote a deployment that is older than the current deployment.")
        self.version = target.version
        return target

    # -- bulk actions --------------------------------------------------------------------------------------
    def create_bulk(self, kind: str, targets: list[str], name: str | None) -> Bulk:
        bulk = Bulk(iid=self.new_id(), type=kind, created_at=self.now, targets=targets, name=name)
        self.bulks[bulk.iid] = bulk
        self._open_bulks.append(bulk)
        return bulk

    def _bulk_step(self) -> None:
        if not self._open_bulks:
            return
        open_bulks, self._open_bulks = self._open_bulks, []
        for bulk in open_bulks:
            if bulk.status != "PENDING":
                continue
            for iid in bulk.targets[bulk.done : bulk.done + BULK_BATCH]:
                run = self.runs.get(iid)
                bulk.done += 1
                if run is None:
                    bulk.failure += 1
                elif bulk.type == "CANCEL":
                    if run.final:
                        bulk.failure += 1
                    else:
                        self.cancel(run)
                        run.bulk.append(bulk.friendly)
                        bulk.success += 1
                else:
                    self.replay(run).bulk.append(bulk.friendly)
                    bulk.success += 1
            if bulk.done >= len(bulk.targets):
                bulk.status, bulk.completed_at = "COMPLETED", self.now
            else:
                self._open_bulks.append(bulk)
