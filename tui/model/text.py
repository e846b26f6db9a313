"""Make untrusted server strings safe for a terminal: no control or escape characters survive."""

from __future__ import annotations

import re

# C0 controls (except none: tabs and newlines are flattened too), DEL, C1 controls, and bidi overrides
# that could disguise text. Each is shown as a visible replacement, never passed to the terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in "\t\n\r":
        return " "
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" for C0, e.g. ␛ for ESC
    return "\ufffd"


def clean(text: str, limit: int | None = None) -> str:
    """Return `text` with control characters replaced by visible symbols, cut to `limit` chars with an ellipsis."""
    safe = _UNSAFE.sub(_visible, text)
    if limit is not None and len(safe) > limit:
        return safe[: max(0, limit - 1)] + "…"
    return safe


def clean_multiline(text: str) -> str:
    """Like `clean`, but keeps newlines (for JSON and stack traces shown in a block)."""
    return "\n".join(clean(line) for line in text.split("\n"))
