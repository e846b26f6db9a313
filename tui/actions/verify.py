"""Post-condition watchers: after an action, poll what should now be true, bounded, and say what was seen."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from tui.actions.ports import ActionClient
from tui.actions.results import Verification
from tui.api.errors import ApiError
from tui.model import BulkAction, BulkActionStatus, Queue, QueueType, RunStatus, TokenStatus
from tui.model.text import clean

Sleep = Callable[[float], Awaitable[None]]


class State(Enum):
    DONE = "done"
    PENDING = "pending"
    IMPOSSIBLE = "impossible"
    """The post-condition can no longer become true (e.g. the run finished otherwise): stop watching."""


Check = Callable[[], Awaitable[tuple[State, str]]]


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """How long and how often to watch. Repair waits longer: a real server repairs 60 s after the apply."""

    interval: float = 1.0
    timeout: float = 15.0
    repair_interval: float = 5.0
    repair_timeout: float = 90.0
    bulk_timeout: float = 120.0
    metrics_period: str = "5m"


@dataclass(frozen=True, slots=True)
class QueueBaseline:
    """What a queue looked like just before the action, to tell whether runs started afterwards."""

    queued: int
    running: int
    started: int | None


@dataclass(frozen=True, slots=True)
class FlowBaseline:
    """Flow before an external recovery (scale workers): totals and the busiest queues' started counts."""

    running: int
    queued: int
    started: tuple[tuple[Queue, int], ...]


