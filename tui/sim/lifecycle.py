"""The attempt lifecycle: start, tool calls, token waits, retries, stalls and finishing (API.md §3, §11).

The engine imports this module and hands itself in as a `Host`; nothing here imports the engine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, MutableMapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from tui.sim import telemetry
from tui.sim.clock import iso
from tui.sim.state import Run, Span, Token

TOOL_SECONDS = 3.0
STALL_TIMEOUT = 60.0
MAX_ATTEMPTS = 3
MAX_REQUEUES = 12
PULL_SECONDS = 180.0
"""How long a worker retries pulling an image that cannot be pulled before the engine nacks the run."""


class Host(Protocol):
    """What the lifecycle needs of the engine running it: the clock, the world and a few operations."""

    @property
    def now(self) -> datetime: ...
    @property
    def rng(self) -> random.Random: ...
    @property
    def runs(self) -> dict[str, Run]: ...
    @property
    def tokens(self) -> dict[str, Token]: ...
    @property
    def children(self) -> dict[str, list[Run]]: ...
    @property
    def entities_down(self) -> set[str]: ...
    @property
    def tool_timeout(self) -> float: ...
    @property
    def auto_resolve(self) -> float | None: ...
    @property
    def resolvers(self) -> MutableMapping[str, datetime]: ...
    @property
    def lost(self) -> set[str]: ...

    def new_id(self) -> str: ...
    def hex_id(self, length: int = 16) -> str: ...
    def set_status(self, run: Run, status: str, snapshot: str) -> None: ...
    def release(self, run: Run) -> None: ...
    def enqueue(self, run: Run, at: datetime | None = None) -> None: ...
    def arm(self, run: Run) -> None:
        """Make sure the engine looks at `run` again by the moment `due` gives for it."""

    def add_span(self, run: Run, message: str, *, parent: Span | None = None, **extra: Any) -> Span: ...
    def attempt_span(self, run: Run) -> Span | None: ...
    def open_leaf(self, run: Run) -> Span | None: ...
    def create_run(self, task: str, *, parent: Run | None = None, tags: Iterable[str] = ()) -> Run: ...
    def create_token(self, *, tags: Iterable[str] = ()) -> Token: ...
    def image_error(self, version: str | None) -> str | None: ...
    def start_error(self, version: str | None) -> str | None: ...


def due(engine: Host, run: Run) -> datetime | None:
    """The next moment the engine has something to do for this run by itself (a timer, a phase end, a step)."""
    status = run.status
    if status == "DELAYED":
        return run.delay_until
    if status == "PENDING":
        return run.expire_at
    if status == "DEQUEUED":
        if engine.image_error(run.version) is not None:
            return None if run.locked_at is None else run.locked_at + timedelta(seconds=PULL_SECONDS)
        if run.plan.never_starts:
            if run.locked_at is None or run.plan.heartbeats:
                return None  # a heartbeating worker pushes the stall timer back forever
            return run.locked_at + timedelta(seconds=STALL_TIMEOUT)
        return run.phase_end
    if status != "EXECUTING":
        return None
    times = [] if run.phase_end is None else [run.phase_end]
    call = _unanswered_call(engine, run)
    if call is not None and (retry := telemetry.next_retry(call)) is not None:
        times.append(retry)
    if run.phase == "work":
        if run.crash_at is not None:
            times.append(run.crash_at)
        if run.plan.step_seconds:
            leaf = engine.open_leaf(run)
            times.append(engine.now if leaf is None else leaf.start + timedelta(seconds=run.plan.step_seconds))
    return min(times, default=None)


def tend_dequeued(engine: Host, run: Run) -> None:
    """A pulled run: start its attempt when due, or give up on it (image never pulled, stall timeout)."""
    broken = engine.image_error(run.version)
    if broken is not None:
        if run.locked_at is not None and (engine.now - run.locked_at).total_seconds() >= PULL_SECONDS:
            pull_failed(engine, run, broken)
        return
    if run.plan.never_starts:
        overdue = run.locked_at is not None and (engine.now - run.locked_at).total_seconds() >= STALL_TIMEOUT
        if overdue and not run.plan.heartbeats:
            stalled(engine, run)
        return
    if run.phase_end is not None and run.phase_end <= engine.now:
        start_attempt(engine, run)


def tend_executing(engine: Host, run: Run) -> None:
    """An executing run: end the phases that are over, let its worker die on time, and record its steps."""
    while run.phase_end is not None and run.phase_end <= engine.now and run.status == "EXECUTING":
        phase_done(engine, run)
    call = _unanswered_call(engine, run)
    if call is not None and run.plan.tool is not None:
        telemetry.log_retries(run, call, run.plan.tool, engine.now)
    dies = run.crash_at is not None and run.crash_at <= engine.now
    if run.status == "EXECUTING" and run.phase == "work" and dies:
        crashed(engine, run)
    if run.status == "EXECUTING" and run.phase == "work" and run.plan.step_seconds:
        step(engine, run, run.plan.step_seconds)


def _unanswered_call(engine: Host, run: Run) -> Span | None:
    """The open tool call of an executing run whose entity is down: its client retries and logs each retry."""
    if run.status != "EXECUTING" or run.phase != "tool" or run.plan.tool is None:
        return None
    if run.plan.tool.partition(".")[0] not in engine.entities_down:
        return None
    return engine.open_leaf(run)


def pull_failed(engine: Host, run: Run, error: str) -> None:
    """The worker gave up pulling the version's image: the trace records it and the engine nacks the run."""
    span = engine.add_span(run, "pull image", parent=run.spans)
    span.end, span.is_error = engine.now, True
    span.events.append(telemetry.exception("ImagePullError", error, "pullImage (supervisor)", engine.now))
    stalled(engine, run)


