"""The console's incident on the simulator: a small world seeded the way the engine leaves one, frozen at START.

It has the intent of the old hand-written incident, made consistent (every count is the runs behind it):
- `agent-turn` (limit 10) STALLED: one run EXECUTING for 42 m, two QUEUED behind it (10 m and 3 m), nothing
  started in the metrics window while its backlog grew;
- `send-email` (limit 3) AT CAP: three slots held (one run DEQUEUED for 7 m, two EXECUTING), two fresh QUEUED runs,
  and in the window runs waited 10 m for a slot;
- `billing` PAUSED with three fresh QUEUED runs; `shared-crm` (custom, no limit) ACTIVE with two EXECUTING;
  `nightly-report` IDLE; `approve-refund` holds a run WAITING 30 m on a token nobody completes;
- runs of the live version completed in every busy queue (the version is fine: the incident is not a deploy);
- tokens: that approval (key `refund-42`), one that times out in 10 m (tag `ops`), one completed 90 m ago.

`World.id(name)` is the API id the simulator gave the run or token a test knows by name (`run_stuck`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tests.simclient import Sim, seed_queue, seed_run, seed_starts, seed_token, sim
from tui.sim.engine import Engine
from tui.sim.seeding import at
from tui.sim.state import Queue, Run, Token

HOSTILE_NAMES = (
    "[red]x[/]",
    "\x1b[31mred\x1b[0m",
    "[link=http://evil]click[/link]",
    "naïve-ünïcödé-日本語-🚀",
    "a" * 300,
)
ENV_LIMIT = 50


@dataclass
class World:
    sim: Sim
    runs: dict[str, Run] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.sim.engine

    def id(self, name: str) -> str:
        """The API id of a run or a token known by its test name."""
        if name in self.runs:
            return self.runs[name].friendly
        return self.tokens[name].friendly


def blank() -> World:
    """An empty environment (limit 50) at START, for a test that seeds its own queues, runs and tokens."""
    world = World(sim())
    world.engine.env.concurrency_limit = ENV_LIMIT
    return world


def backlog_history(
    engine: Engine,
    queue: Queue,
    created: list[float],
    *,
    running: int,
    started: int = 0,
    wait_ms: float = 800.0,
    minutes: float = 15,
) -> None:
    """The queue's samples over the last `minutes`, every 10 s, as the engine took them: its depth was the number
    of `created` (minutes ago) runs already there, `running` slots were held, and `started` runs began, spread
    evenly, each after waiting `wait_ms`."""
    samples = int(minutes * 6)
    every = samples // started if started else 0
    for i in range(samples):
        ago = minutes - i / 6
        stamp = (engine.now - timedelta(minutes=ago)).timestamp()
        began = 1 if every and i % every == 0 else 0
        engine.history.record(
            queue.stored,
            stamp,
            queued=sum(1 for c in created if c >= ago),
            running=running,
            limit=engine.queue_limit(queue),
            started=began,
            waits=[wait_ms] * began,
        )


def incident() -> World:
    """The incident described above."""
    w = blank()
    e = w.engine
    agent = seed_queue(e, "agent-turn", limit=10)
    email = seed_queue(e, "send-email", limit=3)
    billing = seed_queue(e, "billing", limit=10)
    crm = seed_queue(e, "shared-crm", kind="custom", limit=None)
    seed_queue(e, "nightly-report", limit=1)

    # The live version runs fine elsewhere: runs of it completed before the stall and during it.
    for minutes in (30, 26, 22):
        seed_run(e, "agent-turn", "COMPLETED", minutes=minutes, created=minutes + 2)
    for minutes in (13, 11, 9, 7, 5):
        seed_run(e, "send-email", "COMPLETED", minutes=minutes, created=minutes + 10)
    for minutes in (6, 3):
        seed_run(e, "sync-crm", "COMPLETED", minutes=minutes, created=minutes + 1, queue=crm.stored)
    w.runs["run_stuck"] = seed_run(e, "agent-turn", minutes=42, created=45, tags=("customer:acme",))
    w.runs["run_backlog"] = seed_run(e, "agent-turn", "QUEUED", created=10)
    w.runs["run_queued"] = seed_run(e, "agent-turn", "QUEUED", created=3)
    backlog_history(e, agent, [10, 3], running=1)

    w.runs["run_deq"] = seed_run(e, "send-email", "DEQUEUED", minutes=7, created=8)
    w.runs["run_email1"] = seed_run(e, "send-email", minutes=4, created=14)
    w.runs["run_email2"] = seed_run(e, "send-email", minutes=2, created=12)
    for created in (1.5, 1.0):
        seed_run(e, "send-email", "QUEUED", created=created)
    backlog_history(e, email, [20, 20], running=3, started=6, wait_ms=600_000.0)

    for created in (1.5, 1.0, 0.5):
        seed_run(e, "billing", "QUEUED", created=created)
    billing.paused = True

    w.runs["run_exec"] = seed_run(e, "sync-crm", minutes=1, created=2, queue=crm.stored)
    seed_run(e, "sync-crm", minutes=4, created=5, queue=crm.stored)
    seed_starts(e, crm, 4, seconds_ago=240)

    approval = seed_token(e, minutes=30, key="refund-42")
    w.tokens["waitpoint_approval"] = approval
    w.runs["run_wait"] = seed_run(e, "approve-refund", "WAITING", minutes=30, created=31, token=approval)
    w.tokens["waitpoint_timed"] = seed_token(e, minutes=5, timeout="15m", tags=("ops",))
    done = seed_token(e, minutes=90)
    with at(e, e.now - timedelta(minutes=85)):
        e.complete_token(done, '{"approved":true}')
    w.tokens["waitpoint_done"] = done
    return w


READS = {
    "list_queues": lambda path: path == "/api/v1/queues",
    "queue_metrics": lambda path: path.startswith("/api/v1/queues/") and path.endswith("/metrics"),
    "list_runs": lambda path: path == "/api/v1/runs",
    "list_tokens": lambda path: path == "/api/v1/waitpoints/tokens",
    "run_trace": lambda path: path.endswith("/trace"),
}
"""The reads the panes make, by the client method that makes them, as paths the simulator was sent."""


def reads(world: World, kind: str) -> int:
    """How many requests of this kind (a key of READS) reached the simulator."""
    return sum(1 for method, path in world.sim.transport.requests if method == "GET" and READS[kind](path))


def run_lists(world: World) -> list[dict[str, str]]:
    """The query of every run list sent so far, oldest first (`filter[status]`, `page[after]`, ...)."""
    return [dict(url.params) for url in world.sim.transport.urls if url.path == "/api/v1/runs"]
