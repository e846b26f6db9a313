"""The official Trigger.dev SDK (npm `@trigger.dev/sdk` 4.x) accepts everything the simulator returns.

Needs Node.js and npm; where they are missing the test is skipped, since the rest of the suite needs only Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from platformdirs import user_cache_dir

from tui.sim.server import SimOptions, start_in_background

HERE = Path(__file__).parent


SDK_FILES = ("package.json", "check.mjs", "real.mjs")
FRESH_FOR = 24 * 3600
"""An installed SDK is reused for a day, by every xdist worker and every run (package.json asks for the newest 4.x,
so a day later the next run installs again)."""


def installed_sdk() -> Path:
    """node_modules with the SDK package.json asks for, installed at most once a day per package.json.

    Kept under the user's cache directory (`PLATOS_TUI_TEST_CACHE` overrides it): an install takes 9 s of CPU, and
    xdist workers may each need it. An install goes to its own directory first and is renamed into place, so
    concurrent workers never see half of one.
    """
    package = (HERE / "package.json").read_bytes()
    root = Path(os.environ.get("PLATOS_TUI_TEST_CACHE") or user_cache_dir("platos-tui-tests"))
    done = root / f"sdk-{hashlib.sha256(package).hexdigest()[:16]}"
    modules = done / "node_modules"
    if modules.is_dir() and time.time() - done.stat().st_mtime < FRESH_FOR:
        return modules
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sdk-install-", dir=root))
    try:
        (work / "package.json").write_bytes(package)
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work, capture_output=True, text=True, timeout=240, check=False,
        )
        assert result.returncode == 0, f"npm install failed: {result.stderr[-2000:]}"
        stale = root / f"{done.name}.stale-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            done.rename(stale)
        with contextlib.suppress(OSError):  # another worker's install landed first: use that one
            work.rename(done)
    finally:
        for leftover in (work, root / f"{done.name}.stale-{os.getpid()}"):
            shutil.rmtree(leftover, ignore_errors=True)
    return modules


@pytest.fixture(scope="module")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run the official SDK")
    work = tmp_path_factory.mktemp("sdk")
    for name in SDK_FILES:
        shutil.copy(HERE / name, work / name)
    (work / "node_modules").symlink_to(installed_sdk(), target_is_directory=True)
    return work


@pytest.mark.parametrize(
    ("scenario", "lag", "skew"), [("incident", 0.0, 0.0), ("queue-drift", 0.0, 0.0), ("incident", 5.0, -1200.0)]
)
def test_official_sdk_accepts_the_simulator(sdk_dir: Path, scenario: str, lag: float, skew: float) -> None:
    """The last case is the real server's run list (a lagging replica, short pages) and a clock 20 min behind."""
    sim = start_in_background(SimOptions(port=0, scenario=scenario, replica_lag=lag, clock_skew=skew))
    try:
        env = {**os.environ, "TRIGGER_API_URL": sim.url, "TRIGGER_SECRET_KEY": sim.secret_key}
        result = subprocess.run(
            ["node", "check.mjs"], cwd=sdk_dir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 failed" in result.stdout


REPLICA_LAG = 2.0
PREVIEW_KEY = "tr_preview_pl4tosprev1ewbranchkey1"


def test_official_sdk_meets_the_real_servers_behaviours(sdk_dir: Path) -> None:
    """Preview branch (401 without), restricted key (403), short pages with next set, 429 reset, unknown token 500.

    Repair-queues is an admin route the SDK does not call; its 500 is in tests/sim/test_conformance_real.py.
    """
    sim = start_in_background(SimOptions(port=0, scenario="incident", replica_lag=REPLICA_LAG))
    preview = start_in_background(SimOptions(port=0, scenario="healthy", secret_key=PREVIEW_KEY))
    try:
        env = {
            **{k: v for k, v in os.environ.items() if k not in BRANCH_VARIABLES},
            "TRIGGER_API_URL": sim.url,
            "TRIGGER_SECRET_KEY": sim.secret_key,
            "SCOPED_SECRET_KEY": sim.scoped_key,
            "SIM_ADMIN_TOKEN": sim.admin_token,
            "REPLICA_LAG": str(REPLICA_LAG),
            "PREVIEW_API_URL": preview.url,
            "PREVIEW_SECRET_KEY": preview.secret_key,
        }
        result = subprocess.run(
            ["node", "real.mjs"], cwd=sdk_dir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        sim.stop()
        preview.stop()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 failed" in result.stdout


BRANCH_VARIABLES = ("TRIGGER_PREVIEW_BRANCH", "VERCEL_GIT_COMMIT_REF", "TRIGGER_DEV_BRANCH")
"""Where the SDK would find a branch by itself: the check sets (or leaves out) the branch explicitly."""