class Verifier:
    """Runs a check every `interval` seconds until it holds or `timeout` passes; `sleep` is injectable."""

    def __init__(
        self, client: ActionClient, options: VerifyOptions = VerifyOptions(), sleep: Sleep = asyncio.sleep
    ) -> None:
        self._client = client
        self.options = options
        self._sleep = sleep

    async def watch(self, check: Check, *, interval: float | None = None, timeout: float | None = None) -> Verification:
        interval = self.options.interval if interval is None else interval
        timeout = self.options.timeout if timeout is None else timeout
        polls = max(1, math.ceil(timeout / interval)) if interval > 0 else 1
        seen = "nothing seen yet"
        for poll in range(polls + 1):
            try:
                state, seen = await check()
            except ApiError as exc:
                state, seen = State.PENDING, f"could not check: {exc}"
            if state is State.DONE:
                return Verification(True, timeout, seen, poll + 1)
            if state is State.IMPOSSIBLE or poll == polls:
                return Verification(False, timeout, seen, poll + 1)
            await self._sleep(interval)
        raise AssertionError("unreachable")

    # -- runs --------------------------------------------------------------------------------------------
    async def run_canceled(self, run_id: str) -> Verification:
        return await self.runs_canceled((run_id,))

    async def runs_canceled(self, run_ids: Sequence[str]) -> Verification:
        pending = list(run_ids)
        others: dict[str, str] = {}

        async def check() -> tuple[State, str]:
            for run_id in list(pending):
                status = (await self._client.retrieve_run(run_id)).run.status
                if status is RunStatus.CANCELED:
                    pending.remove(run_id)
                elif status.value in _FINAL:
                    pending.remove(run_id)
                    others[run_id] = status.value
            done = len(run_ids) - len(pending) - len(others)
            if len(run_ids) == 1:
                seen = "run is CANCELED" if done else f"run is {others.get(run_ids[0]) or 'not CANCELED yet'}"
            else:
                seen = f"{done}/{len(run_ids)} runs CANCELED"
                if others:
                    seen += f", {len(others)} finished otherwise"
            if not pending:
                return (State.DONE if not others else State.IMPOSSIBLE), seen
            return State.PENDING, seen

        return await self.watch(check)

    async def run_exists(self, run_id: str) -> Verification:
        async def check() -> tuple[State, str]:
            run = (await self._client.retrieve_run(run_id)).run
            return State.DONE, f"new run {clean(run.id)} is {run.status.value}"

        return await self.watch(check)

    # -- queues ------------------------------------------------------------------------------------------
    async def queue_baseline(self, queue: Queue) -> QueueBaseline:
        return QueueBaseline(queue.queued, queue.running, await self._started(queue))

    async def _started(self, queue: Queue) -> int | None:
        try:
            return (await self._client.queue_metrics(queue, self.options.metrics_period)).started_count
        except ApiError:
            return None

    async def queue_paused(self, queue: Queue) -> Verification:
        async def check() -> tuple[State, str]:
            now = await self._client.retrieve_queue(*_key(queue))
            return (State.DONE, "queue is paused") if now.paused else (State.PENDING, "queue is not paused")

        return await self.watch(check)

    async def queue_flowing(self, queue: Queue, baseline: QueueBaseline) -> Verification:
        """Not paused and, with a backlog, runs start again: depth falls, running or started count rises."""

        async def check() -> tuple[State, str]:
            now = await self._client.retrieve_queue(*_key(queue))
            if now.paused:
                return State.PENDING, "queue is still paused"
            if baseline.queued == 0:
                return State.DONE, "queue is not paused (it had no backlog)"
            seen = f"not paused; queued {baseline.queued}→{now.queued}, running {baseline.running}→{now.running}"
            if now.queued < baseline.queued or now.running > baseline.running:
                return State.DONE, seen
            started = await self._started(now)
            if started is not None and baseline.started is not None and started > baseline.started:
                return State.DONE, f"{seen}, started {baseline.started}→{started}"
            return State.PENDING, f"{seen}; no run started yet"

        return await self.watch(check)

    async def queue_limit(self, queue: Queue, limit: int | None, *, reset: bool = False) -> Verification:
        """The limit is as requested; after a reset no override is left and the base is back (if known)."""

        async def check() -> tuple[State, str]:
            now = await self._client.retrieve_queue(*_key(queue))
            seen = f"limit is {'none' if now.concurrency_limit is None else now.concurrency_limit}"
            if reset:
                ok = not now.overridden and (limit is None or now.concurrency_limit == limit)
                return (State.DONE if ok else State.PENDING), seen + (
                    "" if not now.overridden else ", still overridden"
                )
            return (State.DONE if now.concurrency_limit == limit else State.PENDING), seen

        return await self.watch(check)

    # -- tokens ------------------------------------------------------------------------------------------
    async def token_completed(self, token_id: str, blocked_run: str | None) -> Verification:
        """COMPLETED, and the blocked run (when known) leaves WAITING, once a worker pulls it."""

        async def check() -> tuple[State, str]:
            token = (await self._client.retrieve_token(token_id)).token
            if token.status is TokenStatus.TIMED_OUT:
                return State.IMPOSSIBLE, "token TIMED_OUT before the completion"
            if token.status is not TokenStatus.COMPLETED:
                return State.PENDING, f"token is {token.status.value}"
            if blocked_run is None:
                return State.DONE, "token is COMPLETED"
            status = (await self._client.retrieve_run(blocked_run)).run.status
            seen = f"token is COMPLETED, run {clean(blocked_run)} is {status.value}"
            return (State.PENDING if status is RunStatus.WAITING else State.DONE), seen

        return await self.watch(check)

    # -- deployments -------------------------------------------------------------------------------------
    async def deployment_current(self, version: str) -> Verification:
        """`GET /api/v1/deployments/current` names `version`: the one new runs lock to."""

        async def check() -> tuple[State, str]:
            current = await self._client.current_deployment()
            if current is None:
                return State.PENDING, "deployments/current is 404: nothing is promoted"
            seen = f"deployments/current is {clean(current.version, 40)}"
            return (State.DONE if current.version == version else State.PENDING), seen

        return await self.watch(check)

    # -- admin repair ------------------------------------------------------------------------------------
    async def repair_clean(self, queues: Sequence[str]) -> Verification:
        async def check() -> tuple[State, str]:
            report = await self._client.repair_queues(queues, dry_run=True)
            if report.leak_count == 0:
                return State.DONE, "the dry run finds nothing left to repair"
            return State.PENDING, f"the dry run still finds {report.leak_count} leaked slot(s)"

        return await self.watch(check, interval=self.options.repair_interval, timeout=self.options.repair_timeout)

    # -- environment-wide flow (external recoveries) -----------------------------------------------------
    async def flow_baseline(self, busiest: int = 3) -> FlowBaseline:
        queues = await self._client.list_queues()
        top = sorted((q for q in queues if q.queued > 0), key=lambda q: q.queued, reverse=True)[:busiest]
        started = [(q, s) for q in top if (s := await self._started(q)) is not None]
        return FlowBaseline(sum(q.running for q in queues), sum(q.queued for q in queues), tuple(started))

    async def dequeue_resumes(self, baseline: FlowBaseline) -> Verification:
        """Workers pull runs again: running rises across queues, or a busy queue's started count rises."""

        async def check() -> tuple[State, str]:
            queues = await self._client.list_queues()
            running, queued = sum(q.running for q in queues), sum(q.queued for q in queues)
            seen = f"running {baseline.running}→{running}, queued {baseline.queued}→{queued}"
            if running > baseline.running:
                return State.DONE, seen
            for queue, before in baseline.started:
                after = await self._started(queue)
                if after is not None and after > before:
                    return State.DONE, f"{seen}; {clean(queue.name)} started {before}→{after}"
            return State.PENDING, f"{seen}; nothing dequeued yet"

        return await self.watch(check)

    # -- bulk actions ------------------------------------------------------------------------------------
    async def bulk_finished(
        self, bulk_id: str, on_progress: Callable[[BulkAction], None] | None = None
    ) -> Verification:
        async def check() -> tuple[State, str]:
            bulk = await self._client.retrieve_bulk_action(bulk_id)
            if on_progress is not None:
                on_progress(bulk)
            seen = (
                f"{bulk.status.value}: {bulk.success + bulk.failure}/{bulk.total} processed, "
                f"{bulk.success} cancelled, {bulk.failure} failed (already finished)"
            )
            if bulk.status is BulkActionStatus.COMPLETED:
                return State.DONE, seen
            if bulk.status is BulkActionStatus.ABORTED:
                return State.IMPOSSIBLE, seen
            return State.PENDING, seen

        return await self.watch(check, timeout=self.options.bulk_timeout)

    async def bulk_aborted(self, bulk_id: str) -> Verification:
        async def check() -> tuple[State, str]:
            bulk = await self._client.retrieve_bulk_action(bulk_id)
            seen = f"{bulk.status.value}: {bulk.success + bulk.failure}/{bulk.total} processed"
            if bulk.status is BulkActionStatus.ABORTED:
                return State.DONE, seen
            if bulk.status is BulkActionStatus.COMPLETED:
                return State.IMPOSSIBLE, f"{seen} (it finished before the abort)"
            return State.PENDING, seen

        return await self.watch(check)


_FINAL = {"COMPLETED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"}


def _key(queue: Queue) -> tuple[str, QueueType]:
    """How the client retrieves a queue: by name and type (API.md §5.3)."""
    return queue.name, queue.type
