"""Read what the deploys did to the runs: the live version's runs, how their starts ended, the version before it,
and the runs still waiting for a version with their task. A few requests, only when a deploy is recent."""

from __future__ import annotations

from datetime import datetime, timedelta

from tui.api.client import EngineClient
from tui.diagnosis.facts import DeployFacts
from tui.diagnosis.fetching import Notes, bounded
from tui.diagnosis.traces import trace_run
from tui.model import Deployment, Run, RunStatus, TokenDetail

RECENT_DEPLOY = timedelta(hours=24)
"""A live version older than this has proven itself: its runs are not read for a bad deploy."""
BEFORE_LIVE = timedelta(hours=1)
"""Runs created this long before the version went live can still be locked to it (they waited in a queue)."""
LIVE_TRACES = 3
"""Runs on the live version that did not complete, traced to see how their starts ended."""
NOT_COMPLETED = (RunStatus.QUEUED, RunStatus.DEQUEUED, RunStatus.FAILED, RunStatus.CRASHED, RunStatus.SYSTEM_FAILURE)


def previous_of(live: Deployment, deployments: tuple[Deployment, ...]) -> Deployment | None:
    """The deployed version before the live one: what a rollback would promote again."""
    older = [d for d in deployments if d.status == "DEPLOYED" and d.created_at < live.created_at]
    return max(older, key=lambda d: d.created_at, default=None)


async def deploy_facts(
    client: EngineClient,
    live: Deployment | None,
    now: datetime,
    notes: Notes,
    tokens: dict[str, TokenDetail | None],
    *,
    pending: bool,
    traced: frozenset[str] = frozenset(),
) -> DeployFacts:
    """The deploy picture; `pending` also lists PENDING_VERSION runs, `traced` are runs already traced."""
    pending_runs: tuple[Run, ...] = ()
    if pending:
        page = await notes.attempt(
            "runs pending a version", client.list_runs(statuses=[RunStatus.PENDING_VERSION], page_size=100)
        )
        pending_runs = page.items if page is not None else ()
    listed = await notes.attempt("deployments", client.list_deployments(page_size=10))
    deployments = listed.items if listed is not None else ()
    went_live = live.deployed_at if live is not None else None
    if live is None or went_live is None or now - went_live > RECENT_DEPLOY:
        return DeployFacts(deployments, pending_runs=pending_runs)
    page = await notes.attempt(
        f"runs on version {live.version}",
        client.list_runs(versions=[live.version], created_from=went_live - BEFORE_LIVE, page_size=100),
    )
    live_runs = page.items if page is not None else ()
    failing = [r for r in live_runs if r.status in NOT_COMPLETED and r.id not in traced][:LIVE_TRACES]
    live_traces = tuple(await bounded(failing, lambda r: trace_run(client, r, notes, tokens)))
    previous = previous_of(live, deployments)
    completed = None
    if previous is not None:
        done = await notes.attempt(
            f"runs on version {previous.version}",
            client.list_runs(
                versions=[previous.version],
                statuses=[RunStatus.COMPLETED],
                created_from=went_live - BEFORE_LIVE,
                page_size=25,
            ),
        )
        completed = len(done.items) if done is not None else None
    return DeployFacts(deployments, live_runs, live_traces, completed, pending_runs)
