"""How the server orders deployment versions and refuses a promote (API.md §9)."""

from __future__ import annotations


class PromoteRefused(ValueError):
    """A promote the server answers 400 to; the message is the real server's wording."""


def newer(version: str, than: str) -> bool:
    """Whether `version` sorts after `than`.

    The real server compares the date and the counter as text, so `20261204.10` counts as older than
    `20261204.9`; the simulator keeps that quirk rather than hide it.
    """
    date, _, number = version.partition(".")
    other_date, _, other_number = than.partition(".")
    return (date, number) > (other_date, other_number)
