"""EngineClient: one async httpx client per profile, one method per endpoint, typed results."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx

from tui.api import query, wire
from tui.api.budget import BurstTally, RequestBudget, Sleep
from tui.api.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    NotFound,
    ReadOnly,
    ServerError,
    Timeout,
    Unauthorized,
)
from tui.api.guard import WriteGuard
from tui.api.reader import Obj
from tui.api.transport import (
    API_VERSION,
    NO_BODY,
    USER_AGENT,
    ConnectionState,
    Requester,
    RetryPolicy,
    Secret,
    SentRequest,
    Timeouts,
    checked_base_url,
)
from tui.model import (
    JSON,
    BulkAction,
    Deployment,
    EngineReport,
    EnvironmentInfo,
    Page,
    Promotion,
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
    stored_queue_name,
)

__all__ = [
    "API_VERSION",
    "USER_AGENT",
    "BurstTally",
    "ClientStats",
    "ConnectionState",
    "EngineClient",
    "QueuePage",
    "RetryPolicy",
    "SentRequest",
    "Timeouts",
]

T = TypeVar("T")
_REPORT_PAGE = 100
_MAX_PAGES = 100
_DEFAULT_TIMEOUTS = Timeouts()
_DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What the top bar shows about the client: connection, request rate against budget, last error."""

    state: ConnectionState
    requests_per_second: float
    budget_per_second: float
    """The budget in force now (halved while slowed down); 0.0 means unlimited."""
    last_error: str | None
    ratelimit_remaining: int | None
    ratelimit_limit: int | None
    slowed_down: bool = False
    """True while the server's rate-limit bucket is under 20%: polling screens should poll less often."""
    burst_per_second: float = 0.0
    """The part of `requests_per_second` a burst sent (a triage), outside the sustained budget."""


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue listing: its queues, its number, how many pages there are, and whether it is the last."""

    items: tuple[Queue, ...]
    number: int
    total: int
    last: bool


def _seg(value: str) -> str:
    """One path segment, fully percent-encoded (a `/` in a queue name becomes %2F)."""
    return quote(value, safe="")


class EngineClient:
    """Talks to a platos / Trigger.dev v4 server. Never imports Textual.

    `guard=None` means a fresh read-only WriteGuard: mutations are refused until the caller elevates.
    `branch` is sent as `x-trigger-branch` on every /api/ call (a preview key needs it).
    `budget_per_second=None` (or 0) means unlimited, for tests. A 2xx body larger than `max_response_mb`, or an
    answer not complete within `timeouts.deadline`, fails with InvalidResponse or Timeout.
    """

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        admin_token: str | None = None,
        guard: WriteGuard | None = None,
        budget_per_second: float | None = 2.0,
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        burst: int = 4,
        retry: RetryPolicy = _DEFAULT_RETRY,
        max_response_mb: float = 32.0,
        branch: str | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        url = checked_base_url(base_url, allow_insecure_http)
        if not secret_key:
            raise ConfigurationError("no secret key configured: set secret_key_env or PLATOS_SECRET_KEY")
        self._host = url.host
        self._guard = guard if guard is not None else WriteGuard()
        self._budget = RequestBudget(budget_per_second, burst, clock=clock, sleep=sleep)
        self._http = Requester(
            url,
            Secret(secret_key),
            Secret(admin_token) if admin_token else None,
            timeouts=timeouts,
            budget=self._budget,
            transport=transport,
            retry=retry,
            max_response_mb=max_response_mb,
            branch=branch,
            sleep=sleep,
            wall_clock=wall_clock,
            jitter=jitter,
        )
        self._env_id: str | None = None
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        admin = "set" if self._http.has_admin_token else "none"
        return f"EngineClient(host={self._host!r}, admin_token={admin})"

    @property
    def guard(self) -> WriteGuard:
        return self._guard

    @property
    def branch(self) -> str | None:
        """The preview branch sent with every API call, if any."""
        return self._http.branch

    @property
    def clock_skew(self) -> float | None:
        """Seconds the server's clock is ahead of this machine's (negative: behind); None until an answer said."""
        return self._http.clock_offset

    def server_now(self) -> datetime:
        """The server's time now, by the last answer's `Date` header; this machine's clock until one came."""
        return datetime.fromtimestamp(self._wall_clock() + (self._http.clock_offset or 0.0), UTC)

    async def server_time(self) -> datetime:
        """`server_now()`, first asking the server once (the cached environment id) if no answer came yet."""
        if self._http.clock_offset is None:
            await self.environment_id()
        return self.server_now()

    def sent_requests(self) -> tuple[SentRequest, ...]:
        """The latest requests sent, oldest first, without their credentials (for `Y`, copy as curl); the
        latest action is always among them, however many reads came after it."""
        recent, action = tuple(self._http.recent), self._http.last_action
        return recent if action is None or action in recent else (action, *recent)

    @property
    def slowdown(self) -> float:
        """Factor for polling intervals: 2.0 while the server's rate-limit bucket is low, else 1.0."""
        return self._budget.slowdown

    def burst(self) -> AbstractAsyncContextManager[BurstTally]:
        """`async with client.burst() as tally:` for work the user asked for (a triage, a diagnosis).

        Calls inside the block, and in tasks created inside it, skip the sustained request rate: at most 8 in
        flight, and paced again whenever they could take the server's rate-limit bucket to half, so they never
        cause a 429. `tally.requests` counts every HTTP attempt sent, retries included; a nested scope has its
        own tally and its requests count in the outer one too. Background calls outside are paced as before.
        """
        return self._budget.burst()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def stats(self) -> ClientStats:
        return ClientStats(
            state=self._http.state,
            requests_per_second=self._budget.measured_rate(),
            budget_per_second=self._budget.effective_rate or 0.0,
            last_error=self._http.last_error,
            ratelimit_remaining=self._budget.remaining,
            ratelimit_limit=self._budget.limit,
            slowed_down=self._budget.slowed,
            burst_per_second=self._budget.measured_burst_rate(),
        )

    # plumbing -----------------------------------------------------------------------------------------

    def _writable(self, what: str) -> None:
        if not self._guard.allows_writes():
            raise ReadOnly(f"read-only: {what} needs write access (elevate first)")

    def _parse(self, parser: Callable[[Any], T], data: Any) -> T:
        return self._http.parse(parser, data)

    async def _get(self, path: str, params: dict[str, str] | None = None, **options: Any) -> Any:
        return await self._http.call("GET", path, params=params, retry=True, **options)

    async def _read(
        self, path: str, parser: Callable[[Any], T], params: dict[str, str] | None = None, **options: Any
    ) -> T:
        """A GET parsed into frozen values (remembered by the answer's bytes: see `tui.api.memo`)."""
        value: T = await self._http.call("GET", path, params=params, retry=True, parse=parser, **options)
        return value

    async def _post(self, path: str, body: Any = NO_BODY, *, read: bool = False) -> Any:
        return await self._http.call("POST", path, body=body, retry=read)

    # runs ---------------------------------------------------------------------------------------------

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
    ) -> Page[Run]:
        """One page of runs, newest first. The list is eventually consistent (API.md §4.2): a page can hold fewer
        than `page_size` runs, even none, with `next` still set. Only a missing `next` ends the list. `fill` > 1
        reads up to that many pages while the runs so far are fewer than `page_size`; `next` continues after."""
        stored = stored_queue_name(*queue) if queue is not None else None
        params = query.run_filters(
            statuses=statuses,
            tasks=tasks,
            stored_queue=stored,
            tags=tags,
            created_from=created_from,
            created_to=created_to,
            period=period,
            bulk_action=bulk_action,
            page_size=page_size,
            after=after,
            versions=versions,
            schedule=schedule,
            batch=batch,
        )
        page = await self._read("/api/v1/runs", wire.parse_run_page, params)
        items, previous = list(page.items), page.previous
        for _ in range(fill - 1):
            if page.next is None or len(items) >= page_size:
                break
            params["page[after]"] = page.next
            page = await self._read("/api/v1/runs", wire.parse_run_page, params)
            items.extend(page.items)
        if len(items) != len(page.items):
            page = replace(page, items=tuple(items), previous=previous)
        if stored is None:
            return page
        # The API never reports a run's queue; we know it when we filtered by it.
        return replace(page, items=tuple(replace(run, queue=stored) for run in page.items))

    async def retrieve_run(self, run_id: str) -> RunDetail:
        # Interactive: a missing run fails at once instead of waiting out `x-should-retry: true`.
        data = await self._get(f"/api/v3/runs/{_seg(run_id)}", fail_fast_404=True)
        return self._parse(wire.parse_run_detail, data)

    async def cancel_run(self, run_id: str) -> str:
        self._writable("cancelling a run")
        data = await self._post(f"/api/v2/runs/{_seg(run_id)}/cancel")
        return self._parse(lambda body: wire.parse_id(body, "cancel"), data)

    async def replay_run(self, run_id: str) -> str:
        self._writable("replaying a run")
        data = await self._post(f"/api/v1/runs/{_seg(run_id)}/replay")
        return self._parse(lambda body: wire.parse_id(body, "replay"), data)

    async def run_trace(self, run_id: str) -> Trace:
        return await self._read(f"/api/v1/runs/{_seg(run_id)}/trace", wire.parse_trace, fail_fast_404=True)

    async def span_detail(self, run_id: str, span_id: str) -> SpanDetail:
        data = await self._get(f"/api/v1/runs/{_seg(run_id)}/spans/{_seg(span_id)}", fail_fast_404=True)
        return self._parse(wire.parse_span_detail, data)

    # queues -------------------------------------------------------------------------------------------

    async def list_queues(self) -> list[Queue]:
        """Every queue of the environment, following the offset pages (100 per page)."""
        return [queue async for page in self.queue_pages() for queue in page.items]

    async def queue_pages(self) -> AsyncIterator[QueuePage]:
        """The queue listing one page at a time, as each arrives (a pane draws page 1 before page 2 is read)."""
        for page in range(1, _MAX_PAGES + 1):
            params = {"page": str(page), "perPage": "100"}
            items, total_pages = await self._read("/api/v1/queues", wire.parse_queue_page, params)
            last = not items or page >= min(total_pages, _MAX_PAGES)
            yield QueuePage(items, page, max(page, min(total_pages, _MAX_PAGES)), last)
            if last:
                return

    async def retrieve_queue(self, name: str, type_: QueueType) -> Queue:
        """A queue by display name and type (`task` queues without their `task/` prefix, or with it)."""
        data = await self._get(f"/api/v1/queues/{_seg(name)}", {"type": QueueType(type_).value})
        return self._parse(wire.parse_queue, data)

    async def pause_queue(self, queue: Queue, pause: bool) -> Queue:
        self._writable("pausing a queue" if pause else "resuming a queue")
        body = {"type": queue.type.value, "action": "pause" if pause else "resume"}
        return self._parse(wire.parse_queue, await self._post(f"/api/v1/queues/{_seg(queue.name)}/pause", body))

    async def override_concurrency(self, queue: Queue, limit: int) -> Queue:
        self._writable("overriding a queue's concurrency")
        if isinstance(limit, bool) or not 0 <= limit <= 100_000:
            raise BadRequest("concurrency limit must be a whole number from 0 to 100000")
        body = {"type": queue.type.value, "concurrencyLimit": limit}
        path = f"/api/v1/queues/{_seg(queue.name)}/concurrency/override"
        return self._parse(wire.parse_queue, await self._post(path, body))

    async def reset_concurrency(self, queue: Queue) -> Queue:
        self._writable("resetting a queue's concurrency")
        path = f"/api/v1/queues/{_seg(queue.name)}/concurrency/reset"
        return self._parse(wire.parse_queue, await self._post(path, {"type": queue.type.value}))

    async def queue_metrics(self, queue: Queue, period: str = "15m") -> QueueMetrics:
        # The metrics route takes the queue NAME (never the queue_ id) and its type.
        params = {"type": queue.type.value, "period": period}
        return await self._read(f"/api/v1/queues/{_seg(queue.name)}/metrics", wire.parse_queue_metrics, params)

    # waitpoints ---------------------------------------------------------------------------------------

    async def list_tokens(
        self,
        *,
        statuses: Sequence[TokenStatus] = (),
        tags: Sequence[str] = (),
        idempotency_key: str | None = None,
        page_size: int = 100,
        after: str | None = None,
        period: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Page[WaitpointToken]:
        params = query.token_filters(
            statuses=statuses,
            tags=tags,
            idempotency_key=idempotency_key,
            period=period,
            created_from=created_from,
            created_to=created_to,
            page_size=page_size,
            after=after,
        )
        return await self._read("/api/v1/waitpoints/tokens", wire.parse_token_page, params)

    async def retrieve_token(self, token_id: str, *, once: bool = False) -> TokenDetail:
        """A token by id. `once=True` sends one attempt: for ids taken from elsewhere (a trace span), where
        a 500 most likely means the token does not exist and retrying would only repeat it."""
        # An unknown token makes the real server answer 500, not 404 (API.md §7.3).
        data = await self._get(
            f"/api/v1/waitpoints/tokens/{_seg(token_id)}",
            server_error_hint="the token may not exist",
            attempts=1 if once else None,
        )
        return self._parse(wire.parse_token_detail, data)

    async def complete_token(self, token_id: str, data: JSON) -> None:
        """Complete a token with `data` as output; None sends `{}` (no output). Re-completing is a no-op."""
        self._writable("completing a waitpoint token")
        body = {} if data is None else {"data": data}
        answer = await self._post(f"/api/v1/waitpoints/tokens/{_seg(token_id)}/complete", body)
        self._parse(lambda value: Obj(value, "complete"), answer)

    # bulk actions -------------------------------------------------------------------------------------

    async def create_bulk_action(
        self,
        action: str,
        *,
        run_ids: Sequence[str] = (),
        filter: dict[str, JSON] | None = None,
        name: str | None = None,
    ) -> str:
        """Start a bulk `cancel` or `replay` over exactly one of `run_ids` or `filter` (API.md §8); its id."""
        self._writable(f"a bulk {action}")
        if action not in ("cancel", "replay"):
            raise ValueError("bulk action must be 'cancel' or 'replay'")
        if bool(run_ids) == (filter is not None):
            raise ValueError("give exactly one of run_ids or filter")
        body: dict[str, JSON] = {"action": action}
        if run_ids:
            body["runIds"] = list(run_ids)
        else:
            body["filter"] = filter
        if name:
            body["name"] = name
        return self._parse(
            lambda value: wire.parse_id(value, "bulkAction"), await self._post("/api/v1/bulk-actions", body)
        )

    async def retrieve_bulk_action(self, bulk_id: str) -> BulkAction:
        return self._parse(wire.parse_bulk_action, await self._get(f"/api/v1/bulk-actions/{_seg(bulk_id)}"))

    async def abort_bulk_action(self, bulk_id: str) -> str:
        self._writable("aborting a bulk action")
        data = await self._post(f"/api/v1/bulk-actions/{_seg(bulk_id)}/abort")
        return self._parse(lambda value: wire.parse_id(value, "bulkAction"), data)

    # deployments and environment ----------------------------------------------------------------------

    async def current_deployment(self) -> Deployment | None:
        """The promoted (live) deployment, or None when nothing is promoted (404)."""
        try:
            return await self._read("/api/v1/deployments/current", wire.parse_deployment, fail_fast_404=True)
        except NotFound:
            return None

    async def list_deployments(self, *, page_size: int = 20, after: str | None = None) -> Page[Deployment]:
        params = {"page[size]": str(query.clamp(page_size, 5, 100))}
        if after:
            params["page[after]"] = after
        return await self._read("/api/v1/deployments", wire.parse_deployment_page, params)

    async def promote_deployment(self, version: str, *, allow_rollbacks: bool) -> Promotion:
        """Make `version` current for new runs; `allow_rollbacks` lets an older version through (API.md §9).

        Sent once: a lost answer raises OutcomeUnknown, and only `current_deployment()` can tell what happened.
        """
        self._writable("promoting a deployment" if not allow_rollbacks else "rolling back a deployment")
        if not version.strip():
            raise ValueError("a deployment version is required")
        path = f"/api/v1/deployments/{_seg(version)}/promote"
        params = {"allowRollbacks": "true"} if allow_rollbacks else None
        data = await self._http.call("POST", path, params=params, retry=False)
        return self._parse(wire.parse_promotion, data)

    async def environment(self) -> EnvironmentInfo:
        """whoami, reduced to what the TUI needs; the echoed apiKey is never kept (API.md §6.2)."""
        info = await self._read("/api/v1/whoami", wire.parse_environment)
        self._env_id = self._env_id or info.id
        return info

    async def environment_id(self) -> str:
        """The environment id the admin API needs: the `sub` of the JWT claims, else whoami's id. Cached."""
        if self._env_id is not None:
            return self._env_id
        try:
            # An action route that only reads (API.md §12), so it may be retried like a GET.
            data = await self._post("/api/v1/auth/jwt/claims", read=True)
            self._env_id = self._parse(wire.parse_claims_subject, data)
        except (Unauthorized, ConnectionFailed, Timeout):
            raise
        except ApiError:
            self._env_id = (await self.environment()).id
        return self._env_id

    # admin --------------------------------------------------------------------------------------------

    def _require_admin(self) -> None:
        if not self._http.has_admin_token:
            raise ConfigurationError("no admin token configured: set admin_token_env or PLATOS_ADMIN_TOKEN")

    async def repair_queues(self, queues: Sequence[str] = (), *, dry_run: bool = True) -> RepairReport:
        """Admin repair-queues; `queues` are STORED names (`task/<id>` for task queues). Dry run = a read."""
        if not dry_run:
            self._writable("repairing queues")
        self._require_admin()
        env_id = await self.environment_id()
        path = f"/admin/api/v1/environments/{_seg(env_id)}/engine/repair-queues"
        body = {"dryRun": dry_run, "queues": list(queues)}
        try:
            # A run in a concurrency set without a snapshot fails the whole request with a 500 (API.md §10.2):
            # it stays so until the engine changes, so it is not retried.
            data = await self._http.call("POST", path, body=body, retry=dry_run, final_500=True)
        except ServerError as error:
            if error.status != 500:
                raise
            raise ServerError(f"the engine could not compute a repair: {error.status}", status=500) from None
        return self._parse(wire.parse_repair_report, data)

    async def engine_report(self) -> EngineReport:
        """Admin engine report, with every page of queues merged into one report."""
        self._require_admin()
        env_id = await self.environment_id()
        path = f"/admin/api/v1/environments/{_seg(env_id)}/engine/report"
        report: EngineReport | None = None
        for page in range(1, _MAX_PAGES + 1):
            data = await self._get(path, {"page": str(page), "per_page": str(_REPORT_PAGE)})
            part = self._parse(wire.parse_engine_report, data)
            report = part if report is None else replace(report, queues=report.queues + part.queues)
            if len(part.queues) < _REPORT_PAGE:
                break
        assert report is not None
        return report
