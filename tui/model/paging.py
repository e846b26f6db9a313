"""Cursor pages of list results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list; `next` fetches older items."""

    items: tuple[T, ...]
    next: str | None = None
    previous: str | None = None
