"""Bulk actions: cancel or replay runs by id or by filter, asynchronously, with progress and abort (API.md §8)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import JSONResponse

from tui.sim import views
from tui.sim.http import ApiError, Ctx, decode_cursor, encode_cursor, json_error, page_size, parse_period, parse_time
from tui.sim.runfilter import DEFAULT_WINDOW, RunFilter

MAX_BULK_IDS = 500
MAX_REPLAYS = 3


def _non_empty(value: Any) -> bool:
    """The SDK schema's test for a usable filter value: recursive, and blank strings do not count."""
    if value is None:
        return False
    if isinstance(value, list):
        return any(_non_empty(v) for v in value)
    if isinstance(value, str):
        return bool(value.strip())
    return True


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
    if not any(_non_empty(value) for value in raw.values()):
        raise json_error(400, "At least one filter must be provided")
    now = ctx.engine.now
    since = parse_time(str(raw["from"]), "filter.from") if raw.get("from") else None
    until = parse_time(str(raw["to"]), "filter.to") if raw.get("to") else now
    if raw.get("period"):
        # The period wins over from/to and is frozen at creation as [now - period, now] (API.md §8).
        since, until = now - timedelta(seconds=parse_period(str(raw["period"]), "filter.period")), now
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
        regions=values("region"),
        machines=values("machine"),
        schedule=str(raw["schedule"]) if raw.get("schedule") else None,
        batch=str(raw["batch"]) if raw.get("batch") else None,
    )


async def create_bulk(ctx: Ctx) -> Any:
    body = ctx.json_body(max_bytes=1024 * 1024)
    action = body.get("action")
    if action not in ("cancel", "replay"):
        raise json_error(400, "action: Invalid enum value. Expected 'cancel' | 'replay'")
    run_ids, raw_filter = body.get("runIds"), body.get("filter")
    if (run_ids is None) == (raw_filter is None):
        raise json_error(400, "Exactly one of filter or runIds must be provided")
    if action == "cancel" and body.get("targetRegion") is not None:
        raise json_error(400, "targetRegion: Expected never, received " + type(body["targetRegion"]).__name__)
    if body.get("name") is not None and (not isinstance(body["name"], str) or len(body["name"]) > 255):
        raise json_error(400, "Name must be less than 255 characters")
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
    return JSONResponse({"id": bulk.friendly}, status_code=202)


def _bulk(ctx: Ctx, *, action: bool = False) -> Any:
    bulk = ctx.engine.bulks.get(ctx.param("bulk_id").removeprefix("bulk_"))
    if bulk is None:
        raise json_error(404, "Resource not found") if action else json_error(404, "Not found", x_should_retry="false")
    return bulk


def _bulk_cursor(text: str) -> tuple[float, str]:
    """Cursors are base64url JSON {createdAt, id}; the real loader turns a malformed one into a 500 (API.md §8)."""
    try:
        value = decode_cursor(text, "page")
        return float(value["createdAt"]), str(value["id"])
    except (ApiError, KeyError, TypeError, ValueError):
        raise json_error(500, "Internal Server Error") from None


def _bulk_key(bulk: Any) -> tuple[float, str]:
    return int(bulk.created_at.timestamp() * 1000), bulk.iid


async def list_bulk(ctx: Ctx) -> Any:
    size = page_size(ctx, 25)
    after, before = ctx.query("page[after]"), ctx.query("page[before]")
    if after and before:
        raise json_error(500, "Internal Server Error")
    items = sorted(ctx.engine.bulks.values(), key=_bulk_key, reverse=True)
    pagination: dict[str, str] = {}

    def cursor(bulk: Any) -> str:
        created, iid = _bulk_key(bulk)
        return encode_cursor({"createdAt": created, "id": iid})

    if before:
        key = _bulk_cursor(before)
        newer = [b for b in items if _bulk_key(b) > key]
        page = newer[-size:]
        if len(newer) > size:
            pagination["previous"] = cursor(page[0])
        if page:
            pagination["next"] = cursor(page[-1])
    else:
        if after:
            key = _bulk_cursor(after)
            items = [b for b in items if _bulk_key(b) < key]
        page = items[:size]
        if len(items) > size:
            pagination["next"] = cursor(page[-1])
        if after and page:
            pagination["previous"] = cursor(page[0])
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
    ("POST", "/api/v1/bulk-actions", create_bulk, {}),
    ("GET", "/api/v1/bulk-actions", list_bulk, {}),
    ("GET", "/api/v1/bulk-actions/{bulk_id}", retrieve_bulk, {}),
    ("POST", "/api/v1/bulk-actions/{bulk_id}/abort", abort_bulk, {}),
]
