"""The slice of EngineClient that actions use, as a Protocol: tests pass a fake and mypy checks both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tui.model import (
    JSON,
    BulkAction,
    Deployment,
    Page,
    Promotion,
    Queue,
    QueueMetrics,
    QueueType,
    RepairReport,
    Run,
    RunDetail,
    RunStatus,
    TokenDetail,
)


class ActionClient(Protocol):
    """Satisfied by `tui.api.client.EngineClient`; every mutation raises `ReadOnly` before any I/O."""

    async def list_runs(
        self,
        *,
        statuses: Sequence[RunStatus] = (),
        tasks: Sequence[str] = (),
        queue: tuple[str, QueueType] | None = None,
        tags: Sequence[str] = (),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        period: str | None = None,
        bulk_action: str | None = None,
        page_size: int = 100,
        after: str | None = None,
        fill: int = 1,
        versions: Sequence[str] = (),
        schedule: str | None = None,
        batch: str | None = None,
    ) -> Page[Run]: ...
    async def retrieve_run(self, run_id: str) -> RunDetail: ...
    async def cancel_run(self, run_id: str) -> str: ...
    async def replay_run(self, run_id: str) -> str: ...
    async def list_queues(self) -> list[Queue]: ...
    async def retrieve_queue(self, name: str, type_: QueueType) -> Queue: ...
    async def pause_queue(self, queue: Queue, pause: bool) -> Queue: ...
    async def override_concurrency(self, queue: Queue, limit: int) -> Queue: ...
    async def reset_concurrency(self, queue: Queue) -> Queue: ...
    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics: ...
    async def retrieve_token(self, token_id: str, *, once: bool = False) -> TokenDetail: ...
    async def complete_token(self, token_id: str, data: JSON) -> None: ...
    async def create_bulk_action(
        self,
        action: str,
        *,
        run_ids: Sequence[str] = (),
        filter: dict[str, JSON] | None = None,
        name: str | None = None,
    ) -> str: ...
    async def retrieve_bulk_action(self, bulk_id: str) -> BulkAction: ...
    async def abort_bulk_action(self, bulk_id: str) -> str: ...
    async def repair_queues(self, queues: Sequence[str] = (), *, dry_run: bool = True) -> RepairReport: ...
    async def current_deployment(self) -> Deployment | None: ...
    async def list_deployments(self, *, page_size: int = 20, after: str | None = None) -> Page[Deployment]: ...
    async def promote_deployment(self, version: str, *, allow_rollbacks: bool) -> Promotion: ...
