"""A triage of the same facts reads the same every time: no order may follow Python's per-process string hashing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["env-deadlock", "incident", "entity-offline", "resume-lost"]
SCRIPT = """
import asyncio, sys
from tests.simclient import sim
from tui.config import Thresholds
from tui.diagnosis.gather import gather_environment_facts
from tui.diagnosis.triage import triage

async def main() -> None:
    for name in sys.argv[1:]:
        world = sim(name)
        client = world.client()
        findings = triage(await gather_environment_facts(client, Thresholds(), world.now), Thresholds())
        print(name, repr(findings))
        await client.aclose()

asyncio.run(main())
"""


def _findings(seed: str, scenarios: list[str]) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *scenarios], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_findings_and_their_runs_are_in_the_same_order_whatever_the_hash_seed() -> None:
    first, second = _findings("1", SCENARIOS), _findings("2", SCENARIOS)
    assert first.count("Finding(") >= len(SCENARIOS)
    assert first == second
