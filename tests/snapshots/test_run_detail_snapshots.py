"""SVG snapshots of the run detail screen at 120x40 and 80x24, against the fake client with a frozen clock."""

from __future__ import annotations

import time

import pytest
from textual.pilot import Pilot

from tests.app.fake_detail_client import DetailHost, FakeDetailClient
from tui.screens.run_detail import RunDetailScreen


async def _loaded(pilot: Pilot[None]) -> None:
    deadline = time.monotonic() + 5
    while not (isinstance(pilot.app.screen, RunDetailScreen) and pilot.app.screen.polls > 0):
        assert time.monotonic() < deadline, "run detail never loaded"
        await pilot.pause(0.02)
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_stuck_run_trace(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(
        DetailHost(FakeDetailClient(), "run_stuck", refresh=30), terminal_size=size, run_before=_loaded
    )


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_waiting_run_with_token_panel(snap_compare, size: tuple[int, int]) -> None:
    async def open_token(pilot: Pilot[None]) -> None:
        await _loaded(pilot)
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(
        DetailHost(FakeDetailClient(), "run_wait", refresh=30), terminal_size=size, run_before=open_token
    )


def test_failed_run_output_tab_80x24(snap_compare) -> None:
    async def output_tab(pilot: Pilot[None]) -> None:
        await _loaded(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause(0.1)

    assert snap_compare(
        DetailHost(FakeDetailClient(), "run_failed"), terminal_size=(80, 24), run_before=output_tab
    )
