"""Queue, waitpoint, deployment and environment routes."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from starlette.responses import JSONResponse

from tui.sim import views
from tui.sim.engine import iso, parse_duration
from tui.sim.http import ApiError, Ctx, json_error, mint_jwt, page_size, parse_period, parse_time, query_error
from tui.sim.promotion import PromoteRefused
from tui.sim.state import Queue, Token

MAX_TOKEN_TAGS = 10


def _queue(ctx: Ctx, kind: str | None = None) -> Queue:
    kind = kind or ctx.query("type") or "id"
    if kind not in ("id", "task", "custom"):
        raise query_error("type", "Invalid enum value. Expected 'id' | 'task' | 'custom'")
    queue = ctx.engine.queue_for(unquote(ctx.param("queue")), kind)
    if queue is None:
        raise json_error(404, "queue-not-found")
    return queue


def _positive(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.query(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise query_error(name, "Number must be greater than 0")
    return int(raw)


async def list_queues(ctx: Ctx) -> Any:
    page = _positive(ctx, "page", 1)
    per_page = min(100, _positive(ctx, "perPage", 25))
    queues = sorted(ctx.engine.queues.values(), key=lambda q: q.name)
    chunk = queues[(page - 1) * per_page : page * per_page]
    return {
        "data": [views.queue_item(ctx.engine, q, percent_field=True) for q in chunk],
        "pagination": {"currentPage": page, "totalPages": math.ceil(len(queues) / per_page), "count": len(queues)},
    }


async def retrieve_queue(ctx: Ctx) -> Any:
    return views.queue_item(ctx.engine, _queue(ctx), percent_field=True)


def _body_kind(body: dict[str, Any]) -> str:
    kind = body.get("type", "id")
    if kind not in ("id", "task", "custom"):
        raise json_error(400, "type: Invalid enum value. Expected 'id' | 'task' | 'custom'")
    return str(kind)


async def pause_queue(ctx: Ctx) -> Any:
    body = ctx.json_body()
    action = body.get("action")
    if action not in ("pause", "resume"):
        raise json_error(400, "action: Invalid enum value. Expected 'pause' | 'resume'")
    queue = _queue(ctx, _body_kind(body))
    ctx.engine.pause_queue(queue, action == "pause")
    return views.queue_item(ctx.engine, queue, percent_field=False)


async def override(ctx: Ctx) -> Any:
    body = ctx.json_body()
    limit, percent = body.get("concurrencyLimit"), body.get("percent")
    if (limit is None) == (percent is None):
        raise json_error(400, "Provide exactly one of `concurrencyLimit` or `percent`")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 100000):
        raise json_error(400, "concurrencyLimit: Expected an integer between 0 and 100000")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent <= 100
    ):
        raise json_error(400, "percent: Expected a number greater than 0 and at most 100")
    kind = _body_kind(body)
    try:
        queue = _queue(ctx, kind)
    except Exception:
        raise json_error(404, "Queue not found") from None
    env_limit = ctx.engine.env.concurrency_limit
    if limit is not None and limit > env_limit:
        raise json_error(400, f"Concurrency limit ({limit}) cannot exceed the environment limit ({env_limit})")
    ctx.engine.override(queue, limit, float(percent) if percent is not None else None)
    return views.queue_item(ctx.engine, queue, percent_field=False)


async def reset(ctx: Ctx) -> Any:
    body = ctx.json_body()
    try:
        queue = _queue(ctx, _body_kind(body))
    except Exception:
        raise json_error(404, "Queue not found") from None
    if queue.override_limit is None:
        raise json_error(400, "Queue is not overridden")
    ctx.engine.reset(queue)
    return views.queue_item(ctx.engine, queue, percent_field=False)


PERIOD = re.compile(r"^[1-9]\d*[smhdw]$")


async def metrics(ctx: Ctx) -> Any:
    name = unquote(ctx.param("queue"))
    kind = ctx.query("type") or "task"
    if kind not in ("task", "custom"):
        raise query_error("type", "Invalid enum value. Expected 'task' | 'custom'")
    period = ctx.query("period") or "1h"
    if not PERIOD.match(period):
        raise query_error("period", "Invalid period")
    seconds = parse_period(period, "period")
    if seconds > 7 * 86400:
        raise query_error("period", "Period must be at most 7 days")
    stored = (name if name.startswith("task/") else f"task/{name}") if kind == "task" else name
    if stored in ctx.engine.metrics_failing:
        raise json_error(503, "Queue metrics are unavailable right now.")  # ClickHouse failed (API.md §5.7)
    body = ctx.engine.history.metrics(stored, period, seconds, ctx.engine.now.timestamp())
    body["from"] = iso(datetime.fromtimestamp(body["from"], UTC))
    body["to"] = iso(datetime.fromtimestamp(body["to"], UTC))
    return body


# -- waitpoint tokens --------------------------------------------------------------------------------------
def _token(ctx: Ctx) -> Token | None:
    return ctx.engine.tokens.get(ctx.param("token_id").removeprefix("waitpoint_"))


async def create_token(ctx: Ctx) -> Any:
    body = ctx.json_body(max_bytes=10 * 1024)
    tags = body.get("tags") or []
    tags = [tags] if isinstance(tags, str) else tags
    if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) < 128 for t in tags):
        raise json_error(400, "tags: Expected a string or an array of strings")
    if len(tags) > MAX_TOKEN_TAGS:
        raise json_error(422, f"Waitpoints can only have 10 tags, you're trying to set {len(tags)}.")
    key, timeout, key_ttl = body.get("idempotencyKey"), body.get("timeout"), body.get("idempotencyKeyTTL")
    if key is not None and (not isinstance(key, str) or len(key) > 2048):
        raise json_error(400, "idempotencyKey: Expected a string of at most 2048 characters")
    engine = ctx.engine
    ttl_seconds = None
    if key_ttl is not None:
        try:
            ttl_seconds = parse_duration(str(key_ttl))
        except ValueError:
            raise json_error(400, f"idempotencyKeyTTL: invalid duration {key_ttl!r}") from None
    existing = engine.tokens.get(engine._idem.get(key, "")) if isinstance(key, str) else None
    expires = existing.idempotency_expires_at if existing is not None else None
    if existing is not None and expires is not None and expires <= engine.now:
        # An expired key moves to `inactiveIdempotencyKey` and a new token is created (API.md §7.1).
        setattr(existing, "inactive_key", key)  # noqa: B010 (Token.inactive_key is being added to state.py)
        existing.idempotency_key = existing.iid
        existing.user_key = False
        del engine._idem[str(key)]
        existing = None
    try:
        token = engine.create_token(
            idempotency_key=key if isinstance(key, str) else None,
            timeout=timeout if isinstance(timeout, str) else None,
            tags=tags,
        )
    except ValueError as exc:
        raise json_error(400, f"timeout: {exc}") from None
    if existing is None and ttl_seconds is not None and token.user_key:
        token.idempotency_expires_at = token.created_at + timedelta(seconds=ttl_seconds)

    claims = json.dumps({"sub": ctx.engine.env.id, "pub": True})
    body_out = {
        "id": token.friendly,
        "isCached": existing is not None,
        "url": views.callback_url(ctx.base_url, token, ctx.secret),
    }
    # A real HS256 public token scoped to this token (valid 24 h), as the real route sends (API.md §7.1).
    jwt = mint_jwt(ctx.secret, engine.env.id, [f"write:waitpoints:{token.friendly}"], time.time(), 86400)
    return JSONResponse(body_out, headers={"x-trigger-jwt": jwt, "x-trigger-jwt-claims": claims})


async def list_tokens(ctx: Ctx) -> Any:
    size = page_size(ctx, 25)
    statuses = ctx.query_list("filter[status]")
    if any(s not in ("WAITING", "COMPLETED", "TIMED_OUT") for s in statuses):
        raise query_error("filter[status]", "Invalid enum value. Expected 'WAITING' | 'COMPLETED' | 'TIMED_OUT'")
    tags = set(ctx.query_list("filter[tags]"))
    key = ctx.query("filter[idempotencyKey]")
    since, until = ctx.query("filter[createdAt][from]"), ctx.query("filter[createdAt][to]")
    period = ctx.query("filter[createdAt][period]")
    start = parse_time(since, "filter[createdAt][from]") if since else None
    end = parse_time(until, "filter[createdAt][to]") if until else None
    if period:
        # As for runs, a period overrides from and to.
        start, end = ctx.engine.now - timedelta(seconds=parse_period(period, "filter[createdAt][period]")), None
    after, before = ctx.query("page[after]"), ctx.query("page[before]")

    def keep(token: Token) -> bool:
        item = views.token_item(ctx.engine, token, ctx.base_url, ctx.secret)
        return (
            (not statuses or item["status"] in statuses)
            and (not tags or bool(tags.intersection(token.tags)))
            and (key is None or key in (token.idempotency_key, getattr(token, "inactive_key", None)))
            and (start is None or token.created_at >= start)
            and (end is None or token.created_at <= end)
            and (after is None or token.iid < after)
            and (before is None or token.iid > before)
        )

    tokens = sorted((t for t in ctx.engine.tokens.values() if keep(t)), key=lambda t: t.iid, reverse=True)
    page = tokens[-size:] if before else tokens[:size]
    pagination: dict[str, str] = {}
    if page and (len(tokens) > size if not before else True):
        pagination["next"] = page[-1].iid
    if page and (after or (before and len(tokens) > size)):
        pagination["previous"] = page[0].iid
    return {"data": [views.token_item(ctx.engine, t, ctx.base_url, ctx.secret) for t in page], "pagination": pagination}


async def retrieve_token(ctx: Ctx) -> Any:
    token = _token(ctx)
    if token is None:
        raise json_error(500, "Internal Server Error")  # the real presenter throws (API.md §7.3)
    return views.token_detail(ctx.engine, token, ctx.base_url, ctx.secret)


async def complete_token(ctx: Ctx) -> Any:
    body = ctx.json_body(max_bytes=3 * 1024 * 1024)
    token = _token(ctx)
    if token is None:
        raise json_error(404, "Waitpoint not found")
    output = json.dumps(body["data"], separators=(",", ":")) if "data" in body else None
    ctx.engine.complete_token(token, output)
    return {"success": True}


async def callback(ctx: Ctx) -> Any:
    length = ctx.request.headers.get("content-length")
    if length is None:
        raise json_error(411, "Content-Length header is required")
    if not length.isdigit() or int(length) > 3 * 1024 * 1024:
        raise json_error(413, "Request body too large")
    token = _token(ctx)
    if token is None:
        raise json_error(404, "Waitpoint not found")
    expected = hmac.new(ctx.secret.encode(), token.iid.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, ctx.param("hash")):
        raise json_error(401, "Invalid URL, hash doesn't match")
    try:
        data = json.loads(ctx.body or b"{}")
    except ValueError:
        data = {}
    ctx.engine.complete_token(token, json.dumps(data, separators=(",", ":")))
    return {"success": True}


# -- deployments and environment ------------------------------------------------------------------------------
DEPLOYMENT_STATUSES = ("PENDING", "BUILDING", "DEPLOYING", "DEPLOYED", "FAILED", "CANCELED", "TIMED_OUT")


def _deployment_window(ctx: Ctx) -> tuple[datetime | None, datetime | None]:
    """period, or from (optionally with to); `to` alone is ignored. Bad values end in a 500 (API.md §9)."""
    period, since, until = ctx.query("period"), ctx.query("from"), ctx.query("to")
    try:
        if period:
            return ctx.engine.now - timedelta(seconds=parse_period(period, "period")), None
        if since:
            start = parse_time(since, "from")
            return start, parse_time(until, "to") if until else None
    except ApiError:
        raise json_error(500, "Internal Server Error") from None
    return None, None


async def list_deployments(ctx: Ctx) -> Any:
    size = page_size(ctx, 20, minimum=5)
    status = ctx.query("status")
    if status is not None and status not in DEPLOYMENT_STATUSES:
        raise query_error("status", "Invalid enum value. Expected " + " | ".join(DEPLOYMENT_STATUSES))
    start, end = _deployment_window(ctx)
    items = sorted(
        (
            d
            for d in ctx.engine.deployments
            if (status is None or d.status == status)
            and (start is None or d.created_at >= start)
            and (end is None or d.created_at <= end)
        ),
        key=lambda d: d.id,
        reverse=True,
    )
    after = ctx.query("page[after]")
    if after:
        items = [d for d in items if d.id < after]
    page = items[:size]
    pagination = {"next": page[-1].id} if len(items) > size else {}
    return {"data": [views.deployment_item(d, current=False) for d in page], "pagination": pagination}


async def current_deployment(ctx: Ctx) -> Any:
    current = ctx.engine.current_deployment()
    if current is None:
        raise json_error(404, "Not found")
    return views.deployment_item(current, current=True)


async def promote_deployment(ctx: Ctx) -> Any:
    """The path names a version, not an id; `allowRollbacks=true` (exactly) lets an older one through."""
    # A legacy-auth route: it reads the first value of a repeated key (URLSearchParams.get), not the last.
    asked = ctx.request.query_params.getlist("allowRollbacks")
    rollbacks = bool(asked) and asked[0] == "true"
    try:
        promoted = ctx.engine.promote(unquote(ctx.param("version")), allow_rollbacks=rollbacks)
    except LookupError:
        raise json_error(404, "Deployment not found") from None
    except PromoteRefused as refused:
        raise json_error(400, str(refused)) from None
    return {"id": promoted.id, "version": promoted.version, "shortCode": promoted.short_code}


async def whoami(ctx: Ctx) -> Any:
    env = ctx.engine.env
    return {
        "id": env.id,
        "slug": env.slug,
        "type": env.type,
        "paused": env.paused,
        "maximumConcurrencyLimit": env.concurrency_limit,
        "concurrencyLimitBurstFactor": env.burst_factor,
        "shortcode": "sim",
        "apiKey": ctx.secret,  # the real endpoint echoes the key too; clients must never show it
        "projectId": env.project_ref,
        "branchName": None,
        "parentEnvironmentId": None,
        "project": {
            "id": env.project_ref,
            "slug": "platos-demo",
            "name": "platos demo",
            "externalRef": env.project_ref,
            "engine": "V2",
        },
        "organization": {
            "id": "org_sim",
            "slug": "platos",
            "title": "platos",
            "maximumConcurrencyLimit": 100,
            "runsEnabled": True,
        },
        "userId": "user_sim",
    }


async def jwt_claims(ctx: Ctx) -> Any:
    return {"sub": ctx.engine.env.id, "pub": True}


ROUTES: list[tuple[str, str, Any, dict[str, bool]]] = [
    ("GET", "/api/v1/queues", list_queues, {}),
    ("POST", "/api/v1/queues/{queue:path}/pause", pause_queue, {}),
    ("POST", "/api/v1/queues/{queue:path}/concurrency/override", override, {}),
    ("POST", "/api/v1/queues/{queue:path}/concurrency/reset", reset, {}),
    ("GET", "/api/v1/queues/{queue:path}/metrics", metrics, {}),
    ("GET", "/api/v1/queues/{queue:path}", retrieve_queue, {}),
    ("POST", "/api/v1/waitpoints/tokens", create_token, {}),
    ("GET", "/api/v1/waitpoints/tokens", list_tokens, {}),
    ("GET", "/api/v1/waitpoints/tokens/{token_id}", retrieve_token, {}),
    ("POST", "/api/v1/waitpoints/tokens/{token_id}/complete", complete_token, {}),
    ("GET", "/api/v1/deployments", list_deployments, {}),
    ("GET", "/api/v1/deployments/current", current_deployment, {"limited": False}),
    ("POST", "/api/v1/deployments/{version}/promote", promote_deployment, {}),
    ("GET", "/api/v1/whoami", whoami, {}),
    ("POST", "/api/v1/auth/jwt/claims", jwt_claims, {"limited": False}),
    ("POST", "/api/v1/waitpoints/tokens/{token_id}/callback/{hash}", callback, {"public": True}),
]
