"""The run-list filters (API.md §4.2), shared by the runs list and bulk actions."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from tui.sim import views
from tui.sim.engine import Engine
from tui.sim.http import Ctx, parse_period, parse_time, query_error
from tui.sim.state import Run

DEFAULT_WINDOW = timedelta(days=7)
MACHINES = ("micro", "small-1x", "small-2x", "medium-1x", "medium-2x", "large-1x", "large-2x")
DEFAULT_MACHINE = "small-1x"


class RunFilter:
    """The run-list filters (API.md §4.2), shared by the list endpoint and bulk actions."""

    def __init__(
        self,
        engine: Engine,
        *,
        statuses: list[str],
        tasks: list[str],
        versions: list[str],
        tags: list[str],
        queues: list[str],
        bulk: str | None,
        is_test: bool | None,
        since: datetime | None,
        until: datetime | None,
        regions: list[str] | None = None,
        machines: list[str] | None = None,
        replica: bool = False,
        schedule: str | None = None,
        batch: str | None = None,
        error_group: str | None = None,
    ) -> None:
        self.engine = engine
        # The list endpoint picks ids on a replica that trails by `engine.replica_lag` (API.md §4.2).
        self.lag = timedelta(seconds=engine.replica_lag) if replica else None
        self.db_statuses: set[str] | None = None
        if statuses:
            unknown = [s for s in statuses if s not in views.FILTER_STATUS]
            if unknown:
                raise query_error("filter[status]", f"Invalid status values: {', '.join(unknown)}")
            self.db_statuses = {db for s in statuses for db in views.FILTER_STATUS[s]}
        self.tasks, self.versions, self.tags = set(tasks), set(versions), set(tags)
        self.queues, self.bulk, self.is_test = set(queues), bulk, is_test
        self.since, self.until = since, until
        self.schedule, self.batch, self.error_group = schedule, batch, error_group
        self.regions = set(regions or ())
        unknown = [m for m in machines or () if m not in MACHINES]
        if unknown:
            raise query_error("filter[machine]", f"Invalid machine values: {', '.join(unknown)}")
        # Every simulated run uses the default machine, so a machine filter matches only when it names it.
        self.no_machine_match = bool(machines) and DEFAULT_MACHINE not in (machines or ())

    def _seen_status(self, run: Run) -> str | None:
        """The status the id query sees: on a lagging replica, none for a new run, the older one for a change."""
        if self.lag is None or not self.lag:
            return run.status
        horizon = self.engine.now - self.lag
        if run.created_at > horizon:
            return None
        if run.updated_at > horizon and run.replica_status is not None:
            return run.replica_status
        return run.status

    def still_matches(self, run: Run) -> bool:
        """The status filter again, on the current row: what the server re-applies after paging."""
        return self.db_statuses is None or run.status in self.db_statuses

    def matches(self, run: Run) -> bool:
        seen = self._seen_status(run)
        return (
            not self.no_machine_match
            and seen is not None
            and (self.db_statuses is None or seen in self.db_statuses)
            and (not self.regions or run.region in self.regions)
            and (not self.tasks or run.task in self.tasks)
            and (not self.versions or run.version in self.versions)
            and (not self.tags or bool(self.tags.intersection(run.tags)))
            and (not self.queues or run.queue in self.queues)
            and (self.bulk is None or self.bulk in run.bulk)
            and (self.schedule is None or run.schedule == self.schedule)
            and (self.batch is None or run.batch == self.batch)
            and (self.error_group is None or error_group(run) == self.error_group)
            and (self.is_test is None or run.is_test == self.is_test)
            and (self.since is None or run.created_at >= self.since)
            and (self.until is None or run.created_at <= self.until)
        )

    def newest_first(self, before: tuple[datetime, str] | None = None) -> Iterator[Run]:
        """Matching runs, newest first, strictly older than `before`."""
        engine = self.engine
        if self.db_statuses is not None and not self.lag:
            pool = [engine.runs[i] for s in self.db_statuses for i in engine.by_status.get(s, ())]
            if len(pool) < len(engine.order) // 4:
                pool.sort(key=lambda r: (r.created_at, r.iid), reverse=True)
                yield from (r for r in pool if (before is None or (r.created_at, r.iid) < before) and self.matches(r))
                return
        end = len(engine.order) if before is None else bisect.bisect_left(engine.order_keys, before)
        floor = 0 if self.since is None else bisect.bisect_left(engine.order_keys, (self.since, ""))
        for index in range(end - 1, floor - 1, -1):
            run = engine.order[index]
            if self.matches(run):
                yield run

    def oldest_first(self, after: tuple[datetime, str]) -> Iterator[Run]:
        """Matching runs, oldest first, strictly newer than `after` (what a `page[before]` page holds)."""
        engine = self.engine
        start = bisect.bisect_right(engine.order_keys, after)
        for index in range(start, len(engine.order)):
            run = engine.order[index]
            if self.matches(run):
                yield run


def error_group(run: Run) -> str | None:
    """The `error_…` group of a run's error: runs that failed the same way share it (the dashboard's grouping)."""
    if not run.error:
        return None
    key = f"{run.error.get('name', '')}\n{run.error.get('message', '')}"
    return "error_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def filter_from_query(ctx: Ctx, *, replica: bool = False) -> RunFilter:
    since = ctx.query("filter[createdAt][from]")
    until = ctx.query("filter[createdAt][to]")
    period = ctx.query("filter[createdAt][period]")
    is_test = ctx.query("filter[isTest]")
    if is_test not in (None, "true", "false"):
        raise query_error("filter[isTest]", "Expected 'true' or 'false'")
    start = parse_time(since, "filter[createdAt][from]") if since else None
    end = parse_time(until, "filter[createdAt][to]") if until else None
    if period:
        # A period overrides from and to alike (runsRepository: the period wins over the range).
        start = ctx.engine.now - timedelta(seconds=parse_period(period, "filter[createdAt][period]"))
        end = None
    if start is None and end is None:
        start = ctx.engine.now - DEFAULT_WINDOW
    return RunFilter(
        ctx.engine,
        statuses=ctx.query_list("filter[status]"),
        tasks=ctx.query_list("filter[taskIdentifier]"),
        versions=ctx.query_list("filter[version]"),
        tags=ctx.query_list("filter[tag]"),
        queues=ctx.query_list("filter[queue]"),
        bulk=ctx.query("filter[bulkAction]"),
        is_test=None if is_test is None else is_test == "true",
        since=start,
        until=end,
        regions=ctx.query_list("filter[region]"),
        machines=ctx.query_list("filter[machine]"),
        replica=replica,
        schedule=ctx.query("filter[schedule]"),
        batch=ctx.query("filter[batch]"),
        error_group=ctx.query("filter[error]"),
    )
