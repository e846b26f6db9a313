"""The official Trigger.dev SDK (npm `@trigger.dev/sdk` 4.x) accepts everything the simulator returns.

Needs Node.js and npm; where they are missing the test is skipped, since the rest of the suite needs only Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tui.sim.server import SimOptions, start_in_background

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run the official SDK")
    work = tmp_path_factory.mktemp("sdk")
    for name in ("package.json", "check.mjs"):
        shutil.copy(HERE / name, work / name)
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, f"npm install failed: {result.stderr[-2000:]}"
    return work


@pytest.mark.parametrize("scenario", ["incident", "queue-drift"])
def test_official_sdk_accepts_the_simulator(sdk_dir: Path, scenario: str) -> None:
    sim = start_in_background(SimOptions(port=0, scenario=scenario))
    try:
        env = {**os.environ, "TRIGGER_API_URL": sim.url, "TRIGGER_SECRET_KEY": sim.secret_key}
        result = subprocess.run(
            ["node", "check.mjs"], cwd=sdk_dir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 failed" in result.stdout
