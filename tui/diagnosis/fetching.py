"""Fetching that tolerates failure: notes of what could not be learnt, and a bounded fan-out of calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from tui.api.errors import ApiError, ConfigurationError

T = TypeVar("T")
U = TypeVar("U")

PARALLEL = 8
"""Requests in flight at once; the client's budget (and its burst cap) still paces them."""


class Notes:
    """Collects what could not be learnt, so a finding can say what it did not see."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def attempt(self, what: str, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except ConfigurationError as exc:
            self.lines.append(f"{what} skipped: {exc}")
        except ApiError as exc:
            self.lines.append(f"{what} failed: {exc}")
        return None


async def bounded(items: Iterable[U], call: Callable[[U], Awaitable[T]]) -> list[T]:
    """`call` each item with at most PARALLEL in flight; results in order.

    A call starts only once it has a slot, so a cancelled gather leaves no coroutine behind unawaited.
    """
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item: U) -> T:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
