"""The always-visible top bar: profile and environment, connection, data age, request rate, write access."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive

from tui.model.text import clean
from tui.widgets.line import TextLines


@dataclass(frozen=True, slots=True)
class TopBarState:
    """Everything the bar shows, already decided; the widget only lays it out."""

    profile: str = ""
    environment: str = ""
    production: bool = False
    demo: bool = False
    connection: str = "CONNECTING"
    freshness: str = "no data yet"
    stale: bool = False
    rate: str = ""
    access: str = ""
    polling_paused: bool = False
    error: str | None = None
    branch: str = ""
    """The preview branch, or a one-line hint when a preview key has none."""
    branch_missing: bool = False
    clock_skew: str = ""
    """`server clock −20 m` when the server's clock is notably off ours (ages follow the server's)."""


_CONNECTION_TONE = {
    "CONNECTED": "success",
    "RETRYING": "warning",
    "DISCONNECTED": "error",
    "UNAUTHORIZED": "error",
}


class TopBar(TextLines):
    """One line; lower-priority parts are dropped first when the terminal is narrow."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "topbar--error",
        "topbar--warning",
        "topbar--success",
        "topbar--muted",
        "topbar--badge",
        "topbar--accent",
    }
    DEFAULT_CSS = "TopBar { height: 1; }"

    state: reactive[TopBarState] = reactive(TopBarState, layout=False, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._built: tuple[TopBarState, int, Text] | None = None
        """The line last laid out, for the state and width it was laid out for: each tick compares it with the next."""

    def watch_state(self, old: TopBarState, new: TopBarState) -> None:
        """Repaint only the cells that read differently: the bar ticks each second ("updated 1 s ago"), and a
        terminal over SSH should be sent those few cells, not the whole line."""
        old_line, new_line = self._line(old), self._line(new)
        if old_line.spans == new_line.spans:
            # The same styles at the same places (a tick: only digits moved): the characters alone say what changed.
            before: Sequence[object] = old_line.plain
            after: Sequence[object] = new_line.plain
        else:
            before, after = _styled_cells(old_line), _styled_cells(new_line)
        if before == after:
            return
        start = 0
        while start < min(len(before), len(after)) and before[start] == after[start]:
            start += 1
        end = 0
        while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
            end += 1
        plain = new_line.plain
        x = cell_len(plain[:start])
        # Of equal length, only the cells that differ; else the rest of the line moved along.
        width = cell_len(plain[start : len(after) - end]) if len(before) == len(after) else self.size.width - x
        self.refresh(Region(x, 0, max(1, width), 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._built = None  # its tones came from the old styles

    def _tone(self, name: str) -> Style:
        return self.component_style(f"topbar--{name}") if name else Style()

    def drawn_from(self) -> TopBarState:
        return self.state

    def text_lines(self) -> list[Text]:
        return [self._line(self.state)]

    def _line(self, state: TopBarState) -> Text:
        width = self.size.width or 120
        built = self._built
        if built is not None and (built[0] is state or built[0] == state) and built[1] == width:
            return built[2]
        line = self._lay_out(state, width)
        if state is self.state:
            self._built = (state, width, line)
        return line

    def _lay_out(self, state: TopBarState, width: int) -> Text:
        # (priority, text, tone): priority 0 always stays; higher numbers go first when narrow.
        parts: list[tuple[int, str, str]] = [
            (
                0,
                f" {clean(state.profile, 24)} · {clean(state.environment, 20)}",
                "error" if state.production else "accent",
            ),
        ]
        if state.branch:
            parts.append((0, state.branch, "warning" if state.branch_missing else "accent"))
        if state.production:
            parts.append((0, "PRODUCTION", "error"))
        if state.demo:
            parts.append((0, "DEMO", "badge"))
        if state.connection:
            parts.append((0, state.connection, _CONNECTION_TONE.get(state.connection, "muted")))
        freshness = f"STALE {state.freshness}" if state.stale else state.freshness
        parts.append((1, freshness, "warning" if state.stale else "muted"))
        if state.clock_skew:
            parts.append((2, state.clock_skew, "warning"))
        if state.polling_paused:
            parts.append((0, "POLLING PAUSED", "warning"))
        if state.rate:
            parts.append((3, state.rate, "muted"))
        if state.access:
            parts.append((0, state.access, "warning" if state.access.startswith("WRITE") else "muted"))
        if state.error and (state.stale or state.connection != "CONNECTED"):
            parts.append((4, clean(state.error, 40), "error"))
        while cell_len(" │ ".join(text for _, text, _ in parts)) > width and any(p for p, _, _ in parts):
            worst = max(range(len(parts)), key=lambda i: (parts[i][0], i))
            del parts[worst]
        result = Text(no_wrap=True, overflow="ellipsis")
        for index, (_, text, tone) in enumerate(parts):
            if index:
                result.append(" │ ", style=self._tone("muted"))
            result.append(text, style=self._tone(tone))
        return result


def _styled_cells(text: Text) -> list[tuple[str, Style | str]]:
    """Each character of the line with its style, to compare two renderings of the bar."""
    styles: list[Style | str] = [""] * len(text.plain)
    for span in text.spans:
        for index in range(span.start, min(span.end, len(styles))):
            styles[index] = span.style
    return list(zip(text.plain, styles, strict=True))
