"""The read-only guard that the client consults before every mutation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class WriteGuard:
    """Read-only unless elevated; an elevation lapses by itself at `until` (monotonic seconds)."""

    read_only: bool = True
    until: float | None = None
    reason: str | None = None
    clock: Callable[[], float] = time.monotonic

    def allows_writes(self) -> bool:
        if not self.read_only:
            return True
        return self.until is not None and self.clock() < self.until

    def elevate(self, seconds: float, reason: str) -> None:
        """Allow writes for `seconds` from now, remembering why (for the audit log)."""
        self.until = self.clock() + seconds
        self.reason = reason

    def drop(self) -> None:
        """Return to read-only now."""
        self.until = None
        self.reason = None

    def seconds_left(self) -> float | None:
        """Seconds of write elevation left, or None when not elevated."""
        if self.until is None:
            return None
        left = self.until - self.clock()
        return left if left > 0 else None
