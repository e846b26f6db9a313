"""Typed, path-aware reads of decoded JSON; every mismatch becomes an InvalidResponse naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from tui.api.errors import InvalidResponse
from tui.model.paging import Page
from tui.model.text import clean

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
N = TypeVar("N", int, float)

_MISSING: Any = object()
MAX_EXACT = 2**53
"""The largest whole number a float holds exactly: a larger integer takes the careful path."""
_CHOICES: dict[tuple[type[Enum], str], Enum] = {}
"""Enum members already read by their own value (an alias is left out: what it maps to is the caller's)."""


def type_name(value: object) -> str:
    """The JSON name of a decoded value's type, as an operator would say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def wrong(path: str, expected: str, value: object) -> InvalidResponse:
    return InvalidResponse(f"{path}: expected {expected}, got {type_name(value)}")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def shown(value: str) -> str:
    """A server string made safe and short enough to quote in an error message."""
    return repr(clean(value, 60))


def as_int(value: object, path: str) -> int:
    if isinstance(value, bool):
        raise wrong(path, "integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise wrong(path, "integer", value)


def as_float(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong(path, "number", value)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidResponse(f"{path}: expected a finite number, got {type_name(value)} {value!r:.20}")
    return number


def not_negative(number: N, path: str) -> N:
    """A count, limit or wait: a negative one is nonsense from the server, not data."""
    if number < 0:
        raise InvalidResponse(f"{path}: must not be negative, got {number:g}")
    return number


def as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise wrong(path, "string", value)
    return value


_DATES: dict[str, datetime] = {}
"""Times already read, by their text: a poll re-reads the same runs' times, and parsing them is a third of a page."""
DATES_KEPT = 50_000


def _read_before(value: object) -> datetime | None:
    """The time this text was read as before, if it was."""
    return _DATES.get(value) if isinstance(value, str) else None


def as_datetime(value: object, path: str) -> datetime:
    known = _read_before(value)
    if known is not None:
        return known
    text = as_str(value, path)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidResponse(f"{path}: expected ISO date-time, got {shown(text)}") from None
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # an offset that pushes it past year 1..9999 would fail later, in display code
    except OverflowError:
        raise InvalidResponse(f"{path}: date-time out of range, got {shown(text)}") from None
    if len(_DATES) >= DATES_KEPT:
        _DATES.clear()
    _DATES[text] = parsed
    return parsed


def as_enum(value: object, path: str, enum: type[E], aliases: Mapping[str, E] | None = None) -> E:
    text = as_str(value, path)
    try:
        return enum(text)
    except ValueError:
        if aliases is not None and text in aliases:
            return aliases[text]
    raise InvalidResponse(f"{path}: unknown value {shown(text)}")


class Obj:
    """A JSON object with a path; optional getters treat absent and null alike (API.md: absent, not null)."""

    __slots__ = ("_data", "path")

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise wrong(path or "response", "object", value)
        self._data: dict[str, Any] = value
        self.path = path

    def at(self, key: str) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str) -> Any:
        """The value as decoded (any JSON), None when absent."""
        return self._data.get(key)

    def _required(self, key: str) -> Any:
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            raise InvalidResponse(f"{self.at(key)}: missing")
        return value

    # The getters take the common case first and name the field's path only for an error: building every
    # field's path costs more than reading the field.

    def text(self, key: str) -> str:
        value = self._data.get(key)
        if value.__class__ is str:
            return value
        return as_str(self._required(key), self.at(key))

    def opt_text(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None or value.__class__ is str:
            return value
        return as_str(value, self.at(key))

    def integer(self, key: str) -> int:
        return as_int(self._required(key), self.at(key))

    def opt_integer(self, key: str) -> int | None:
        value = self._data.get(key)
        if value is None or value.__class__ is int:
            return value
        return as_int(value, self.at(key))

    def count(self, key: str) -> int:
        """A whole number that cannot be negative (a count, a limit, an interval)."""
        return not_negative(self.integer(key), self.at(key))

    def opt_count(self, key: str) -> int | None:
        value = self.opt_integer(key)
        return None if value is None else not_negative(value, self.at(key))

    def amount(self, key: str) -> float:
        """A number that cannot be negative (a rate, a wait, a percentage)."""
        return not_negative(self.number(key), self.at(key))

    def opt_amount(self, key: str) -> float | None:
        value = self.opt_number(key)
        return None if value is None else not_negative(value, self.at(key))

    def number(self, key: str, default: float | None = None) -> float:
        value = self._data.get(key)
        if value is None and default is not None:
            return default
        if value.__class__ is float and math.isfinite(value):
            return value
        if value.__class__ is int and -MAX_EXACT <= value <= MAX_EXACT:
            return float(value)
        return as_float(self._required(key), self.at(key))

    def opt_number(self, key: str) -> float | None:
        value = self._data.get(key)
        return None if value is None else as_float(value, self.at(key))

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self._data.get(key)
        if value is None and default is not None:
            return default
        if value is True or value is False:
            return value
        value = self._required(key)
        if not isinstance(value, bool):
            raise wrong(self.at(key), "boolean", value)
        return value

    def when(self, key: str) -> datetime:
        known = _read_before(self._data.get(key))
        return known if known is not None else as_datetime(self._required(key), self.at(key))

    def opt_when(self, key: str) -> datetime | None:
        value = self._data.get(key)
        if value is None:
            return None
        known = _read_before(value)
        return known if known is not None else as_datetime(value, self.at(key))

    def choice(self, key: str, enum: type[E], aliases: Mapping[str, E] | None = None) -> E:
        value = self._data.get(key)
        known = _CHOICES.get((enum, value)) if value.__class__ is str else None
        if known is not None:
            return known  # type: ignore[return-value]
        chosen = as_enum(self._required(key), self.at(key), enum, aliases)
        if chosen.value == value:  # a member by its own value (what an alias maps to depends on the caller)
            _CHOICES[(enum, value)] = chosen
        return chosen

    def child(self, key: str) -> Obj:
        return Obj(self._required(key), self.at(key))

    def opt_child(self, key: str) -> Obj | None:
        value = self._data.get(key)
        return None if value is None else Obj(value, self.at(key))

    def opt_mapping(self, key: str) -> dict[str, Any] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise wrong(self.at(key), "object", value)
        return value

    def array(self, key: str, *, required: bool = False) -> list[tuple[str, Any]]:
        """(path, element) pairs; an absent or null array is empty unless required."""
        value = self._required(key) if required else self._data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise wrong(self.at(key), "array", value)
        return [(f"{self.at(key)}[{i}]", item) for i, item in enumerate(value)]

    def objects(self, key: str, *, required: bool = False) -> Iterator[Obj]:
        for path, item in self.array(key, required=required):
            yield Obj(item, path)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._data.get(key)
        if value.__class__ is list and all(item.__class__ is str for item in value):
            return tuple(value)
        return tuple(as_str(item, path) for path, item in self.array(key))

    def integers(self, key: str, *, required: bool = False) -> tuple[int, ...]:
        return tuple(as_int(item, path) for path, item in self.array(key, required=required))

    def counts(self, key: str) -> tuple[int, ...]:
        return tuple(not_negative(as_int(item, path), path) for path, item in self.array(key))


def cursors(body: Obj) -> tuple[str | None, str | None]:
    """`pagination.next` and `pagination.previous` of a cursor page; both may be absent."""
    pagination = body.opt_child("pagination")
    if pagination is None:
        return None, None
    return pagination.opt_text("next"), pagination.opt_text("previous")


def cursor_page(body: object, label: str, parse_item: Callable[[Obj], T]) -> Page[T]:
    """A `{data: [...], pagination: {next?, previous?}}` list, each item parsed by `parse_item`."""
    root = Obj(body, label)
    items = tuple(parse_item(item) for item in root.objects("data", required=True))
    next_cursor, previous = cursors(root)
    return Page(items=items, next=next_cursor, previous=previous)
