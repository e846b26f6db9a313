"""Server-side run search terms (`:task send-email :status DEQUEUED :window 2h`), parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tui.model.runs import RunStatus
from tui.model.text import clean

TERMS = ("task", "tag", "batch", "version", "status", "key", "window", "from", "to", "clear")
"""Every term a search line may hold, in the order the filter bar names them."""
PERIOD = re.compile(r"^[1-9]\d*[smhdw]$")
"""A window the run list takes as `filter[createdAt][period]` (API.md §4.2): 30m, 6h, 7d."""
_RELATIVE = re.compile(r"^([1-9]\d*)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_START = re.compile(r"(?:^|(?<=\s)):([A-Za-z][\w-]*)(?=\s|$)")
NO_KEY_FILTER = (
    "the run list has no idempotency-key filter (API.md §4.2), so the server cannot search by key: "
    "open the run with :run ID, or search by its tag or batch"
)


@dataclass(frozen=True, slots=True)
class Term:
    """One `:name value` of a search; an empty value clears that criterion."""

    name: str
    value: str = ""


def split_terms(text: str, *, now: datetime | None = None) -> tuple[Term, ...]:
    """The terms of a search line, each checked; raises ValueError with a one-line reason.

    Names start with `:` after a space, so a value may hold a colon (`:tag customer:acme`).
    """
    starts = list(_START.finditer(text))
    if not starts or text[: starts[0].start()].strip():
        raise ValueError(f"a search is :NAME VALUE terms such as :task send-email, not {clean(text.strip(), 40)!r}")
    terms: list[Term] = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        terms.append(check_term(match.group(1).lower(), text[match.end() : end].strip(), now=now))
    return tuple(terms)


def check_term(name: str, value: str, *, now: datetime | None = None) -> Term:
    """One term, checked on its own (a from/to pair is checked when applied); raises ValueError."""
    shown = clean(value, 40)
    if name not in TERMS:
        raise ValueError(f"unknown search term :{clean(name, 20)} (known: {', '.join(':' + t for t in TERMS)})")
    if name == "key":
        raise ValueError(NO_KEY_FILTER)
    if name == "clear":
        if value:
            raise ValueError(":clear takes no value")
        return Term(name)
    if re.search(r"\s", value):
        raise ValueError(f":{name} takes one value or a comma list without spaces, not {shown!r}")
    if name == "status":
        unknown = [s for s in split_list(value) if s.upper() not in RunStatus.__members__]
        if unknown:
            names = ", ".join(clean(s, 20) for s in unknown)
            raise ValueError(f"unknown status {names}; known: {', '.join(RunStatus)}")
    elif name == "window" and value and not PERIOD.match(value):
        raise ValueError(f"not a window: {shown!r} (use 30m, 6h, 7d)")
    elif name in ("from", "to") and value:
        parse_when(value, now or datetime.now(UTC))
    elif name == "batch" and "," in value:
        raise ValueError(":batch takes one batch id (batch_…)")
    elif value and not all(value.split(",")):
        raise ValueError(f":{name} has an empty item in {shown!r}")
    return Term(name, value)


def split_list(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(",") if part)


def period_seconds(period: str) -> int:
    """Seconds in a window such as `2h` (see PERIOD); raises ValueError for anything else."""
    match = _RELATIVE.match(period)
    if match is None:
        raise ValueError(f"not a window: {clean(period, 40)!r} (use 30m, 6h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str, now: datetime) -> datetime:
    """`now`, `2h` (2 hours before `now`), or an ISO date or time (UTC unless it names a zone)."""
    value = text.strip()
    if value.lower() == "now":
        return now
    if _RELATIVE.match(value):
        return now - timedelta(seconds=period_seconds(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"not a time: {clean(value, 40)!r} (use an ISO time such as 2026-11-28T08:00, or 2h for 2 hours ago)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
