"""Request context, error envelopes and parsing helpers shared by the simulator's routes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tui.sim.engine import Engine, parse_duration

API_VERSION = "2025-07-16"


class ApiError(Exception):
    """An error answer: status, JSON body, optional headers."""

    def __init__(
        self, status: int, body: dict[str, Any], *, problem: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("error", status))
        self.status, self.body, self.problem, self.headers = status, body, problem, headers or {}

    def response(self) -> Response:
        media = "application/problem+json" if self.problem else "application/json"
        return JSONResponse(self.body, status_code=self.status, headers=self.headers, media_type=media)


def json_error(status: int, message: str, **headers: str) -> ApiError:
    return ApiError(status, {"error": message}, headers={k.replace("_", "-"): v for k, v in headers.items()})


def query_error(param: str, message: str) -> ApiError:
    detail = {"code": "custom", "message": message, "path": [param]}
    return ApiError(400, {"error": "Query Error", "details": [detail]})


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    engine: Engine
    body: bytes | None
    secret: str
    base_url: str

    @property
    def v2(self) -> bool:
        """The 2025-07-16 status vocabulary is chosen by the API-version header (API.md §1.5)."""
        return self.request.headers.get("x-trigger-api-version", "") >= API_VERSION

    def param(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def query(self, name: str) -> str | None:
        # A repeated key keeps only its last value, like Object.fromEntries on the server.
        values = self.request.query_params.getlist(name)
        return values[-1] if values else None

    def query_list(self, name: str) -> list[str]:
        value = self.query(name)
        return [part for part in (value or "").split(",") if part]

    def json_body(self, *, max_bytes: int | None = None) -> dict[str, Any]:
        """The JSON object body, validated like the route builder (API.md §2.1)."""
        if max_bytes is not None:
            length = self.request.headers.get("content-length")
            if length is None or not length.isdigit() or int(length) > max_bytes:
                raise json_error(413, "Request body too large")
        if not self.body:
            raise json_error(400, "Request body is empty")
        try:
            value = json.loads(self.body)
        except ValueError:
            raise json_error(400, "Invalid JSON") from None
        if not isinstance(value, dict):
            raise json_error(400, "Expected object, received " + type(value).__name__)
        return value


def parse_time(text: str, param: str) -> datetime:
    """Epoch milliseconds or an ISO date."""
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise query_error(param, f"Invalid date: {text}") from None


def parse_period(text: str, param: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise query_error(param, f"Invalid period: {text}") from None


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, param: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise query_error(param, "Invalid cursor") from None
    if not isinstance(value, dict):
        raise query_error(param, "Invalid cursor")
    return value


def page_size(ctx: Ctx, default: int, *, minimum: int = 1) -> int:
    raw = ctx.query("page[size]")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise query_error("page[size]", "Number must be between 1 and 100")
    return max(minimum, int(raw))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def mint_jwt(secret: str, env_id: str, scopes: list[str], now: float, ttl_seconds: float) -> str:
    """A public access token like the real one: HS256 with the env secret key, `sub` = env id (API.md §1.2)."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": env_id,
        "pub": True,
        "scopes": scopes,
        "iss": "https://id.trigger.dev",
        "aud": "https://api.trigger.dev",
        "iat": int(now),
        "exp": int(now + ttl_seconds),
    }
    signing = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64(signature)


def verify_jwt(token: str, secret: str, now: float) -> dict[str, Any] | None:
    """The claims of a token this server minted and that has not expired, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = _b64(hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    return claims
