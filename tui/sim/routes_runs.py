"""Run routes: list, retrieve, cancel, replay, trace, span detail, events and trigger (bulk actions included)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tui.sim import routes_bulk, views
from tui.sim.engine import parse_when
from tui.sim.http import Ctx, decode_cursor, encode_cursor, json_error, page_size, query_error
from tui.sim.runfilter import RunFilter, filter_from_query
from tui.sim.state import Run

__all__ = ["ROUTES", "RunFilter"]


def _run(ctx: Ctx, *, action: bool = False) -> Run:
    friendly = ctx.param("run_id")
    run = ctx.engine.runs.get(friendly.removeprefix("run_"))
    if run is None:
        if action:
            raise json_error(404, "Run not found")
        raise json_error(404, "Not found", x_should_retry="true")
    return run


def _cursor(run: Run) -> str:
    return encode_cursor({"c": int(run.created_at.timestamp() * 1000), "r": run.iid})


def _key(cursor: dict[str, Any], param: str) -> tuple[datetime, str]:
    try:
        return (datetime.fromtimestamp(int(cursor["c"]) / 1000, UTC), str(cursor["r"]))
    except (KeyError, TypeError, ValueError):
        raise query_error(param, "Invalid cursor") from None


async def list_runs(ctx: Ctx) -> Any:
    size = page_size(ctx, 25)
    run_filter = filter_from_query(ctx, replica=True)
    after, before = ctx.query("page[after]"), ctx.query("page[before]")
    pagination: dict[str, str] = {}
    if before:
        # Rows just newer than the cursor, oldest first (API.md §4.2).
        key = _key(decode_cursor(before, "page[before]"), "page[before]")
        # The real repository queries ascending with one extra row: `previous` is the newest row of the page
        # (only when newer rows remain), `next` the oldest (clickhouseRunsRepository.listRunIds, "backward").
        newer = [run for _, run in zip(range(size + 1), run_filter.oldest_first(key), strict=False)]
        page = newer[:size]
        if len(newer) > size:
            pagination["previous"] = _cursor(page[-1])
        if page:
            pagination["next"] = _cursor(page[0])
    else:
        start = _key(decode_cursor(after, "page[after]"), "page[after]") if after else None
        rows = run_filter.newest_first(start)
        page = [run for _, run in zip(range(size + 1), rows, strict=False)]
        if len(page) > size:
            page = page[:size]
            pagination["next"] = _cursor(page[-1])
        if after and page:
            pagination["previous"] = _cursor(page[0])
    # Rows are re-read from the database and the status filter applied again, after the cursors were set:
    # a page can come back short, even empty, with `next` still there (clickhouseRunsRepository.listRuns).
    page = [run for run in page if run_filter.still_matches(run)]
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
    if run.spans is None:
        raise json_error(404, "Trace not found")  # no events written yet (API.md §4.7)
    return {"trace": {"traceId": run.trace_id, "rootSpan": views.span(run, run.spans), "isTruncated": False}}


async def span_detail(ctx: Ctx) -> Any:
    run = _run(ctx)
    node = run.span_index.get(ctx.param("span_id"))
    if node is None:
        raise json_error(404, "Span not found")
    triggered = [r for r in ctx.engine.children.get(run.iid, ()) if r.parent_span == node.id]
    return views.span_detail(node, triggered)


async def events(ctx: Ctx) -> Any:
    """Every span of the run, flattened, in the ClickHouse event shape (API.md §4.9); not paginated."""
    run = _run(ctx)
    if run.spans is None:
        raise json_error(404, "Trace not found")
    return {"events": views.events(run.spans)}


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
            payload=_payload(body.get("payload"), options.get("payloadType")),
            tags=tags,
            metadata=options.get("metadata") if isinstance(options.get("metadata"), dict) else None,
            delay_until=delay_until,
            ttl=ttl if isinstance(ttl, str) else None,
            idempotency_key=key if isinstance(key, str) else None,
        )
    except ValueError as exc:
        raise json_error(400, str(exc)) from None
    if options.get("test") is True:
        run.is_test = True
    return {"id": run.friendly}


def _payload(payload: Any, payload_type: Any) -> Any:
    """The payload as run retrieve shows it (parsePacketAsJson): the SDK sends superjson text (API.md §4.3)."""
    kind = payload_type if isinstance(payload_type, str) else "application/json"
    if kind == "application/json" or not isinstance(payload, str):
        return payload if kind == "application/json" else None
    if kind == "application/super+json":
        try:
            decoded = json.loads(payload)
        except ValueError:
            return payload
        return decoded.get("json") if isinstance(decoded, dict) else decoded
    return payload


ROUTES: list[tuple[str, str, Any, dict[str, bool]]] = [
    ("GET", "/api/v1/runs", list_runs, {}),
    ("GET", "/api/v3/runs/{run_id}", retrieve_run, {}),
    ("POST", "/api/v2/runs/{run_id}/cancel", cancel_run, {}),
    ("POST", "/api/v1/runs/{run_id}/replay", replay_run, {}),
    ("GET", "/api/v1/runs/{run_id}/trace", trace, {}),
    ("GET", "/api/v1/runs/{run_id}/spans/{span_id}", span_detail, {}),
    ("GET", "/api/v1/runs/{run_id}/events", events, {}),
    ("POST", "/api/v1/tasks/{task_id}/trigger", trigger, {}),
    *routes_bulk.ROUTES,
]
