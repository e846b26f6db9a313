"""Answers read before, byte for byte: the same bytes are not decoded and parsed again.

A pane that polls a quiet environment gets the same page every few seconds, and a triage reads the same traces
each minute; decoding and parsing them is most of what a poll costs. The bytes themselves are the key, so an
answer that differs in any byte (whichever request it came from) is read afresh, and a value parsed from it is
what parsing those bytes gives. Parsed values are frozen models, shared by whoever reads the same bytes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MEMO_BYTES = 2 * 1024 * 1024
"""Bytes of answers remembered (the newest used first): more than a minute of a 10,000-run pane's polls and the
triage it asks for (about 1.2 MB of answers that differ, at 1,000 queues)."""
LARGEST_SHARE = 8
"""An answer larger than this share of the memo is not kept: one huge answer would push out all the others."""
IDLE_SECONDS = 120.0
"""An answer not read again for this long is let go: two triages' worth. Answers read once (a trace of a run
that moved since, a page that changed) would otherwise fill the memo over an hour, eight times their bytes in
parsed values, and the console would grow for that hour."""
MISSING: Any = object()


class AnswerMemo:
    """The parsed value of each answer's bytes, per parser, least recently used dropped first."""

    def __init__(
        self,
        max_bytes: int = MEMO_BYTES,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._values: OrderedDict[tuple[bytes, Callable[[Any], Any]], tuple[Any, float]] = OrderedDict()
        """Each answer's value and when it was last read, least recently read first."""
        self._bytes = 0
        self._max = max_bytes
        self._idle = idle_seconds
        self._clock = clock

    def get(self, content: bytes, parser: Callable[[Any], Any]) -> Any:
        """What `parser` made of these bytes before, or MISSING."""
        key = (content, parser)
        known = self._values.get(key)
        if known is None:
            return MISSING
        self._values[key] = (known[0], self._clock())
        self._values.move_to_end(key)
        return known[0]

    def put(self, content: bytes, parser: Callable[[Any], Any], value: Any) -> None:
        now = self._clock()
        values = self._values
        # The least recently read come first: drop those idle too long.
        while values:
            (oldest, _), (_, read) = next(iter(values.items()))
            if now - read <= self._idle:
                break
            values.popitem(last=False)
            self._bytes -= len(oldest)
        if len(content) * LARGEST_SHARE > self._max or (content, parser) in values:
            return
        values[(content, parser)] = (value, now)
        self._bytes += len(content)
        while self._bytes > self._max:
            (dropped, _), _ = values.popitem(last=False)
            self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._values)
