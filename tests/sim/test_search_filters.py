"""The run-list filters a server-side search uses (API.md §4.2), and the same ones as a bulk filter (§8)."""

from __future__ import annotations

from datetime import timedelta

from conftest import Client

from tui.sim.runfilter import error_group
from tui.sim.state import Plan


def _ids(body: dict[str, object]) -> set[str]:
    data = body["data"]
    assert isinstance(data, list)
    return {row["id"] for row in data}


async def test_batch_filter_lists_only_that_batchs_runs(client: Client) -> None:
    engine = client.engine
    ours = [engine.create_run("send-email", plan=Plan(duration=600)) for _ in range(3)]
    other = engine.create_run("send-email", plan=Plan(duration=600))
    for run in ours:
        run.batch = "batch_abc"
    other.batch = "batch_other"
    found = await client.ok("GET", "/api/v1/runs", **{"filter[batch]": "batch_abc", "page[size]": 100})
    assert _ids(found) == {run.friendly for run in ours}
    none = await client.ok("GET", "/api/v1/runs", **{"filter[batch]": "batch_nope"})
    assert none["data"] == []


async def test_error_group_filter_matches_runs_that_failed_the_same_way(client: Client) -> None:
    engine = client.engine
    same = [engine.create_run("send-email", plan=Plan(duration=600)) for _ in range(2)]
    different = engine.create_run("send-email", plan=Plan(duration=600))
    for run in same:
        run.error = {"name": "Error", "message": "SMTP 421"}
    different.error = {"name": "Error", "message": "SMTP 550"}
    group = error_group(same[0])
    assert group is not None and group.startswith("error_") and group != error_group(different)
    found = await client.ok("GET", "/api/v1/runs", **{"filter[error]": group, "page[size]": 100})
    assert _ids(found) == {run.friendly for run in same}


async def test_bulk_cancel_by_batch_reaches_exactly_the_batch(client: Client) -> None:
    engine = client.engine
    ours = [engine.create_run("send-email", plan=Plan(duration=600)) for _ in range(4)]
    bystander = engine.create_run("send-email", plan=Plan(duration=600))
    for run in ours:
        run.batch = "batch_cancel_me"
    created = await client.ok(
        "POST", "/api/v1/bulk-actions", {"action": "cancel", "filter": {"batch": "batch_cancel_me"}}
    )
    bulk = await client.ok("GET", f"/api/v1/bulk-actions/{created['id']}")
    assert bulk["counts"]["total"] == 4
    await client.advance(60)
    assert {run.status for run in ours} == {"CANCELED"}
    assert bystander.status != "CANCELED"


async def test_a_search_by_task_status_and_period_combines_every_filter(client: Client) -> None:
    engine = client.engine
    fresh = engine.create_run("search-me", plan=Plan(duration=3600), tags=["wanted"])
    engine.create_run(
        "search-me", created_at=engine.now - timedelta(hours=3), plan=Plan(duration=3600), tags=["wanted"]
    )
    engine.create_run("search-me", plan=Plan(duration=3600), tags=["unwanted"])
    query = {
        "filter[taskIdentifier]": "search-me",
        "filter[tag]": "wanted",
        "filter[createdAt][period]": "2h",
        "filter[status]": "QUEUED,DEQUEUED,EXECUTING",
        "page[size]": 100,
    }
    assert _ids(await client.ok("GET", "/api/v1/runs", **query)) == {fresh.friendly}
