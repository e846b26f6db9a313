"""Make untrusted server strings safe for a terminal: no control or escape characters survive."""

from __future__ import annotations

import re

# C0 controls (tabs and newlines are flattened too), DEL and C1 controls; every format character (Unicode
# category Cf: zero-width spaces and joiners, bidi marks and overrides, U+FEFF, tag characters), the line and
# paragraph separators, and lone surrogates. Each is shown as a visible replacement, never passed to the
# terminal, so two names that look the same are the same. The Cf list is Unicode 15's; a test checks it
# against the running Python's table.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


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
