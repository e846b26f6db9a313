"""Run routes: list, retrieve, cancel, replay, trace, span detail, trigger, and bulk actions."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tui.sim import views
from tui.sim.engine import Engine, parse_when
from tui.sim.http import (
    ApiError,
    Ctx,
    decode_cursor,
    encode_cursor,
    json_error,
    page_size,
    parse_period,
    parse_time,
    query_error,
)
from tui.sim.state import Run

DEFAULT_WINDOW = timedelta(days=7)
MAX_BULK_IDS = 500
MAX_REPLAYS = 3


def _run(ctx: Ctx, *, action: bool = False) -> Run:
    friendly = ctx.param("run_id")
    run = ctx.engine.runs.get(friendly.removeprefix("run_"))
    if run is None:
        if action:
            raise json_error(404, "Run not found")
        raise json_error(404, "Not found", x_should_retry="true")
    return run


class RunFilter:
    """The run-list filters (API.md §4.2), shared by the list endpoint and bulk actions."""

    def __init__(
        self,
        engine: Engine,
        *,
        statuses: list[str],
        tasks: list[str],
        versions: list[str],
        tags: list[str],
        queues: list[str],
        bulk: str | None,
        is_test: bool | None,
        since: datetime | None,
        until: datetime | None,
    ) -> None:
        self.engine = engine
        self.db_statuses: set[str] | None = None
        if statuses:
            unknown = [s for s in statuses if s not in views.FILTER_STATUS]
            if unknown:
                raise query_error("filter[status]", f"Invalid status values: {', '.join(unknown)}")
            self.db_statuses = {db for s in statuses for db in views.FILTER_STATUS[s]}
        self.tasks, self.versions, self.tags = set(tasks), set(versions), set(tags)
        self.queues, self.bulk, self.is_test = set(queues), bulk, is_test
        self.since, self.until = since, until

    def matches(self, run: Run) -> bool:
        return (
            (self.db_statuses is None or run.status in self.db_statuses)
            and (not self.tasks or run.task in self.tasks)
            and (not self.versions or run.version in self.versions)
            and (not self.tags or bool(self.tags.intersection(run.tags)))
            and (not self.queues or run.queue in self.queues)
            and (self.bulk is None or self.bulk in run.bulk)
            and (self.is_test is None or run.is_test == self.is_test)
            and (self.since is None or run.created_at >= self.since)
            and (self.until is None or run.created_at <= self.until)
        )

    def newest_first(self, before: tuple[datetime, str] | None = None) -> Iterator[Run]:
        """Matching runs, newest first, strictly older than `before`."""
        engine = self.engine
        if self.db_statuses is not None:
            pool = [engine.runs[i] for s in self.db_statuses for i in engine.by_status.get(s, ())]
            if len(pool) < len(engine.order) // 4:
                pool.sort(key=lambda r: (r.created_at, r.iid), reverse=True)
                yield from (r for r in pool if (before is None or (r.created_at, r.iid) < before) and self.matches(r))
                return
        end = len(engine.order) if before is None else bisect.bisect_left(engine.order_keys, before)
        floor = 0 if self.since is None else bisect.bisect_left(engine.order_keys, (self.since, ""))
        for index in range(end - 1, floor - 1, -1):
            run = engine.order[index]
            if self.matches(run):
                yield run


def filter_from_query(ctx: Ctx) -> RunFilter:
    since = ctx.query("filter[createdAt][from]")
    until = ctx.query("filter[createdAt][to]")
    period = ctx.query("filter[createdAt][period]")
    is_test = ctx.query("filter[isTest]")
    if is_test not in (None, "true", "false"):
        raise query_error("filter[isTest]", "Expected 'true' or 'false'")
    start = parse_time(since, "filter[createdAt][from]") if since else None
    end = parse_time(until, "filter[createdAt][to]") if until else None
    if period:
        start = ctx.engine.now - timedelta(seconds=parse_period(period, "filter[createdAt][period]"))
    if start is None and end is None:
        start = ctx.engine.now - DEFAULT_WINDOW
    return RunFilter(
        ctx.engine,
        statuses=ctx.query_list("filter[status]"),
        tasks=ctx.query_list("filter[taskIdentifier]"),
        versions=ctx.query_list("filter[version]"),
        tags=ctx.query_list("filter[tag]"),
        queues=ctx.query_list("filter[queue]"),
        bulk=ctx.query("filter[bulkAction]"),
        is_test=None if is_test is None else is_test == "true",
        since=start,
        until=end,
    )


def _cursor(run: Run) -> str:
    return encode_cursor({"c": int(run.created_at.timestamp() * 1000), "r": run.iid})


def _key(cursor: dict[str, Any], param: str) -> tuple[datetime, str]:
    try:
        return (datetime.fromtimestamp(int(cursor["c"]) / 1000, UTC), str(cursor["r"]))
    except (KeyError, TypeError, ValueError):
        raise query_error(param, "Invalid cursor") from None


async def list_runs(ctx: Ctx) -> Any:
    size = page_size(ctx, 25)
    run_filter = filter_from_query(ctx)
    after, before = ctx.query("page[after]"), ctx.query("page[before]")
    pagination: dict[str, str] = {}
    if before:
        # Rows just newer than the cursor, oldest first (API.md §4.2).
        key = _key(decode_cursor(before, "page[before]"), "page[before]")
        newer = [r for r in run_filter.newest_first() if (r.created_at, r.iid) > key]
        page = list(reversed(newer[-size:]))
        if len(newer) > size:
            pagination["previous"] = _cursor(page[0])
        if page:
            pagination["next"] = _cursor(page[-1])
    else:
        start = _key(decode_cursor(after, "page[after]"), "page[after]") if after else None
        rows = run_filter.newest_first(start)
        page = [run for _, run in zip(range(size + 1), rows, strict=False)]
        if len(page) > size:
            page = page[:size]
            pagination["next"] = _cursor(page[-1])
        if after and page:
            pagination["previous"] = _cursor(page[0])
    return {"data": [views.list_item(ctx.engine, r, ctx.v2) for r in page], "pagination": pagination}


async def retrieve_run(ctx: Ctx) -> Any:
    return views.retrieve(ctx.engine, _run(ctx), ctx.v2)


async def cancel_run(ctx: Ctx) -> Any:
    run = _run(ctx, action=True)
    ctx.engine.cancel(run)
    return {"id": run.friendly}


async def replay_run(ctx: Ctx) -> Any:
    return {"id": ctx.engine.replay(_run(ctx, action=True)).friendly}


async def trace(ctx: Ctx) -> Any:
    run = _run(ctx)
    assert run.spans is not None
    return {"trace": {"traceId": run.trace_id, "rootSpan": views.span(run, run.spans), "isTruncated": False}}


async def span_detail(ctx: Ctx) -> Any:
    run = _run(ctx)
    node = run.span_index.get(ctx.param("span_id"))
    if node is None:
        raise json_error(404, "Span not found")
    return views.span_detail(node)


async def trigger(ctx: Ctx) -> Any:
    body = ctx.json_body(max_bytes=3 * 1024 * 1024)
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise json_error(400, "options: Expected object")
    engine = ctx.engine
    key = options.get("idempotencyKey")
    if isinstance(key, str):
        cached = next((r for r in engine.runs.values() if r.idempotency_key == key), None)
        if cached is not None:
            return {"id": cached.friendly, "isCached": True}
    queue = options.get("queue")
    stored = None
    if isinstance(queue, dict) and isinstance(queue.get("name"), str):
        name = queue["name"]
        stored = name if name in engine.queues else f"task/{name}" if f"task/{name}" in engine.queues else name
    tags = options.get("tags") or []
    tags = [tags] if isinstance(tags, str) else tags
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or len(tags) > 10:
        raise json_error(400, "tags: Expected at most 10 strings")
    delay = options.get("delay")
    try:
        delay_until = parse_when(delay, engine.now) if isinstance(delay, str) else None
        ttl = options.get("ttl")
        ttl = f"{ttl}s" if isinstance(ttl, int) else ttl
        run = engine.create_run(
            ctx.param("task_id"),
            queue=stored,
            payload=body.get("payload"),
            tags=tags,
            metadata=options.get("metadata") if isinstance(options.get("metadata"), dict) else None,
            delay_until=delay_until,
            ttl=ttl if isinstance(ttl, str) else None,
            idempotency_key=key if isinstance(key, str) else None,
        )
    except ValueError as exc:
        raise json_error(400, str(exc)) from None
    return {"id": run.friendly}


# -- bulk actions ------------------------------------------------------------------------------------------
def _bulk_filter(ctx: Ctx, raw: dict[str, Any]) -> RunFilter:
    def values(key: str) -> list[str]:
        value = raw.get(key)
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [str(v) for v in items]

    queues = raw.get("queue")
    queue_items = queues if isinstance(queues, list) else [] if queues is None else [queues]
    stored = [
        (f"task/{q['name']}" if q.get("type") == "task" else str(q["name"]))
        for q in queue_items
        if isinstance(q, dict) and "name" in q
    ]
    if not any(raw.get(k) not in (None, [], "") for k in raw):
        raise json_error(400, "filter: provide at least one filter value")
    now = ctx.engine.now
    since = parse_time(str(raw["from"]), "filter.from") if raw.get("from") else None
    until = parse_time(str(raw["to"]), "filter.to") if raw.get("to") else now
    if raw.get("period"):
        since = now - timedelta(seconds=parse_period(str(raw["period"]), "filter.period"))
    return RunFilter(
        ctx.engine,
        statuses=values("status"),
        tasks=values("taskIdentifier"),
        versions=values("version"),
        tags=values("tag"),
        queues=stored,
        bulk=str(raw["bulkAction"]) if raw.get("bulkAction") else None,
        is_test=raw.get("isTest") if isinstance(raw.get("isTest"), bool) else None,
        since=since or now - DEFAULT_WINDOW,
        until=until,
    )


async def create_bulk(ctx: Ctx) -> Any:
    body = ctx.json_body(max_bytes=1024 * 1024)
    action = body.get("action")
    if action not in ("cancel", "replay"):
        raise json_error(400, "action: Invalid enum value. Expected 'cancel' | 'replay'")
    run_ids, raw_filter = body.get("runIds"), body.get("filter")
    if (run_ids is None) == (raw_filter is None):
        raise json_error(400, "Provide exactly one of `filter` or `runIds`")
    engine = ctx.engine
    if (
        action == "replay"
        and sum(1 for b in engine.bulks.values() if b.type == "REPLAY" and b.status == "PENDING") >= 3
    ):
        message = f"You can only run {MAX_REPLAYS} bulk replays at a time in this environment. Please try again later."
        raise ApiError(429, {"error": message}, headers={"x-should-retry": "false"})
    if run_ids is not None:
        if not isinstance(run_ids, list) or not run_ids or not all(isinstance(r, str) for r in run_ids):
            raise json_error(400, "runIds: Expected a non-empty array of strings")
        if len(run_ids) > MAX_BULK_IDS:
            raise json_error(400, f"Too many runIds ({len(run_ids)}). Maximum is {MAX_BULK_IDS}.")
        targets = [r.removeprefix("run_") for r in run_ids]
    else:
        if not isinstance(raw_filter, dict):
            raise json_error(400, "filter: Expected object")
        targets = [r.iid for r in _bulk_filter(ctx, raw_filter).newest_first()]
    name = body.get("name") if isinstance(body.get("name"), str) else None
    bulk = engine.create_bulk("CANCEL" if action == "cancel" else "REPLAY", targets, name)
    from starlette.responses import JSONResponse

    return JSONResponse({"id": bulk.friendly}, status_code=202)


def _bulk(ctx: Ctx, *, action: bool = False) -> Any:
    bulk = ctx.engine.bulks.get(ctx.param("bulk_id").removeprefix("bulk_"))
    if bulk is None:
        raise json_error(404, "Resource not found") if action else json_error(404, "Not found", x_should_retry="false")
    return bulk


async def list_bulk(ctx: Ctx) -> Any:
    size = page_size(ctx, 25)
    items = sorted(ctx.engine.bulks.values(), key=lambda b: (b.created_at, b.iid), reverse=True)
    after = ctx.query("page[after]")
    if after:
        cursor = decode_cursor(after, "page[after]")
        items = [
            b
            for b in items
            if (b.created_at.timestamp() * 1000, b.iid) < (cursor.get("createdAt", 0), cursor.get("id", ""))
        ]
    page, rest = items[:size], items[size:]
    pagination = (
        {"next": encode_cursor({"createdAt": int(page[-1].created_at.timestamp() * 1000), "id": page[-1].iid})}
        if rest
        else {}
    )
    return {"data": [views.bulk_item(b) for b in page], "pagination": pagination}


async def retrieve_bulk(ctx: Ctx) -> Any:
    return views.bulk_item(_bulk(ctx))


async def abort_bulk(ctx: Ctx) -> Any:
    bulk = _bulk(ctx, action=True)
    if bulk.status != "PENDING":
        state = "completed" if bulk.status == "COMPLETED" else "aborted"
        raise json_error(409, f"Bulk action group already {state}: {bulk.friendly}")
    bulk.status, bulk.completed_at = "ABORTED", ctx.engine.now
    return {"id": bulk.friendly}


ROUTES: list[tuple[str, str, Any, dict[str, bool]]] = [
    ("GET", "/api/v1/runs", list_runs, {}),
    ("GET", "/api/v3/runs/{run_id}", retrieve_run, {}),
    ("POST", "/api/v2/runs/{run_id}/cancel", cancel_run, {}),
    ("POST", "/api/v1/runs/{run_id}/replay", replay_run, {}),
    ("GET", "/api/v1/runs/{run_id}/trace", trace, {}),
    ("GET", "/api/v1/runs/{run_id}/spans/{span_id}", span_detail, {}),
    ("POST", "/api/v1/tasks/{task_id}/trigger", trigger, {}),
    ("POST", "/api/v1/bulk-actions", create_bulk, {}),
    ("GET", "/api/v1/bulk-actions", list_bulk, {}),
    ("GET", "/api/v1/bulk-actions/{bulk_id}", retrieve_bulk, {}),
    ("POST", "/api/v1/bulk-actions/{bulk_id}/abort", abort_bulk, {}),
]
