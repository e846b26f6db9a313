"""Stalls from real incidents: triage names each, `diagnose` agrees on the runs it names, look-alikes stay quiet,
and each recovery fits (a rollback target, one holder of a deadlock, never a repair for runs no queue counts)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.diagnosis.incident_situations import QUIET, STALLS
from tests.diagnosis.situations import world
from tui.actions.inputs import from_query


@pytest.mark.parametrize("name", sorted(STALLS))
async def test_each_incident_is_named_by_triage_and_by_diagnose(name: str) -> None:
    scenario, build, cause = STALLS[name]
    async with world(scenario) as w:
        build(w)
        code, data = await w.triage()
        assert code == 1
        causes = [f["cause"] for f in data["findings"]]
        assert causes[0] == cause, [f["summary"] for f in data["findings"]]
        assert cause not in causes[1:], "one finding per incident"
        finding = data["findings"][0]
        assert finding["runs"] and finding["evidence"] and finding["recovery"], finding
        for run_id in finding["runs"][:2] + finding["runs"][-2:]:
            diagnosis = await w.diagnose(run_id)
            assert diagnosis["cause"] == cause, diagnosis["summary"]


@pytest.mark.parametrize("name", sorted(QUIET))
async def test_incident_look_alikes_stay_quiet(name: str) -> None:
    async with world() as w:
        made = QUIET[name](w)
        code, data = await w.triage()
        assert (code, data["findings"]) == (0, []), [f["summary"] for f in data["findings"]]
        for run in made if isinstance(made, list) else [made] if made is not None and not isinstance(made, str) else []:
            diagnosis = await w.diagnose(run.friendly)
            assert diagnosis["cause"] == "not_stuck", diagnosis["summary"]


def _finding(data: dict[str, Any], cause: str) -> dict[str, Any]:
    return next(f for f in data["findings"] if f["cause"] == cause)


async def test_a_bad_deploy_offers_the_rollback_to_the_version_before_it_and_names_its_error() -> None:
    async with world("bad-deploy") as w:
        _, data = await w.triage()
        finding = _finding(data, "deployment_unrunnable")
        live = w.engine.version
        previous = [d.version for d in w.engine.deployments if d.version != live][-1]
        rollback = [r for r in finding["recovery"] if r["action"] == "rollback"]
        assert [r["target"] for r in rollback] == [previous] and rollback[0]["key"] == "b"
        [bulk] = [r for r in finding["recovery"] if r["action"] == "cancel_matching"]
        assert from_query(bulk["target"]).versions == (live,)
        assert any("ImagePullBackOff" in e for e in finding["evidence"])
        assert "worker_pool_empty" not in [f["cause"] for f in data["findings"]]
        assert "long_running_blocker" not in [f["cause"] for f in data["findings"]]
        locked = {r.friendly for r in w.engine.runs.values() if r.version == live and not r.final}
        assert set(finding["runs"]) & locked


async def test_a_deadlock_names_the_cycle_and_offers_to_cancel_one_holder_only() -> None:
    async with world("env-deadlock") as w:
        _, data = await w.triage()
        finding = _finding(data, "deadlock_at_env_limit")
        cancels = [r for r in finding["recovery"] if r["action"] == "cancel"]
        assert len(cancels) == 1
        parents = {r.friendly for r in w.engine.runs.values() if r.task == "fan-out" and r.status == "EXECUTING"}
        assert cancels[0]["target"] in parents
        assert sum(1 for e in finding["evidence"] if "waits on" in e) == len(parents)


async def test_an_orphan_is_never_offered_repair_queues() -> None:
    async with world("orphaned-run") as w:
        _, data = await w.triage()
        finding = _finding(data, "run_orphaned")
        assert {r["action"] for r in finding["recovery"]} == {"cancel"}


async def test_a_lost_resume_is_not_a_missing_resumer() -> None:
    async with world("resume-lost") as w:
        _, data = await w.triage()
        assert "waitpoint_without_resumer" not in [f["cause"] for f in data["findings"]]
        finding = _finding(data, "resume_lost")
        assert any("COMPLETED" in e for e in finding["evidence"])


async def test_a_zombie_cites_its_last_span_and_memory_pressure() -> None:
    async with world("worker-crashed") as w:
        _, data = await w.triage()
        finding = _finding(data, "worker_crashed")
        assert any(e.startswith("last span:") for e in finding["evidence"])
        assert any(r["external"] == "larger-machine" for r in finding["recovery"])


async def test_a_pileup_names_the_head_and_the_server_side_filter_for_the_copies() -> None:
    async with world("schedule-pileup") as w:
        _, data = await w.triage()
        finding = _finding(data, "schedule_pileup")
        head = next(r for r in w.engine.runs.values() if r.task == "reconcile-ledger" and r.status == "EXECUTING")
        assert finding["recovery"][0]["target"] == head.friendly
        [bulk] = [r for r in finding["recovery"] if r["action"] == "cancel_matching"]
        assert bulk["key"] == "C" and f"schedule={head.schedule}" in bulk["target"]
        copies = sorted((r for r in w.engine.runs.values() if r.schedule == head.schedule and r is not head),
                        key=lambda r: r.created_at)
        await w.client.cancel_run(head.friendly)
        await w.client.create_bulk_action("cancel", filter=from_query(bulk["target"]).bulk_filter())
        w.advance(60)
        assert [r.status for r in copies[:-1]] == ["CANCELED"] * (len(copies) - 1)
        assert copies[-1].status != "CANCELED", "the newest copy stays"


async def test_pending_version_says_which_deploy_holds_the_runs() -> None:
    async with world("pending-version") as w:
        _, data = await w.triage()
        finding = _finding(data, "pending_version")
        assert "BUILDING" in finding["summary"]
