"""The layer rules hold at run time too: core packages import without pulling in Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "tui.model",
    "tui.api.client",
    "tui.config",
    "tui.diagnosis",
    "tui.actions",
    "tui.sim.server",
    "tui.journal.report",
    "tui.journal.sightings",
    "tui.doctor",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_simulator_is_independent_of_the_client() -> None:
    code = "import sys, tui.sim.server; print(sorted(m for m in sys.modules if m.startswith(('tui.api', 'tui.model'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
