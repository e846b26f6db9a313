"""The per-profile request budget: a token bucket every request waits on, and a meter of what was sent.

Every client of an environment shares the server's rate-limit bucket (API.md §2.2), so during an incident
the TUI must not starve the platform it inspects. When the server says its bucket is running low
(`x-ratelimit-remaining` under 20% of `x-ratelimit-limit`) the budget halves until the bucket recovers.

Work the user asked for (a triage, a diagnosis) runs inside `burst()`: its requests skip the sustained rate, at
most `BURST_IN_FLIGHT` at once, and fall back to the sustained rate before they could take the server's bucket
to half (the server's bucket is large, API.md §2.2; the sustained rate protects it from background polling).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SLOW_BELOW = 0.2
"""Slow down when remaining / limit falls under this fraction."""
RECOVER_AT = 0.3
"""Speed up again once remaining / limit is back at or above this (a gap, so the rate does not flap)."""
BURST_IN_FLIGHT = 8
"""At most this many requests of burst scopes are in flight at once (per budget)."""


@dataclass(slots=True)
class BurstTally:
    """What one `burst()` scope sent: every HTTP attempt, retries included, from the scope and its tasks."""

    requests: int = 0


class RequestBudget:
    """Token bucket (`rate` requests/s sustained, `burst` at once); a rate of None or 0 means unlimited."""

    def __init__(
        self,
        rate: float | None = 2.0,
        burst: int = 4,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        window: float = 10.0,
    ) -> None:
        self._rate = rate if rate is not None and rate > 0 else None
        self._burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._window = window
        self._tokens = float(self._burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self._sent: deque[float] = deque()
        self._burst_sent: deque[float] = deque()
        """When each request of a burst scope was sent (also in `_sent`): the rate the budget did not pace."""
        # One variable per budget, so a burst on one profile's client never speeds up another's.
        self._scopes: ContextVar[tuple[BurstTally, ...]] = ContextVar(f"burst-{id(self)}", default=())
        self._burst_slots = asyncio.Semaphore(BURST_IN_FLIGHT)
        self._burst_in_flight = 0
        self.slowed = False
        self.remaining: int | None = None
        self.limit: int | None = None

    @property
    def rate(self) -> float | None:
        """The configured sustained rate (requests/s), None when unlimited."""
        return self._rate

    @property
    def effective_rate(self) -> float | None:
        """The rate in force now: halved while the server's bucket is low."""
        if self._rate is None:
            return None
        return self._rate / 2 if self.slowed else self._rate

    @property
    def slowdown(self) -> float:
        """Factor by which polling screens should stretch their intervals (1.0 normally, 2.0 when slowed)."""
        return 2.0 if self.slowed else 1.0

    @property
    def bursting(self) -> bool:
        """True inside a `burst()` scope of this budget (including tasks created inside one)."""
        return bool(self._scopes.get())

    def burst(self) -> _BurstScope:
        """A scope whose requests skip the sustained rate; see the module docstring.

        Nested scopes each get their own tally and a request counts in every enclosing one. Tasks created
        inside the scope inherit it (a context copy) and keep bursting until they end, even after the block.
        """
        return _BurstScope(self._scopes)

    async def acquire(self) -> None:
        """Wait until the sustained budget allows one more request, then count it as sent."""
        await self._take_token()
        self._sent.append(self._clock())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold for the whole of one HTTP attempt: paced outside a burst scope, capped in flight inside one."""
        scopes = self._scopes.get()
        if not scopes:
            await self.acquire()
            yield
            return
        async with self._burst_slots:
            if self._headroom_low():
                await self._take_token()
            self._sent.append(self._clock())
            self._burst_sent.append(self._sent[-1])
            for tally in scopes:
                tally.requests += 1
            self._burst_in_flight += 1
            try:
                yield
            finally:
                self._burst_in_flight -= 1

    def _headroom_low(self) -> bool:
        # Before any header the in-flight cap alone bounds the burst.
        if self.remaining is None or self.limit is None:
            return False
        return self.remaining - self._burst_in_flight <= self.limit / 2

    async def _take_token(self) -> None:
        if self._rate is None:
            return
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                rate = self.effective_rate or 1.0
                await self._sleep((1.0 - self._tokens) / rate)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(float(self._burst), self._tokens + elapsed * (self.effective_rate or 0.0))

    def observe(self, remaining: int | None, limit: int | None) -> None:
        """Take in the server's rate-limit headers from a response (absent on admin paths)."""
        if remaining is None or limit is None or limit <= 0:
            return
        self.remaining, self.limit = remaining, limit
        fraction = remaining / limit
        if fraction < SLOW_BELOW:
            if not self.slowed:
                self._refill()  # tokens earned at the old rate stay earned
            self.slowed = True
        elif fraction >= RECOVER_AT:
            if self.slowed:
                self._refill()
            self.slowed = False

    def measured_rate(self) -> float:
        """Requests actually sent per second over the last `window` seconds."""
        cutoff = self._clock() - self._window
        while self._sent and self._sent[0] < cutoff:
            self._sent.popleft()
        return len(self._sent) / self._window

    def measured_burst_rate(self) -> float:
        """The part of `measured_rate` sent inside burst scopes, which skip the sustained rate (a triage)."""
        cutoff = self._clock() - self._window
        while self._burst_sent and self._burst_sent[0] < cutoff:
            self._burst_sent.popleft()
        return len(self._burst_sent) / self._window


class _BurstScope:
    """`async with budget.burst() as tally:` sets the budget's scope variable for the block."""

    def __init__(self, scopes: ContextVar[tuple[BurstTally, ...]]) -> None:
        self._scopes = scopes
        self.tally = BurstTally()
        self._token: Token[tuple[BurstTally, ...]] | None = None

    async def __aenter__(self) -> BurstTally:
        self._token = self._scopes.set((*self._scopes.get(), self.tally))
        return self.tally

    async def __aexit__(self, *exc_info: object) -> None:
        if self._token is not None:
            self._scopes.reset(self._token)
            self._token = None
