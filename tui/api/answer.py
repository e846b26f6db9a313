"""Reading one HTTP answer defensively: a bounded body, strict JSON and sane numbers in headers."""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from itertools import compress
from typing import Any

import httpx

from tui.api.errors import InvalidResponse
from tui.model.text import clean

ERROR_BODY_LIMIT = 64 * 1024
"""Only the head of an error body is read: the message we show comes from its first few hundred bytes."""
MAX_JSON_DEPTH = 256
"""Deeper JSON is refused: rendering and comparing it downstream would recurse past Python's limit."""
MAX_HEADER_NUMBER = 2**53
"""No count, epoch or wait a real server sends is larger (it is JavaScript's largest exact integer)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A response whose body was read in full, or only its head for an error status."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


ACCEPT_ENCODING = "gzip, deflate"
"""The only encodings we decode, each by ourselves, so that a compressed bomb cannot inflate past the cap."""


async def read_body(response: httpx.Response, limit: int, *, truncate: bool) -> bytes | None:
    """The decoded body, chunk by chunk: None once it passes `limit` bytes, or its head when `truncate`."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        return None
    inflate = _decoder(response.headers.get("content-encoding", ""))
    buffer = bytearray()
    # Without an encoding the raw bytes are the body (and aiter_bytes also serves a body already in memory).
    chunks = response.aiter_bytes() if inflate is None else response.aiter_raw()
    async for raw in chunks:
        room = limit - len(buffer)
        # Never inflate more than one byte past the room left, whatever the compression ratio.
        try:
            chunk = raw if inflate is None else inflate.decompress(raw, room + 1)
        except zlib.error:
            raise InvalidResponse("response body does not decompress") from None
        if len(chunk) > room:
            if not truncate:
                return None
            buffer += chunk[:room]
            break
        buffer += chunk
    return bytes(buffer)


def _decoder(encoding: str) -> Any:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped, as RFC 9110 means it
    raise InvalidResponse(f"response uses a content encoding we did not ask for: {clean(encoding, 40)!r}")


class _NotJson(ValueError):
    """A number JSON cannot carry (NaN, Infinity, or one that overflows a double)."""


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(text)
    return value


def decode_json(content: bytes, status: int) -> Any:
    """Strict JSON: no NaN or Infinity, nothing nested deeper than MAX_JSON_DEPTH; else InvalidResponse."""
    try:
        data = json.loads(content, parse_constant=_no_constant, parse_float=_finite)
    except _NotJson as exc:
        raise InvalidResponse(f"{status}: response holds a number JSON cannot carry ({clean(str(exc), 20)})") from None
    except RecursionError:
        raise InvalidResponse(f"{status}: response is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponse(f"{status}: response is not valid JSON") from None
    if _deeper_than(data, MAX_JSON_DEPTH):
        raise InvalidResponse(f"{status}: response is nested deeper than {MAX_JSON_DEPTH} levels")
    return data


_CONTAINERS = frozenset({dict, list})


def _deeper_than(data: Any, limit: int) -> bool:
    # Level by level, without recursion (this very check must not recurse), and picking each level's containers
    # out of the one above in C (compress over their types): a page of 100 runs holds some 300 of them.
    level = [data] if type(data) in _CONTAINERS else []
    for _ in range(limit):
        if not level:
            return False
        below: list[Any] = []
        for value in level:
            children = list(value.values()) if type(value) is dict else value
            below.extend(compress(children, map(_CONTAINERS.__contains__, map(type, children))))
        level = below
    return bool(level)


def header_number(headers: httpx.Headers, name: str) -> float | None:
    """A numeric header (absent is None); anything but a finite number from 0 to 2^53 is an InvalidResponse."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise InvalidResponse(f"header {name}: expected a number, got {clean(raw, 40)!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_HEADER_NUMBER):
        raise InvalidResponse(f"header {name}: {clean(raw, 40)!r} is not a sane value")
    return value


def http_date(raw: str | None) -> float | None:
    """An HTTP date (`Date`, `Retry-After`) as epoch seconds; None when absent or unreadable."""
    if not raw or not raw.strip():
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Seconds from `now` (epoch) that `Retry-After` asks for, as delta-seconds or an HTTP date; None if unusable."""
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        seconds = float(raw)
        return seconds if seconds <= MAX_HEADER_NUMBER else None
    when = http_date(raw)
    return None if when is None else max(0.0, when - now)


def int_header(answer: Answer, name: str) -> int | None:
    """A whole-number header; a nonsense value fails a 2xx answer and is ignored on an error answer."""
    try:
        value = header_number(answer.headers, name)
    except InvalidResponse:
        if answer.ok:
            raise
        return None
    return None if value is None else int(value)


def error_body(answer: Answer) -> Any:
    """The decoded body of an error answer, or None: its text is only a hint, never a failure."""
    try:
        return decode_json(answer.content, answer.status)
    except InvalidResponse:
        return None


def body_float(answer: Answer, key: str) -> float | None:
    """A non-negative number from an error body (e.g. `secondsUntilReset`), or None."""
    body = error_body(answer)
    value = body.get(key) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)
