"""A new triage need not re-judge every run: `Scene.changed_from` names every run whose verdict may differ."""

from __future__ import annotations

import pytest

from tests.simclient import sim
from tui.config import Thresholds
from tui.diagnosis.gather import gather_environment_facts
from tui.diagnosis.scene import Scene
from tui.model import ACTIVE_STATUSES

TH = Thresholds()


async def scene_of(world: object) -> Scene:
    async with world.client() as client:  # type: ignore[attr-defined]
        return Scene.of(await gather_environment_facts(client, TH, world.now), TH)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("scenario", "change"),
    [
        ("worker-pool-zero", lambda e: e.scale_workers(12)),  # the pool comes back: backlogs drain
        ("queue-paused", lambda e: e.pause_queue(e.queues["task/process-video"], False)),
        ("incident", lambda e: e.scale_workers(12)),
        ("orphan-waitpoint", lambda e: None),
    ],
)
async def test_every_run_judged_differently_by_the_next_triage_is_named(scenario: str, change: object) -> None:
    world = sim(scenario)
    before = await scene_of(world)
    change(world.engine)  # type: ignore[operator]
    world.engine.advance(300.0)
    after = await scene_of(world)
    changed = after.changed_from(before)
    assert changed is not None
    runs, queues = changed
    async with world.client() as client:
        active = (await client.list_runs(statuses=ACTIVE_STATUSES, page_size=100, fill=3)).items
    now = world.now
    differ = [r for r in active if before.judge(r, now) != after.judge(r, now)]
    assert differ, "the change moved no verdict: the test would prove nothing"
    missed = [r.id for r in differ if r.id not in runs and after.queue_name(r) not in queues]
    assert missed == []
