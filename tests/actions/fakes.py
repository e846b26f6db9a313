"""An in-memory engine that satisfies the actions' client protocol, records every request it 'receives'."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.api.errors import ApiError, ConfigurationError, Conflict, ReadOnly
from tui.api.guard import WriteGuard
from tui.config import Settings
from tui.model import (
    BulkAction,
    BulkActionStatus,
    BulkActionType,
    Deployment,
    EnvironmentType,
    Page,
    Promotion,
    Queue,
    QueueMetrics,
    QueueType,
    Repair,
    RepairReport,
    RepairResult,
    Run,
    RunDetail,
    RunStatus,
    TokenDetail,
    TokenStatus,
    WaitpointToken,
)

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
SECRET = "tr_prod_abcdefghijklmnopqrstuvwx"
ADMIN = "tr_pat_" + "k" * 40


def settings(*, production: bool = False, admin: bool = True) -> Settings:
    return Settings(
        profile="prod" if production else "dev",
        url="https://platos.example.com",
        secret_key=SECRET,
        admin_token=ADMIN if admin else None,
        env_type=EnvironmentType.PRODUCTION if production else EnvironmentType.DEVELOPMENT,
        env_label="prod-eu" if production else "development",
    )


def make_run(run_id: str = "run_1", status: RunStatus = RunStatus.EXECUTING, minutes: int = 14) -> Run:
    started = NOW - timedelta(minutes=minutes)
    return Run(
        id=run_id,
        status=status,
        task_identifier="agent-turn",
        created_at=started - timedelta(minutes=1),
        updated_at=started,
        started_at=started,
    )


def make_queue(name: str = "agent-turn", **changes: Any) -> Queue:
    base = Queue(
        id=f"queue_{name}",
        name=name,
        type=QueueType.TASK,
        running=0,
        queued=5,
        paused=False,
        concurrency_limit=10,
    )
    return replace(base, **changes)


@dataclass
class FakeEngine:
    """Mutations check the guard first (like EngineClient), then record themselves in `requests`."""

    guard: WriteGuard = field(default_factory=lambda: WriteGuard(read_only=False))
    runs: dict[str, Run] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    tokens: dict[str, TokenStatus] = field(default_factory=dict)
    token_waiters: dict[str, str] = field(default_factory=dict)
    leaks: int = 0
    started: int = 0
    admin: bool = True
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, ApiError] = field(default_factory=dict)
    """Mutation name -> error raised after the request is 'sent' (effect applied if `apply_anyway`)."""
    apply_anyway: bool = False
    gate: asyncio.Event | None = None
    """When set, mutations wait on it after recording the request (to hold an action in flight)."""
    bulk: dict[str, BulkAction] = field(default_factory=dict)
    reads: int = 0
    deployments: list[Deployment] = field(default_factory=list)
    current_version: str | None = None

    def _writable(self) -> None:
        if not self.guard.allows_writes():
            raise ReadOnly("read-only")

    async def _mutate(self, name: str, target: str) -> bool:
        self._writable()
        self.requests.append((name, target))
        if self.gate is not None:
            await self.gate.wait()
        error = self.fail.get(name)
        if error is not None:
            if self.apply_anyway:
                return False
            raise error
        return True

    def _raise_after(self, name: str) -> None:
        error = self.fail.get(name)
        if error is not None:
            raise error

    async def list_runs(
        self, *, statuses: Sequence[RunStatus] = (), page_size: int = 100, after: str | None = None, **_: Any
    ) -> Page[Run]:
        self.reads += 1
        items = [r for r in self.runs.values() if not statuses or r.status in statuses]
        start = int(after or 0)
        chunk = items[start : start + page_size]
        nxt = str(start + page_size) if start + page_size < len(items) else None
        return Page(tuple(chunk), next=nxt)

    async def retrieve_run(self, run_id: str) -> RunDetail:
        self.reads += 1
        return RunDetail(run=self.runs[run_id])

    async def cancel_run(self, run_id: str) -> str:
        ok = await self._mutate("cancel_run", run_id)
        run = self.runs[run_id]
        if not run.terminal:
            self.runs[run_id] = replace(run, status=RunStatus.CANCELED)
        if not ok:
            self._raise_after("cancel_run")
        return run_id

    async def replay_run(self, run_id: str) -> str:
        await self._mutate("replay_run", run_id)
        new = replace(self.runs[run_id], id=run_id + "_replay", status=RunStatus.QUEUED)
        self.runs[new.id] = new
        return new.id

    async def list_queues(self) -> list[Queue]:
        self.reads += 1
        return list(self.queues.values())

    async def retrieve_queue(self, name: str, type_: QueueType) -> Queue:
        self.reads += 1
        return self.queues[name]

    async def pause_queue(self, queue: Queue, pause: bool) -> Queue:
        await self._mutate("pause_queue", queue.name)
        q = self.queues[queue.name]
        self.queues[queue.name] = replace(q, paused=pause)
        return self.queues[queue.name]

    async def override_concurrency(self, queue: Queue, limit: int) -> Queue:
        await self._mutate("override_concurrency", queue.name)
        q = self.queues[queue.name]
        base = q.base_limit if q.overridden else q.concurrency_limit
        self.queues[queue.name] = replace(q, concurrency_limit=limit, override_limit=limit, base_limit=base)
        return self.queues[queue.name]

    async def reset_concurrency(self, queue: Queue) -> Queue:
        await self._mutate("reset_concurrency", queue.name)
        q = self.queues[queue.name]
        self.queues[queue.name] = replace(q, concurrency_limit=q.base_limit, override_limit=None, base_limit=None)
        return self.queues[queue.name]

    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics:
        self.reads += 1
        return QueueMetrics(queue.name, period, NOW, NOW, None, None, 0, self.started, 0.0, 0, 60_000, ())

    async def retrieve_token(self, token_id: str, *, once: bool = False) -> TokenDetail:
        self.reads += 1
        return TokenDetail(WaitpointToken(token_id, "https://x/cb", self.tokens[token_id], NOW))

    async def complete_token(self, token_id: str, data: Any) -> None:
        await self._mutate("complete_token", token_id)
        self.tokens[token_id] = TokenStatus.COMPLETED
        waiter = self.token_waiters.get(token_id)
        if waiter:
            self.runs[waiter] = replace(self.runs[waiter], status=RunStatus.DEQUEUED)

    async def create_bulk_action(
        self,
        action: str,
        *,
        run_ids: Sequence[str] = (),
        filter: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> str:
        await self._mutate("create_bulk_action", action)
        matching = [r for r in self.runs.values() if r.status.value in (filter or {}).get("status", [])]
        for r in matching:
            self.runs[r.id] = replace(r, status=RunStatus.CANCELED)
        bulk = BulkAction("bulk_1", BulkActionType.CANCEL, BulkActionStatus.PENDING, len(matching), 0, 0, NOW)
        self.bulk[bulk.id] = bulk
        return bulk.id

    async def retrieve_bulk_action(self, bulk_id: str) -> BulkAction:
        self.reads += 1
        b = self.bulk[bulk_id]
        if b.status is BulkActionStatus.PENDING:
            # progress one run per poll, then complete
            done = b.success + 1
            status = BulkActionStatus.COMPLETED if done >= b.total else BulkActionStatus.PENDING
            self.bulk[bulk_id] = replace(b, success=min(done, b.total), status=status)
        return self.bulk[bulk_id]

    async def abort_bulk_action(self, bulk_id: str) -> str:
        await self._mutate("abort_bulk_action", bulk_id)
        status = self.bulk[bulk_id].status
        if status is not BulkActionStatus.PENDING:  # the server answers 409 (API.md §8)
            raise Conflict(f"Bulk action group already {status.value.lower()}: {bulk_id}", status=409)
        self.bulk[bulk_id] = replace(self.bulk[bulk_id], status=BulkActionStatus.ABORTED)
        return bulk_id

    async def repair_queues(self, queues: Sequence[str] = (), *, dry_run: bool = True) -> RepairReport:
        if not dry_run:
            self._writable()
        if not self.admin:
            raise ConfigurationError("no admin token configured")
        self.requests.append(("repair_queues", "dry" if dry_run else "apply"))
        repairs = tuple(Repair("repairSnapshot", f"r{i}", "FINISHED", f"s{i}") for i in range(self.leaks))
        report = RepairReport(RepairResult(tuple(r.run_id for r in repairs), repairs, dry_run), ())
        if not dry_run:
            self.leaks = 0
        return report

    async def current_deployment(self) -> Deployment | None:
        self.reads += 1
        return next((d for d in self.deployments if d.version == self.current_version), None)

    async def list_deployments(self, *, page_size: int = 20, after: str | None = None) -> Page[Deployment]:
        self.reads += 1
        return Page(tuple(reversed(self.deployments)))

    async def promote_deployment(self, version: str, *, allow_rollbacks: bool) -> Promotion:
        ok = await self._mutate("promote_deployment", f"{version} allowRollbacks={allow_rollbacks}")
        found = next(d for d in self.deployments if d.version == version)
        self.current_version = version
        if not ok:
            self._raise_after("promote_deployment")
        return Promotion(found.id, found.version, found.short_code)


def make_deployment(version: str, days: float) -> Deployment:
    """A DEPLOYED deployment that went live `days` before NOW."""
    at = NOW - timedelta(days=days)
    return Deployment(f"deployment_{version}", f"sc{version[-1]}", version, "DEPLOYED", at, at)


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)
