"""Waitpoint tokens: what a blocked run waits for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TokenStatus(StrEnum):
    """Token status as the API reports it (API.md §7.2)."""

    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    TIMED_OUT = "TIMED_OUT"


@dataclass(frozen=True, slots=True)
class WaitpointToken:
    """A manual waitpoint token (API.md §7.2)."""

    id: str
    url: str
    status: TokenStatus
    created_at: datetime
    completed_at: datetime | None = None
    timeout_at: datetime | None = None
    idempotency_key: str | None = None
    idempotency_key_expires_at: datetime | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenDetail:
    """A token with its output, from the retrieve endpoint (API.md §7.3)."""

    token: WaitpointToken
    output: str | None = None
    """The output exactly as the server serialised it (a JSON string)."""
    output_type: str | None = None
    output_is_error: bool = False
