"""Keep secrets out of everything the actions layer writes or shows: audit records, messages, output."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from tui.model import JSON

REDACTED = "[REDACTED]"

# Secret keys, scoped keys, PATs and organisation tokens (API.md §1.2), wherever they appear in a string.
_TOKEN = re.compile(r"tr_(?:dev|stg|prod|preview|pat|oat|uat)_[A-Za-z0-9_]+")
# A bearer credential of any shape, e.g. a JWT pasted into a reason or printed by a plugin.
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"']+")

BODY_INLINE_LIMIT = 4096
"""Bodies larger than this (encoded bytes) are recorded as size + hash, not inline."""


class Scrubber:
    """Replaces configured secret values and anything shaped like a platos credential with `[REDACTED]`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole. Very short values are ignored:
        # redacting "a" everywhere would destroy the log without protecting anything.
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        """Also redact these values from now on."""
        found = set(self._secrets) | {s for s in secrets if s and len(s) >= 6}
        self._secrets = sorted(found, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        value = _TOKEN.sub(REDACTED, value)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, value)

    def json(self, value: JSON) -> JSON:
        """A deep copy of `value` with every string (keys included) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value


def encoded_size(value: JSON) -> int:
    """Bytes of `value` as the client sends it (httpx `json=`: UTF-8, compact): the Content-Length."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())


def summarise_body(body: JSON, scrubber: Scrubber, limit: int = BODY_INLINE_LIMIT) -> JSON:
    """The body for the audit log: inline and scrubbed when small, else only its size and SHA-256."""
    if body is None:
        return None
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    if len(raw) <= limit:
        return scrubber.json(body)
    return {"summarised": True, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
