"""Each screen owns its keys: every recovery key is declared on one screen class, never on the app."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.screen import Screen

import tui.screens
from tests.app.actions_sim import rig, runs_pane
from tests.app.harness import wait_for
from tests.app.screen_text import screen_lines
from tui.app import PlatosApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.runs import RunsScreen

RECOVERY = {"mark", "cancel", "complete", "replay", "pause", "override", "reset", "repair"}


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


def screen_classes() -> list[type[Screen[object]]]:
    for module in pkgutil.iter_modules(tui.screens.__path__):
        importlib.import_module(f"tui.screens.{module.name}")
    found: list[type[Screen[object]]] = []
    todo: list[type[Screen[object]]] = list(Screen.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("tui.") and cls not in found:
            found.append(cls)
    return found


def own_bindings(cls: type[object]) -> list[Binding]:
    """The bindings a class declares itself (not those it inherits)."""
    declared = vars(cls).get("BINDINGS", [])
    assert all(isinstance(b, Binding) for b in declared), cls
    return list(declared)


def test_each_recovery_key_is_declared_on_exactly_one_screen_class_and_none_on_the_app() -> None:
    for binding in own_bindings(PlatosApp):
        name = binding.action.removeprefix("app.").partition("(")[0]
        assert name not in RECOVERY | {"act"}, binding
    owners: dict[str, list[str]] = {}
    actions: set[str] = set()
    for cls in screen_classes():
        for binding in own_bindings(cls):
            if binding.action not in RECOVERY:
                assert binding.action.partition("(")[0].removeprefix("app.") not in RECOVERY, (cls, binding)
                continue
            assert binding.id, (cls, binding)
            assert callable(getattr(cls, f"action_{binding.action}", None)), (cls, binding)
            owners.setdefault(binding.id, []).append(cls.__name__)
            actions.add(binding.action)
    assert actions == RECOVERY
    assert {binding_id: len(classes) for binding_id, classes in owners.items()} == dict.fromkeys(owners, 1), owners
    assert owners["runs.cancel"] == ["RunsScreen"] and owners["run_detail.replay"] == ["RunDetailScreen"]
    assert owners["queues.pause"] == ["QueuesScreen"] and owners["waitpoints.complete"] == ["WaitpointsScreen"]


async def test_a_profile_keymap_moves_a_recovery_key() -> None:
    async with rig("entity-offline", keymap=(("runs.cancel", "x"),)) as r:
        await runs_pane(r)
        await wait_for(r.pilot, lambda: "Cancel run" in screen_lines(r.app)[-1])
        assert " x Cancel run" in screen_lines(r.app)[-1]
        await r.pilot.press("c")
        await r.pilot.pause(0.2)
        assert isinstance(r.app.screen, RunsScreen)  # `c` no longer cancels here
        await r.pilot.press("x")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, ConfirmScreen))
        await r.pilot.press("n")
        await wait_for(r.pilot, lambda: isinstance(r.app.screen, RunsScreen))
        assert r.transport.posts() == []
