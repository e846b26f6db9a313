"""Saved searches in a profile, every profile by name, and a profile taken as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_config import DEV_KEY, cfg, write
from tui.config import ConfigError, load_profile, load_settings, profile_names

__all__ = ["cfg"]

SEARCHES = f"""default_profile = "b"
[profiles.a]
url = "https://a.example.com"
secret_key = "{DEV_KEY}"
[profiles.b]
url = "https://b.example.com"
secret_key = "{DEV_KEY}"
[profiles.b.searches]
stuck-emails = ":task send-email :status DEQUEUED :window 2h"
vip = ":tag customer:acme,vip"
"""


def test_saved_searches_load_in_order(cfg: Path) -> None:
    write(cfg, SEARCHES)
    settings = load_settings()
    assert settings is not None and settings.profile == "b"
    assert settings.searches == (
        ("stuck-emails", ":task send-email :status DEQUEUED :window 2h"),
        ("vip", ":tag customer:acme,vip"),
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('broken = ":status RUNNING"', "search broken: unknown status RUNNING"),
        ('broken = ":window soon"', "search broken: not a window"),
        ('broken = "task x"', "search broken: a search is :NAME VALUE"),
        ('broken = ":key order-1"', "no idempotency-key filter"),
        ("broken = 3", "search broken must be a string"),
        ('"two words" = ":tag x"', "search name 'two words'"),
    ],
)
def test_a_bad_search_names_the_file_and_line(cfg: Path, line: str, problem: str) -> None:
    write(cfg, SEARCHES + line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert str(cfg) in message and problem in message and "\n" not in message
    if not line.startswith('"'):
        assert ":line 11" in message


def test_every_profile_by_name_default_first(cfg: Path) -> None:
    write(cfg, SEARCHES)
    assert profile_names() == ["b", "a"]


def test_a_named_profile_is_taken_as_written(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(cfg, SEARCHES)
    monkeypatch.setenv("PLATOS_API_URL", "https://env.example.com")
    assert load_settings() is not None and load_settings().url == "https://env.example.com"  # type: ignore[union-attr]
    assert load_profile("a").url == "https://a.example.com"
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        load_profile("nope")
