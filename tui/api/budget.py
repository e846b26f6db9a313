"""The per-profile request budget: a token bucket every request waits on, and a meter of what was sent.

Every client of an environment shares the server's rate-limit bucket (API.md §2.2), so during an incident
the TUI must not starve the platform it inspects. When the server says its bucket is running low
(`x-ratelimit-remaining` under 20% of `x-ratelimit-limit`) the budget halves until the bucket recovers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

SLOW_BELOW = 0.2
"""Slow down when remaining / limit falls under this fraction."""
RECOVER_AT = 0.3
"""Speed up again once remaining / limit is back at or above this (a gap, so the rate does not flap)."""


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

    async def acquire(self) -> None:
        """Wait until the budget allows one more request, then count it as sent."""
        if self._rate is not None:
            async with self._lock:
                while True:
                    self._refill()
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        break
                    rate = self.effective_rate or 1.0
                    await self._sleep((1.0 - self._tokens) / rate)
        self._sent.append(self._clock())

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
