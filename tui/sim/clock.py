"""Virtual-time helpers: durations, dates and JavaScript-style ISO stamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def parse_duration(text: str) -> float:
    """Seconds in a duration like `30s`, `10m`, `1h30m`, `3d`, `4w`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    total, number = 0.0, ""
    for char in text.strip():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise ValueError(f"invalid duration {text!r}")
    if number or total <= 0:
        raise ValueError(f"invalid duration {text!r}")
    return total


def parse_when(text: str, now: datetime) -> datetime:
    """A duration from `now`, or an ISO date."""
    try:
        return now + timedelta(seconds=parse_duration(text))
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """JavaScript's Date.toISOString(): milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