def crashed(engine: Host, run: Run) -> None:
    """The worker process died (OOM): nothing ends its spans and no heartbeat frees its slot."""
    engine.add_span(run, "memory usage 1.97 GB of 2 GB (small-2x)", properties={"memory.mb": 2017}).end = engine.now
    run.phase, run.phase_end, run.crash_at = "dead", None, None


def step(engine: Host, run: Run, every: float) -> None:
    """Close the current `step N` span once it has lasted `every` seconds and open the next one."""
    leaf = engine.open_leaf(run)
    if leaf is not None and (engine.now - leaf.start).total_seconds() < every:
        return
    if leaf is not None:
        leaf.end = engine.now
    done = sum(1 for s in run.span_index.values() if s.message.startswith("step "))
    engine.add_span(run, f"step {done + 1}", properties={"step": done + 1})
    engine.arm(run)


def stalled(engine: Host, run: Run) -> None:
    """The PENDING_EXECUTING stall timeout: nack back to the queue, or fail after too many (API.md §11.2)."""
    run.requeues += 1
    if run.requeues >= MAX_REQUEUES:
        code = "TASK_RUN_DEQUEUED_MAX_RETRIES"
        finish(engine, run, "SYSTEM_FAILURE", error={"message": f"{code}: the attempt never started", "name": code})
        return
    engine.release(run)
    run.phase_end = None
    engine.enqueue(run)


def start_attempt(engine: Host, run: Run) -> None:
    resumed = run.phase == "resume"
    engine.set_status(run, "EXECUTING", "EXECUTING")
    if run.started_at is None:
        run.started_at = engine.now
    if resumed:
        leaf = engine.open_leaf(run)
        if leaf is not None:
            leaf.end = engine.now
        begin(engine, run, "work")
        return
    run.attempt += 1
    assert run.spans is not None
    span = Span(
        id=engine.hex_id(),
        run_id=run.friendly,
        message=f"Attempt {run.attempt}",
        start=engine.now,
        parent_id=run.spans.id,
        attempt=run.attempt,
    )
    run.spans.children.append(span)
    run.span_index[span.id] = span
    crash = engine.start_error(run.version)
    if crash is not None:
        attempt_failed(engine, run, crash)
        return
    begin(engine, run, "tool" if run.plan.tool else _after_tool(run))


def _after_tool(run: Run) -> str:
    return "child" if run.plan.wait_child else ("wait" if run.plan.wait_token else "work")


def begin(engine: Host, run: Run, phase: str) -> None:
    run.phase = phase
    if phase == "tool":
        assert run.plan.tool is not None
        entity, _, tool = run.plan.tool.partition(".")
        properties = {"entity": entity, "tool": tool, "input": telemetry.tool_input(run, entity, tool)}
        engine.add_span(run, f"tool {run.plan.tool}", properties=properties, entity_type="tool")
        down = entity in engine.entities_down
        seconds = engine.tool_timeout if down else (run.plan.tool_seconds or TOOL_SECONDS)
        run.phase_end = None if math.isinf(seconds) else engine.now + timedelta(seconds=seconds)
    elif phase == "child":
        assert run.plan.wait_child is not None
        batched = run.plan.batch > 0
        span = engine.add_span(run, "batchTriggerAndWait()" if batched else "triggerAndWait()")
        batch = f"batch_{engine.new_id()}" if batched else None
        for _ in range(max(1, run.plan.batch)):
            child = engine.create_run(run.plan.wait_child, parent=run, tags=run.tags)
            child.parent_span, child.batch = span.id, batch
            child.trigger_function = "batchTriggerAndWait" if batched else "triggerAndWait"
        run.phase_end = None
        _suspend(engine, run)
    elif phase == "wait":
        token = engine.tokens.get(run.token or "")
        if token is None:
            token = engine.create_token(tags=[f"run:{run.friendly}"])
            if engine.auto_resolve is not None:
                engine.resolvers[token.iid] = engine.now + timedelta(seconds=engine.auto_resolve)
        run.token = token.iid
        token.waiters.add(run.iid)
        engine.add_span(run, "wait.forToken()", properties={"id": token.friendly}, entity_type="waitpoint")
        run.phase_end = None
        if token.status == "COMPLETED":
            phase_done(engine, run)
        else:
            _suspend(engine, run)
    else:
        if run.plan.spawn and run.iid not in engine.children:
            child = engine.create_run(run.plan.spawn, parent=run, tags=run.tags)
            child.trigger_function = "trigger"
            engine.add_span(run, f"trigger {run.plan.spawn}").end = engine.now
        duration = run.plan.duration
        run.phase_end = None if math.isinf(duration) else engine.now + timedelta(seconds=duration)
        if run.plan.crash_after is not None:
            run.crash_at = engine.now + timedelta(seconds=run.plan.crash_after)
    engine.arm(run)


