"""How every screen writes a duration (`45 s`, `18 m`, `2 h 5 m`, `3 d 4 h`), and how stored times read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def duration(value: timedelta | float, *, fine: bool = True) -> str:
    """`850 ms`, `4.2 s`, `45 s`, `18 m`, `2 h 5 m`, `3 d 4 h`: the one way every screen writes a duration.

    `fine` adds tenths and milliseconds below ten seconds (span durations); the diagnosis writes whole seconds.
    Screens, widgets, confirmations and findings all write durations with this.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0.0, seconds)
    if fine and 0 < seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if fine and 0 < seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def whole_duration(seconds: float) -> str:
    """`duration` in whole seconds (the same with `fine` or without), remembered by what it shows: the runs pane
    and the verdicts write thousands a refresh, from a few thousand distinct texts."""
    whole = int(seconds) if seconds > 0 else 0
    if whole >= 60:
        whole -= whole % (60 if whole < 48 * 3_600 else 3_600)  # the minutes (the hours after two days) it shows
    text = _WHOLE.get(whole)
    if text is None:
        if len(_WHOLE) >= 10_000:
            _WHOLE.clear()
        text = _WHOLE[whole] = duration(whole)
    return text


_WHOLE: dict[int, str] = {}


def parse_utc(text: object) -> datetime | None:
    """An ISO time this console wrote (`…Z` or with an offset; UTC when it names none), or None if it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
