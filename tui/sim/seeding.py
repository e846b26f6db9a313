"""Seeding the past: engine operations as if at an earlier moment, and runs left as a worker would leave them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from tui.sim import lifecycle
from tui.sim.engine import Engine
from tui.sim.state import Run


@contextmanager
def at(engine: Engine, when: datetime) -> Iterator[None]:
    """Run engine operations as if at `when` (for seeding the past)."""
    saved, engine.now = engine.now, when
    try:
        yield
    finally:
        engine.now = saved


def force(engine: Engine, run: Run, started: datetime, *, executing: bool = True) -> None:
    """Put a seeded run in the state a worker would have left it in at `started`."""
    queue = engine.queue_of(run)
    if run.iid in queue.waiting:
        queue.waiting.remove(run.iid)
    with at(engine, started):
        engine._pull(queue, run)
        if executing:
            lifecycle.start_attempt(engine, run)
