"""Pretty, syntax-coloured JSON that truncates before highlighting and never interprets markup."""

from __future__ import annotations

import json
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import HighlightTheme, highlight
from textual.widgets import Static

from tui.model import JSON
from tui.model.text import clean_multiline

DEFAULT_LIMIT_BYTES = 20_000


def human_bytes(size: int) -> str:
    """1.2 MB, 20 KB, 512 B (decimal units, as operators read them)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} B"


@dataclass(frozen=True, slots=True)
class JsonPreview:
    """Terminal-safe pretty JSON, possibly cut; build it with `prepare_json` (off the UI thread if big)."""

    text: str
    total_bytes: int
    shown_bytes: int
    truncated: bool

    @property
    def marker(self) -> str | None:
        if not self.truncated:
            return None
        return f"… {human_bytes(self.total_bytes)} total, first {human_bytes(self.shown_bytes)} shown"


def prepare_json(value: JSON, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> JsonPreview:
    """Pretty-print at most about `limit_bytes` of `value`, without ever formatting the whole of a big value.

    The total is the compact encoding's size (C encoder, fast); the pretty text comes from the lazy
    Python encoder, which is abandoned as soon as enough text has been produced.
    """
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    total = len(compact.encode("utf-8", errors="replace"))
    del compact
    chunks: list[str] = []
    size = 0
    truncated = False
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    for chunk in encoder.iterencode(value):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit_bytes:
            truncated = True
            break
    text = "".join(chunks)
    if truncated:
        text = text[:limit_bytes]
        cut = text.rfind("\n")
        if cut > limit_bytes // 2:
            text = text[:cut]
    safe = clean_multiline(text)
    shown = len(safe.encode("utf-8", errors="replace"))
    return JsonPreview(text=safe, total_bytes=total, shown_bytes=shown, truncated=truncated)


class _JsonTheme(HighlightTheme):
    """Theme-variable colours; a truncated tail is not flagged as a syntax error."""

    STYLES = {key: ("" if tuple(key) == ("Error",) else style) for key, style in HighlightTheme.STYLES.items()}


def highlight_json(text: str) -> Content:
    """Colour already-cleaned JSON text; the result is literal content (no markup)."""
    return highlight(text, language="json", theme=_JsonTheme)


class JsonView(VerticalScroll):
    """Shows one JSON value (or a plain note when there is none), with a truncation marker."""

    DEFAULT_CSS = """
    JsonView { height: 1fr; padding: 0 1; }
    JsonView > .json-view--body { width: auto; }
    JsonView > .json-view--marker { dock: top; color: $warning; text-style: bold; }
    JsonView > .json-view--note { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: JsonPreview | None = None
        self._note: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content("—"), classes="json-view--note")
        yield Static(classes="json-view--marker")
        yield Static(classes="json-view--body")

    @property
    def preview(self) -> JsonPreview | None:
        """What is shown now (None when a note is shown instead)."""
        return self._shown

    @property
    def marker_text(self) -> str | None:
        return None if self._shown is None else self._shown.marker

    def show(self, preview: JsonPreview) -> None:
        """Show `preview`; does nothing when it is what is already shown (no flicker on polls)."""
        if self._shown == preview and self._note is None:
            return
        self._shown, self._note = preview, None
        self.query_one(".json-view--note", Static).display = False
        body = self.query_one(".json-view--body", Static)
        body.update(highlight_json(preview.text))
        body.display = True
        marker = self.query_one(".json-view--marker", Static)
        marker.update(Content(preview.marker or ""))
        marker.display = preview.truncated

    def show_note(self, note: str) -> None:
        """Show a plain sentence instead of JSON (for example "no payload")."""
        if self._note == note and self._shown is None:
            return
        self._shown, self._note = None, note
        note_widget = self.query_one(".json-view--note", Static)
        note_widget.update(Content(clean_multiline(note)))
        note_widget.display = True
        self.query_one(".json-view--body", Static).display = False
        self.query_one(".json-view--marker", Static).display = False
