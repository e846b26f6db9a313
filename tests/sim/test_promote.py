"""Promote and roll back on the simulator (API.md §9): the version new runs lock to, and each refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tui.sim.engine import Engine
from tui.sim.promotion import PromoteRefused, newer
from tui.sim.server import DEFAULT_SECRET_KEY, SCOPED_SECRET_KEY
from tui.sim.state import Deployment

PROMOTE = "/api/v1/deployments/{}/promote"
V2 = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}", "x-trigger-api-version": "2025-07-16"}
Client = Any
"""The `client` fixture of this directory's conftest: HTTP to one simulator plus its engine."""


def versions(engine: Engine) -> list[str]:
    """The seeded DEPLOYED versions, oldest first; the last is current."""
    return [d.version for d in engine.deployments]


def test_versions_compare_as_the_real_server_does() -> None:
    assert newer("20261204.2", "20261204.1") and newer("20261205.1", "20261204.9")
    assert not newer("20261204.1", "20261204.1")
    assert not newer("20261204.10", "20261204.9")  # text, not numbers, like compareDeploymentVersions


@pytest.mark.parametrize("client", ["healthy"], indirect=True)
async def test_a_rollback_makes_the_previous_version_current_and_locked_runs_keep_theirs(client: Client) -> None:
    engine = client.engine
    old, previous, current = versions(engine)
    locked = next(r for r in engine.runs.values() if r.version == current and not r.final)
    answer = await client.post(PROMOTE.format(previous) + "?allowRollbacks=true")
    assert answer.status_code == 200
    record = next(d for d in engine.deployments if d.version == previous)
    assert answer.json() == {"id": record.id, "version": previous, "shortCode": record.short_code}
    assert engine.version == previous
    assert (await client.ok("GET", "/api/v1/deployments/current"))["version"] == previous
    run = engine.create_run("send-email")
    await client.advance(30)
    assert locked.version == current and run.version == previous
    assert old != previous


async def test_promoting_forward_again_needs_no_flag(client: Client) -> None:
    _, previous, current = versions(client.engine)
    client.engine.promote(previous, allow_rollbacks=True)
    answer = await client.post(PROMOTE.format(current))
    assert answer.status_code == 200 and client.engine.version == current


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("", "Cannot promote a deployment that is older than the current deployment."),
        ("?allowRollbacks=false", "Cannot promote a deployment that is older than the current deployment."),
        ("?allowRollbacks=TRUE", "Cannot promote a deployment that is older than the current deployment."),
    ],
)
async def test_an_older_version_without_allow_rollbacks_is_refused(client: Client, flag: str, message: str) -> None:
    before = client.engine.version
    answer = await client.post(PROMOTE.format(versions(client.engine)[1]) + flag)
    assert (answer.status_code, answer.json()) == (400, {"error": message})
    assert client.engine.version == before


async def test_the_current_version_and_an_undeployed_one_are_refused(client: Client) -> None:
    engine = client.engine
    current = engine.version
    again = await client.post(PROMOTE.format(current) + "?allowRollbacks=true")
    assert (again.status_code, again.json()) == (400, {"error": "Deployment is already the current deployment."})
    building = Deployment("deployment_b", "bld1", "20991231.1", "BUILDING", engine.now, None)
    engine.deployments.append(building)
    answer = await client.post(PROMOTE.format(building.version))
    message = "Deployment must be in the DEPLOYED state to be promoted."
    assert (answer.status_code, answer.json()) == (400, {"error": message})
    assert engine.version == current


async def test_an_unknown_version_is_404_and_the_path_takes_a_version_not_an_id(client: Client) -> None:
    missing = await client.post(PROMOTE.format("20200101.1"))
    assert (missing.status_code, missing.json()) == (404, {"error": "Deployment not found"})
    by_id = await client.post(PROMOTE.format(client.engine.deployments[0].id) + "?allowRollbacks=true")
    assert by_id.status_code == 404


async def test_the_scoped_key_lacks_write_deployments(client: Client) -> None:
    scoped = {**V2, "Authorization": f"Bearer {client.app.state.sim.scoped_key}"}
    assert client.app.state.sim.scoped_key.endswith(SCOPED_SECRET_KEY.removeprefix("tr_dev_"))
    before = client.engine.version
    answer = await client.post(PROMOTE.format(versions(client.engine)[1]) + "?allowRollbacks=true", headers=scoped)
    assert (answer.status_code, answer.json()["code"]) == (403, "unauthorized")
    assert client.engine.version == before
    assert (await client.get("/api/v1/deployments/current", headers=scoped)).status_code == 200


def test_engine_promote_raises_for_the_route_to_translate() -> None:
    engine = Engine(seed=1)
    with pytest.raises(LookupError):
        engine.promote("20200101.1")
    first = Deployment("deployment_1", "a1", "20261201.1", "DEPLOYED", engine.now - timedelta(days=2), engine.now)
    second = Deployment("deployment_2", "a2", "20261202.1", "DEPLOYED", engine.now - timedelta(days=1), engine.now)
    engine.deployments += [first, second]
    engine.version = second.version
    with pytest.raises(PromoteRefused, match="older"):
        engine.promote(first.version)
    assert engine.promote(first.version, allow_rollbacks=True) is first
    assert engine.current_deployment() is first