def _suspend(engine: Host, run: Run) -> None:
    """A wait checkpoints the run (slot released, WAITING) or keeps it EXECUTING on its slot (API.md §11.3)."""
    if run.plan.checkpoint:
        engine.release(run)
        engine.set_status(run, "WAITING_TO_RESUME", "SUSPENDED")
    else:
        run.snapshot = "EXECUTING_WITH_WAITPOINTS"


def phase_done(engine: Host, run: Run) -> None:
    leaf = engine.open_leaf(run)
    if run.phase == "tool":
        assert run.plan.tool is not None
        entity, _, tool = run.plan.tool.partition(".")
        down = entity in engine.entities_down
        if leaf is not None:
            leaf.end = engine.now
            leaf.is_error = down
            if down:
                _call_timed_out(engine, run, leaf)
            else:
                leaf.properties["output"] = telemetry.tool_output(run, tool)
        if down:
            attempt_failed(
                engine, run, f"ToolCallTimeout: {run.plan.tool} did not answer in {engine.tool_timeout:.0f} s"
            )
            return
        begin(engine, run, _after_tool(run))
    elif run.phase in ("wait", "child"):
        if leaf is not None:
            leaf.end = engine.now
        run.snapshot = "EXECUTING"
        begin(engine, run, "wait" if run.phase == "child" and run.plan.wait_token else "work")
    elif run.plan.fail:
        attempt_failed(engine, run, "Error: upstream returned 500")
    else:
        run.output = {"ok": True, "items": engine.rng.randint(1, 40)}
        finish(engine, run, "COMPLETED_SUCCESSFULLY")


def _call_timed_out(engine: Host, run: Run, call: Span) -> None:
    """The platform's per-call timeout ends an unanswered call: an error record and the exception on the span."""
    assert run.plan.tool is not None
    seconds = f"{engine.tool_timeout:.0f} s"
    telemetry.log(run, call, "ERROR", f"{run.plan.tool}: gave up after {seconds}", engine.now)
    message = f"{run.plan.tool} did not answer in {seconds}"
    call.events.append(telemetry.exception("ToolCallTimeout", message, f"callTool ({run.plan.tool})", engine.now))


def attempt_failed(engine: Host, run: Run, message: str) -> None:
    attempt = engine.attempt_span(run)
    if attempt is not None:
        attempt.end, attempt.is_error = engine.now, True
        kind = message.partition(":")[0] if ":" in message else "Error"
        attempt.events.append(telemetry.exception(kind, message, f"run ({run.task})", engine.now))
    if run.attempt < MAX_ATTEMPTS:
        engine.release(run)
        run.phase = ""
        engine.enqueue(run, engine.now + timedelta(seconds=5 * run.attempt))
    else:
        finish(engine, run, "COMPLETED_WITH_ERRORS", error={"message": message, "name": "Error"})


def finish(engine: Host, run: Run, status: str, error: dict[str, Any] | None = None, cancelled: bool = False) -> None:
    engine.release(run)
    if error is not None:
        run.error = error
    run.completed_at = engine.now
    run.phase_end = None
    engine.set_status(run, status, "FINISHED")
    if run.token and run.token in engine.tokens:
        engine.tokens[run.token].waiters.discard(run.iid)
    if run.parent_span is not None and run.parent is not None:
        _child_done(engine, engine.runs[run.parent])
    if run.spans is not None:
        for span in run.span_index.values():
            if span.end is None:
                span.end = engine.now
                span.is_cancelled = cancelled
                span.is_error = span.is_error or (status != "COMPLETED_SUCCESSFULLY" and not cancelled)
        if cancelled:
            run.spans.events.append(
                {"name": "cancellation", "time": iso(engine.now), "properties": {"reason": "Canceled by user"}}
            )
            engine.add_span(run, "cancelled", parent=run.spans).end = engine.now


def _child_done(engine: Host, parent: Run) -> None:
    """A waited-for child finished: the parent resumes (back through its queue if it was checkpointed)."""
    if parent.phase != "child" or parent.iid in engine.lost:
        return
    if not all(c.final for c in engine.children.get(parent.iid, ()) if c.parent_span is not None):
        return  # a batch resumes its parent when its last run finishes
    if parent.status == "WAITING_TO_RESUME":
        engine.enqueue(parent)
    elif parent.status == "EXECUTING":
        parent.phase_end = engine.now
        engine.arm(parent)
