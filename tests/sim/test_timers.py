"""The due-time heaps behind the simulator's tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.sim.timers import Alarms, Schedule

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_alarm_moves_earlier_but_never_later() -> None:
    alarms = Alarms()
    alarms.set("a", at(10))
    alarms.set("a", at(20))  # ignored: whoever wakes at 10 arms again for 20
    alarms.set("b", at(5))
    alarms.set("b", at(1))
    assert alarms.due(at(0)) == []
    assert alarms.due(at(10)) == ["b", "a"]
    assert alarms.due(at(100)) == []  # the superseded entries (b at 5, a at 20) wake nobody


def test_a_schedule_wakes_a_key_only_while_its_time_has_come() -> None:
    times = Schedule()
    times["a"] = at(10)
    times["a"] = at(30)
    times.setdefault("b", at(5))
    times.setdefault("b", at(50))  # already set: unchanged
    times["c"] = at(1)
    times.pop("c")
    assert dict(times) == {"a": at(30), "b": at(5)}
    assert times.due(at(20)) == ["b"]
    assert times.due(at(40)) == ["a"]
    times.clear()
    times["d"] = at(60)
    assert times.due(at(60)) == ["d"] and "d" in times
