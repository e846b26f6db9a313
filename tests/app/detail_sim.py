"""The run detail screen's world on the simulator: the runs it is tested on, seeded the way the engine leaves them.

Each run of the old hand-written client is here a real run of a blank simulated environment frozen at NOW; its
trace is built span by span as a worker would have written it. `names` maps a test's name for a run or a span
(`run_stuck`, `s-tool`) to the id the simulator gave it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App

from tests.simclient import Sim, seed_queue, seed_run, seed_token, sim
from tui.api.client import EngineClient
from tui.config import Settings
from tui.screens.run_detail import RunDetailScreen
from tui.sim.seeding import at
from tui.sim.state import Deployment, Run, Span, Token

NOW = datetime(2026, 8, 21, 18, 20, 0, tzinfo=UTC)
HOSTILE = "[red]x[/] \x1b[31mred\x1b[0m [link=http://evil]y[/link]"
VERSION = "20260821.3"


def frozen_clock() -> datetime:
    return NOW


def settings(refresh: float = 0.05) -> Settings:
    return Settings(profile="test", url="http://sim.invalid", secret_key="tr_dev_secret", refresh_seconds=refresh)


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


def big_payload(megabytes: float = 5.0) -> dict[str, Any]:
    row = {"sku": "SKU-000000", "description": "x" * 60, "qty": 1, "price": 9.99}
    count = int(megabytes * 1_000_000 / 110)
    return {"items": [dict(row, sku=f"SKU-{i:06d}") for i in range(count)]}


@dataclass
class DetailWorld:
    sim: Sim
    runs: dict[str, Run] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)

    def id(self, name: str) -> str:
        """The API id of a run or a span known by its test name."""
        if name in self.runs:
            return self.runs[name].friendly
        if name in self.tokens:
            return self.tokens[name].friendly
        return self.spans[name].id if name in self.spans else name

    def span(
        self,
        run: str,
        message: str,
        start: datetime,
        *,
        parent: Span | None = None,
        ms: float | None = None,
        name: str | None = None,
        **extra: Any,
    ) -> Span:
        """A span the run's worker wrote at `start` (closed after `ms` when given, else still open)."""
        engine = self.sim.engine
        with at(engine, start):
            made = engine.add_span(self.runs[run], message, parent=parent, **extra)
        if ms is not None:
            made.end = start + timedelta(milliseconds=ms)
        if name is not None:
            self.spans[name] = made
        return made

    def attempt(self, run: str) -> Span:
        found = self.sim.engine.attempt_span(self.runs[run])
        assert found is not None
        return found


def detail_world(*, big: bool = False) -> DetailWorld:
    w = DetailWorld(sim(start=NOW))
    e = w.sim.engine
    e.deployments.append(Deployment("deployment_live", "abc", VERSION, "DEPLOYED", ago(days=1), ago(days=1)))
    e.version = VERSION
    # sync-crm: four slots, all held; 37 runs wait behind them.
    seed_queue(e, "sync-crm", limit=4)
    parent = seed_run(e, "orchestrate", minutes=26, created=27, version=VERSION)
    stuck = seed_run(
        e,
        "sync-crm",
        minutes=20,
        created=25,
        version=VERSION,
        parent=parent,
        tags=("customer:acme", "[red]x[/]"),
        idempotency_key="order-9921",
        metadata={"step": "calling crm"},
        payload={"orderId": 9921, "note": "[bold]not bold[/]"},
    )
    for _ in range(3):
        seed_run(e, "sync-crm", minutes=2, version=VERSION)
    for i in range(37):
        seed_run(e, "sync-crm", "QUEUED", created=10 - i / 10)
    w.runs.update(run_parent=parent, run_stuck=stuck)
    w.spans["s-root"] = stuck.spans  # type: ignore[assignment]
    w.spans["s-attempt"] = w.attempt("run_stuck")
    w.span(
        "run_stuck",
        "fetch-order",
        ago(minutes=19, seconds=50),
        ms=1200,
        name="s-fetch",
        properties={"order": 9921, "note": "[b]x[/b]"},
    )
    w.span("run_stuck", "tool.call crm.lookup", ago(minutes=14), name="s-tool", properties={"entity": "crm-backend"})
    child = seed_run(e, "sync-crm", "COMPLETED", minutes=18, created=19, version=VERSION, parent=stuck)
    w.runs["run_child"] = child

    token = seed_token(e, minutes=9, tags=("order:1",), key="approve-1")
    wait = seed_run(e, "approve-order", "WAITING", minutes=9, created=10, token=token, payload={"orderId": 1})
    w.runs["run_wait"] = wait
    w.spans["s-wait"] = e.open_leaf(wait)  # type: ignore[assignment]
    w.tokens["waitpoint_abc123"] = token

    done = seed_run(e, "sync-crm", "COMPLETED", minutes=4, created=5, payload={"orderId": 2}, queue="task/sync-crm")
    done.output = {"ok": True, "rows": 3}
    w.runs["run_done"] = done

    failed = seed_run(e, "sync-crm", "FAILED", minutes=2, created=25, queue="task/sync-crm")
    failed.error = {"message": "boom \x1b[2J" + HOSTILE, "name": "TypeError", "stackTrace": "at x\nat y"}
    failed.attempt = 3
    failed.spans, failed.span_index = None, {}  # no event of it written yet
    w.runs["run_failed"] = failed

    hostile = seed_run(
        e,
        HOSTILE,
        minutes=4,
        created=4,
        tags=(HOSTILE,),
        idempotency_key=HOSTILE,
        metadata={HOSTILE: HOSTILE},
        payload={"text": HOSTILE, "bidi": "abc\u202edef"},
    )
    w.runs["run_hostile"] = hostile
    w.span("run_hostile", HOSTILE, ago(minutes=3), name="s-bad")

    if big:
        w.runs["run_big"] = seed_run(e, "sync-crm", "QUEUED", created=20, payload=big_payload())
    return w


class DetailHost(App[None]):
    """A tiny app that hosts one run detail screen (independent of tui/app.py)."""

    def __init__(self, client: Any, run_id: str, *, refresh: float = 0.05) -> None:
        super().__init__()
        self.client = client
        self.run_id = run_id
        self.refresh_seconds = refresh
        self.polling_paused = False
        """Stands in for the app's global `P` switch."""

    def on_mount(self) -> None:
        self.push_screen(
            RunDetailScreen(
                self.client,
                settings(self.refresh_seconds),
                self.run_id,
                clock=frozen_clock,
                paused=lambda: self.polling_paused,
            )
        )


async def no_wait(_: float) -> None:
    return None


@asynccontextmanager
async def hosted(
    world: DetailWorld, run: str, *, refresh: float = 0.05
) -> AsyncIterator[tuple[DetailHost, EngineClient]]:
    """The run's detail screen on the real client over the world (a failed read is retried without waiting)."""
    client = world.sim.client(admin=False, sleep=no_wait)
    try:
        yield DetailHost(client, world.id(run), refresh=refresh), client
    finally:
        await client.aclose()
