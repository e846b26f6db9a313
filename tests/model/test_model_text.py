"""clean(): no server string reaches the terminal with a control, format or invisible character in it."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from tui.model.text import clean, clean_multiline

HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")


def test_every_control_and_format_character_is_made_visible() -> None:
    missed = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in HIDDEN and clean(f"a{chr(code)}b") == f"a{chr(code)}b"
    ]
    assert missed == [], f"clean() lets these through (Unicode {unicodedata.unidata_version}): {missed[:20]}"


@pytest.mark.parametrize(
    "sneaky",
    ["pay\u200bments", "pay\u200dments", "pay\u2060ments", "pay\ufeffments", "pay\u061cments", "pay\u200ements",
     "pay\u202ements", "pay\u2066ments", "pay\U000e0041ments", "pay\u00adments", "pay\u2028ments"],
)
def test_look_alike_names_stay_apart(sneaky: str) -> None:
    shown = clean(sneaky)
    assert shown != clean("payments") and shown == "pay\ufffdments"


def test_ordinary_text_is_untouched() -> None:
    for text in ("process-video", "naïve café", "日本語のキュー", "emoji 👍 ok", "Ελληνικά"):
        assert clean(text) == text
    assert clean_multiline("line one\nline\u200b two") == "line one\nline\ufffd two"
