"""Due times in heaps, so that each tick of the simulated engine visits only what is due."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, MutableMapping
from datetime import datetime


class Alarms:
    """At most one pending wake-up per key: setting an earlier time moves it forward, a later one is ignored.

    Whoever is woken re-arms for its next due time, so a wake-up that comes early costs one look and no harm.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._armed: dict[str, datetime] = {}

    def set(self, key: str, when: datetime) -> None:
        armed = self._armed.get(key)
        if armed is not None and armed <= when:
            return
        self._armed[key] = when
        heapq.heappush(self._heap, (when, key))

    def due(self, now: datetime) -> list[str]:
        """Pop the keys whose wake-up is at or before `now`."""
        heap, armed, out = self._heap, self._armed, []
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            if armed.get(key) == when:  # a superseded entry stays in the heap until its time comes
                del armed[key]
                out.append(key)
        return out


class Schedule(MutableMapping[str, datetime]):
    """A mapping of key to due time that also knows, without a scan, which keys may have come due."""

    def __init__(self) -> None:
        self._times: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def __getitem__(self, key: str) -> datetime:
        return self._times[key]

    def __setitem__(self, key: str, when: datetime) -> None:
        self._times[key] = when
        heapq.heappush(self._heap, (when, key))

    def __delitem__(self, key: str) -> None:
        del self._times[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._times)

    def __len__(self) -> int:
        return len(self._times)

    def due(self, now: datetime) -> list[str]:
        """Pop the keys set to a time at or before `now` that still hold such a time (a key may come twice)."""
        heap, out = self._heap, []
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            when = self._times.get(key)
            if when is not None and when <= now:
                out.append(key)
        return out
