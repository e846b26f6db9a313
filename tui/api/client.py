"""EngineClient: one async httpx client per profile, one method per endpoint, typed results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import httpx

from tui.api.guard import WriteGuard
from tui.model import (
    JSON,
    BulkAction,
    Deployment,
    EngineReport,
    EnvironmentInfo,
    Page,
    Queue,
    QueueMetrics,
    QueueType,
    RepairReport,
    Run,
    RunDetail,
    RunStatus,
    SpanDetail,
    TokenDetail,
    TokenStatus,
    Trace,
    WaitpointToken,
)

API_VERSION = "2025-07-16"


class ConnectionState(StrEnum):
    CONNECTED = "CONNECTED"
    RETRYING = "RETRYING"
    DISCONNECTED = "DISCONNECTED"
    UNAUTHORIZED = "UNAUTHORIZED"


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What the top bar shows about the client: connection, request rate against budget, last error."""

    state: ConnectionState
    requests_per_second: float
    budget_per_second: float
    last_error: str | None
    ratelimit_remaining: int | None
    ratelimit_limit: int | None


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    read: float = 10.0


class EngineClient:
    """Talks to a platos / Trigger.dev v4 server. Never imports Textual."""

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        admin_token: str | None = None,
        guard: WriteGuard | None = None,
        budget_per_second: float = 2.0,
        timeouts: Timeouts = Timeouts(),
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        raise NotImplementedError

    async def aclose(self) -> None: ...

    def stats(self) -> ClientStats: ...

    # runs
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
    ) -> Page[Run]: ...
    async def retrieve_run(self, run_id: str) -> RunDetail: ...
    async def cancel_run(self, run_id: str) -> str: ...
    async def replay_run(self, run_id: str) -> str: ...
    async def run_trace(self, run_id: str) -> Trace: ...
    async def span_detail(self, run_id: str, span_id: str) -> SpanDetail: ...

    # queues
    async def list_queues(self) -> list[Queue]: ...
    async def retrieve_queue(self, name: str, type_: QueueType) -> Queue: ...
    async def pause_queue(self, queue: Queue, pause: bool) -> Queue: ...
    async def override_concurrency(self, queue: Queue, limit: int) -> Queue: ...
    async def reset_concurrency(self, queue: Queue) -> Queue: ...
    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics: ...

    # waitpoints
    async def list_tokens(
        self,
        *,
        statuses: Sequence[TokenStatus] = (),
        tags: Sequence[str] = (),
        idempotency_key: str | None = None,
        page_size: int = 100,
        after: str | None = None,
    ) -> Page[WaitpointToken]: ...
    async def retrieve_token(self, token_id: str) -> TokenDetail: ...
    async def complete_token(self, token_id: str, data: JSON) -> None: ...

    # bulk actions
    async def create_bulk_action(
        self, action: str, *, run_ids: Sequence[str] = (), filter: dict[str, JSON] | None = None, name: str | None = None
    ) -> str: ...
    async def retrieve_bulk_action(self, bulk_id: str) -> BulkAction: ...
    async def abort_bulk_action(self, bulk_id: str) -> str: ...

    # deployments and environment
    async def current_deployment(self) -> Deployment | None: ...
    async def list_deployments(self, *, page_size: int = 20, after: str | None = None) -> Page[Deployment]: ...
    async def environment(self) -> EnvironmentInfo: ...
    async def environment_id(self) -> str: ...

    # admin
    async def repair_queues(self, queues: Sequence[str] = (), *, dry_run: bool = True) -> RepairReport: ...
    async def engine_report(self) -> EngineReport: ...
