"""Injected faults for chaos testing: latency, errors, malformed bodies, dropped connections, 429 storms."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass
class FaultConfig:
    """What to break, and how often (rates are probabilities per request)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    malformed_rate: float = 0.0
    drop_rate: float = 0.0
    ratelimit_storm: bool = False


def _seconds(text: str) -> float:
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text)


def parse_faults(spec: str) -> FaultConfig:
    """`latency=2s,error-rate=0.2,error-status=500,malformed-rate=0.1,drop-rate=0.05,storm=1`."""
    config = FaultConfig()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, value = part.partition("=")
        key = key.strip().replace("-", "_")
        try:
            if key == "latency":
                config.latency_ms = _seconds(value) * 1000
            elif key in ("error_rate", "malformed_rate", "drop_rate"):
                setattr(config, key, float(value))
            elif key == "error_status":
                config.error_status = int(value)
            elif key in ("storm", "ratelimit_storm"):
                config.ratelimit_storm = value.strip().lower() in ("1", "true", "yes", "on", "")
            else:
                raise ValueError(f"unknown fault {key!r}")
        except ValueError as exc:
            raise ValueError(f"bad fault spec {part!r}: {exc}") from None
    return config


class FaultLayer:
    """Applies the configured faults around every platos API request."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 3) -> None:
        self.config = config or FaultConfig()
        self.rng = random.Random(seed)

    @property
    def storm(self) -> bool:
        return self.config.ratelimit_storm

    def configure(self, body: dict[str, Any]) -> None:
        names = {f.name for f in fields(FaultConfig)}
        unknown = set(body) - names
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        merged = {**asdict(self.config), **body}
        self.config = FaultConfig(**merged)

    def describe(self) -> dict[str, Any]:
        return asdict(self.config)

    async def before(self, request: Request) -> Response | None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self.config.error_rate and self.rng.random() < self.config.error_rate:
            status = self.config.error_status
            return JSONResponse(
                {"error": "Internal Server Error" if status == 500 else "Service Unavailable"}, status_code=status
            )
        return None

    def after(self, response: Response) -> Response:
        if self.config.malformed_rate and self.rng.random() < self.config.malformed_rate:
            return Response(b'{"data": [{"id": ', status_code=response.status_code, media_type="application/json")
        if self.config.drop_rate and self.rng.random() < self.config.drop_rate:
            return _Dropped()
        return response


class SimulatedDrop(ConnectionAbortedError):
    """Raised to cut a response short; never logged (it would draw over the TUI in --demo)."""


def _not_a_drop(record: logging.LogRecord) -> bool:
    return not (record.exc_info and isinstance(record.exc_info[1], SimulatedDrop))


def _silence_drops() -> None:
    server_log = logging.getLogger("uvicorn.error")
    if _not_a_drop not in server_log.filters:
        server_log.addFilter(_not_a_drop)


class _Dropped(Response):
    """Promises a body and closes the connection half-way, as a crashing proxy would."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200, headers={"content-length": "4096"}, media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        _silence_drops()
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
        raise SimulatedDrop("simulated dropped connection")
