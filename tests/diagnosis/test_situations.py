"""Situations of our own, beyond the shipped scenarios: what `triage --json` and `diagnose --json` say about each.

Each test builds its world with `situations.py` and states what an operator would call it. Both commands run
with the real client over the simulator's HTTP app. The last tests follow a recovery over simulated time and
check that triage's exit code never goes back to 1 once it reached 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.diagnosis.situations import SITUATIONS, World, world
from tui.sim.state import Plan

STUCK_SITUATIONS = {
    "pool-scaled-to-zero": "worker_pool_empty",
    "pool-gone-mid-pull": "worker_pool_empty",
    "pool-too-small": "worker_pool_undersized",
    "entity-down-holding-a-queue": "entity_backend_unreachable",
    "approvals-hold-a-queue": "waitpoint_without_resumer",
    "orphan-tokens": "waitpoint_without_resumer",
    "tokens-with-far-timeout": "waitpoint_without_resumer",
    "queue-paused-hours-ago": "queue_paused",
    "blocked-by-silent-runs": "long_running_blocker",
    "queue-gone": "run_orphaned",
    "cap-too-low": "concurrency_at_cap",
}
HEALTHY_LOOK_ALIKES = ("progressing-long-run", "one-slow-call", "slow-entity-answering", "token-times-out-later",
                       "resumed-a-moment-ago", "burst-draining")


def _queued_ids(w: World, stored: str) -> list[str]:
    return [r.friendly for r in w.engine.order if r.queue == stored and r.status == "PENDING"]


@pytest.mark.parametrize("name", sorted(STUCK_SITUATIONS))
async def test_each_stall_is_named_by_triage_and_by_diagnose(name: str) -> None:
    cause = STUCK_SITUATIONS[name]
    async with world() as w:
        SITUATIONS[name](w)
        code, data = await w.triage()
        assert code == 1
        assert [f["cause"] for f in data["findings"]] == [cause], [f["summary"] for f in data["findings"]]
        [finding] = data["findings"]
        assert finding["runs"], finding
        assert set(data["runs"]) == {r for f in data["findings"] for r in f["runs"]}
        # Triage and diagnose agree: the finding's oldest runs are diagnosed with the same cause.
        for run_id in finding["runs"][:3] + finding["runs"][-2:]:
            diagnosis = await w.diagnose(run_id)
            assert diagnosis["cause"] == cause, diagnosis["summary"]


@pytest.mark.parametrize("name", HEALTHY_LOOK_ALIKES)
async def test_healthy_look_alikes_raise_no_finding(name: str) -> None:
    async with world() as w:
        made = SITUATIONS[name](w)
        code, data = await w.triage()
        assert (code, data["findings"]) == (0, []), [f["summary"] for f in data["findings"]]
        for run in made if isinstance(made, list) else [made] if made is not None else []:
            diagnosis = await w.diagnose(run.friendly)
            assert diagnosis["cause"] == "not_stuck", diagnosis["summary"]


async def test_a_queued_run_behind_hung_holders_gets_the_holders_root_cause() -> None:
    async with world() as w:
        SITUATIONS["entity-down-holding-a-queue"](w)
        _, data = await w.triage()
        [finding] = data["findings"]
        waiting = [r for r in _queued_ids(w, "task/sync-crm") if r in finding["runs"]]
        assert waiting, "no queued sync-crm run in the finding"
        diagnosis = await w.diagnose(waiting[0])
        assert diagnosis["cause"] == "entity_backend_unreachable" and diagnosis["entity"] == "crm"
        assert "long_running_blocker" in diagnosis["also_true"]
        chain = next(s for s in diagnosis["path"] if s["check"].startswith("Slot holders"))
        assert chain["outcome"] == "yes"
        holders = [r.friendly for r in w.runs("sync-crm", "EXECUTING")]
        assert set(holders) <= set(diagnosis["runs"]), "the diagnosis names the holders"
        assert any(h in chain["evidence"][0] for h in holders)


async def test_time_in_status_counts_from_the_latest_resume() -> None:
    async with world() as w:
        run = SITUATIONS["resumed-a-moment-ago"](w)
        diagnosis = await w.diagnose(run.friendly)
        assert re.search(r"EXECUTING for \d+ s", diagnosis["summary"]), diagnosis["summary"]


async def test_progress_is_life_but_silence_past_the_window_is_not() -> None:
    async with world() as w:
        alive = SITUATIONS["progressing-long-run"](w)
        diagnosis = await w.diagnose(alive.friendly)
        assert diagnosis["cause"] == "not_stuck" and "trace moved" in diagnosis["summary"]
        alive.plan = Plan(duration=math.inf)  # the steps stop: the trace goes quiet
        alive.phase_end = None
        leaf = w.engine._open_leaf(alive)
        assert leaf is not None
        leaf.end = w.engine.now
        w.advance(20 * 60)
        diagnosis = await w.diagnose(alive.friendly)
        assert diagnosis["cause"] != "not_stuck", diagnosis["summary"]
        assert any(r["action"] == "cancel" for r in diagnosis["recovery"])


async def test_one_slow_call_is_no_entity_verdict_but_many_silent_calls_are() -> None:
    async with world() as w:
        SITUATIONS["one-slow-call"](w)
        _, data = await w.triage()
        assert not [f for f in data["findings"] if f["cause"] == "entity_backend_unreachable"]
        w.engine.entities_down.add("crm")  # now every new call to crm hangs too, and none completes
        w.advance(6 * 60)
        _, data = await w.triage()
        [entity] = [f for f in data["findings"] if f["cause"] == "entity_backend_unreachable"]
        counts = re.search(r"(\d+) runs hung calling entity `crm` \((\d+) open calls", entity["summary"])
        assert counts and int(counts.group(1)) > 1, entity["summary"]


async def test_a_token_that_times_out_later_shows_when() -> None:
    async with world() as w:
        runs = SITUATIONS["token-times-out-later"](w)
        diagnosis = await w.diagnose(runs[0].friendly)
        assert diagnosis["cause"] == "not_stuck" and re.search(r"times out in \d+ h", diagnosis["summary"])


async def test_queued_runs_in_no_listed_queue_say_so() -> None:
    async with world() as w:
        runs = SITUATIONS["queue-gone"](w)
        _, data = await w.triage()
        [finding] = data["findings"]
        assert {r.friendly for r in runs} <= set(finding["runs"])
        assert finding["cause"] == "run_orphaned"
        assert any("no listed queue holds it" in e for e in finding["evidence"])
        diagnosis = await w.diagnose(runs[0].friendly)
        assert diagnosis["cause"] == "run_orphaned"
        assert all(r["action"] in ("cancel", None) for r in diagnosis["recovery"]), "repair cannot see it"


async def test_a_queue_level_finding_without_runs_says_why() -> None:
    async with world() as w:
        w.engine.queues["task/process-video"].paused = True
        w.advance(60)  # paused a minute ago: runs wait, none past the window yet
        _, data = await w.triage()
        [paused] = data["findings"]
        assert paused["cause"] == "queue_paused" and paused["runs"] == [] and paused["runs_note"]


def _scale(w: World) -> None:
    w.engine.workers = 6


def _override(w: World) -> None:
    w.engine.queues["task/agent-turn"].override_limit = 10


def _approve_all(w: World) -> None:
    e = w.engine
    for token in list(e.tokens.values()):
        if token.status == "PENDING":
            e.complete_token(token, '{"approved": true}')
    e.auto_resolve = 90.0
    e.tasks["approve-order"].plan = lambda rng: Plan(duration=2.0, wait_token=True)


@pytest.mark.parametrize(
    ("name", "recover"),
    [("pool-scaled-to-zero", _scale), ("cap-too-low", _override), ("approvals-hold-a-queue", _approve_all)],
)
async def test_triage_does_not_flap_while_the_environment_recovers(
    name: str, recover: Callable[[World], Any]
) -> None:
    async with world() as w:
        SITUATIONS[name](w)
        codes = [(await w.triage())[0]]
        recover(w)
        for _ in range(30):
            w.advance(40)
            codes.append((await w.triage())[0])
        text = "".join(map(str, codes))
        assert text.startswith("1") and text.endswith("0"), text
        assert "01" not in text, f"triage flapped while {name} recovered: {text}"


@pytest.mark.parametrize(("scenario", "name"), [("incident", None), ("healthy", "pool-too-small"),
                                               ("healthy", "burst-draining"), ("healthy", "cap-too-low")])
async def test_triage_and_diagnose_give_one_answer_for_every_run(scenario: str, name: str | None) -> None:
    """A run is in triage's runs exactly when `diagnose` says it is stuck, and for the same cause."""
    async with world(scenario) as w:
        if name is not None:
            SITUATIONS[name](w)
        _, data = await w.triage()
        causes = {r: f["cause"] for f in data["findings"] for r in f["runs"]}
        active = [r.friendly for r in w.engine.order if r.status in ("PENDING", "DEQUEUED", "EXECUTING",
                                                                       "WAITING_TO_RESUME")]
        for run_id in active[:: max(1, len(active) // 15)]:
            diagnosis = await w.diagnose(run_id)
            expected = causes.get(run_id, "not_stuck")
            assert diagnosis["cause"] == expected, (run_id, diagnosis["summary"])
