"""Answers read before, byte for byte: the same bytes are not decoded and parsed again.

A pane that polls a quiet environment gets the same page every few seconds, and a triage reads the same traces
each minute; decoding and parsing them is most of what a poll costs. The bytes themselves are the key, so an
answer that differs in any byte (whichever request it came from) is read afresh, and a value parsed from it is
what parsing those bytes gives. Parsed values are frozen models, shared by whoever reads the same bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MEMO_BYTES = 2 * 1024 * 1024
"""Bytes of answers remembered (the newest used first): more than a minute of a 10,000-run pane's polls and the
triage it asks for (about 1.2 MB of answers that differ, at 1,000 queues)."""
LARGEST_SHARE = 8
"""An answer larger than this share of the memo is not kept: one huge answer would push out all the others."""
MISSING: Any = object()


class AnswerMemo:
    """The parsed value of each answer's bytes, per parser, least recently used dropped first."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self._values: OrderedDict[tuple[bytes, Callable[[Any], Any]], Any] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes

    def get(self, content: bytes, parser: Callable[[Any], Any]) -> Any:
        """What `parser` made of these bytes before, or MISSING."""
        key = (content, parser)
        value = self._values.get(key, MISSING)
        if value is not MISSING:
            self._values.move_to_end(key)
        return value

    def put(self, content: bytes, parser: Callable[[Any], Any], value: Any) -> None:
        if len(content) * LARGEST_SHARE > self._max or (content, parser) in self._values:
            return
        self._values[(content, parser)] = value
        self._bytes += len(content)
        while self._bytes > self._max:
            (dropped, _), _ = self._values.popitem(last=False)
            self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._values)
