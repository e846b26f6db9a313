"""Console speed, each figure next to its baseline measured in the same run (issue 4, "Speed").

Run: `python tests/bench/bench_console.py` from the repo root (`--quick` for fewer repetitions, `--only NAME` for
one section).
Not a test: these numbers are noisy on shared machines, so they are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

from tui.widgets.table import Column, FastTable, Row  # noqa: E402

COLUMNS = (
    Column("id", "Run", 14, flex=2, max_width=32),
    Column("task", "Task", 12, flex=2),
    Column("status", "Status", 9),
    Column("age", "Age", 6, align="right"),
    Column("queue", "Queue", 12, priority=2, flex=1),
    Column("version", "Version", 10, priority=3),
)
STATUSES = ("QUEUED", "DEQUEUED", "EXECUTING", "WAITING")


# ----- helpers -------------------------------------------------------------------------------------------


def make_cells(i: int, generation: int = 0) -> tuple[str, ...]:
    status = STATUSES[(i + generation) % len(STATUSES)]
    return (
        f"run_{i:024d}",
        f"task-{i % 37}",
        status,
        f"{(i * 7 + generation) % 59}m",
        f"task/q{i % 50}",
        "20261128.1",
    )


def churn(rows: list[Row], generation: int, fraction: float = 0.05, seed: int = 0) -> tuple[list[Row], list[int]]:
    rng = random.Random(seed + generation)
    changed = rng.sample(range(len(rows)), max(1, int(len(rows) * fraction)))
    new = list(rows)
    for index in changed:
        new[index] = Row(rows[index].key, make_cells(index, generation))
    return new, changed


class Probe:
    """Wraps App._display: times each frame and counts the bytes a real terminal would receive."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.frames: list[float] = []
        self.bytes: list[int] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.frames.append(time.perf_counter())
                try:
                    self.bytes.append(len(renderable.render_segments(app.console).encode()))
                except AttributeError:
                    self.bytes.append(0)

        app._display = display  # type: ignore[method-assign]


class FastApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS)


class StockApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")


def load_stock(table: DataTable[Any], count: int) -> None:
    table.clear(columns=True)
    for column in COLUMNS:
        table.add_column(column.label, key=column.key)
    for i in range(count):
        table.add_row(*make_cells(i), key=f"k{i}")


def p95(values: list[float]) -> float:
    """The 95th percentile of `values` (the nearest rank below)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def frame_after(probe: Probe, since: float, condition: Callable[[], bool], timeout: float = 5.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for stamp in probe.frames:
            if stamp >= since and condition():
                return stamp
        await asyncio.sleep(0.001)
    return float("nan")


# ----- 1. startup ----------------------------------------------------------------------------------------


def startup(repeats: int, url: str | None, key: str | None) -> tuple[list[float], list[float]]:
    """Seconds from spawning the process to the timed paint, each launch in a fresh interpreter."""
    child = Path(__file__).with_name("startup_child.py")

    def timed(*args: str) -> float:
        start = time.time()  # wall clock: the child reports its paint in the same clock
        out = subprocess.run(
            [sys.executable, str(child), *args], check=True, cwd=ROOT, timeout=60, capture_output=True, text=True
        )
        painted = [line for line in out.stdout.splitlines() if line.startswith("PAINTED ")]
        return float(painted[-1].split()[1]) - start

    bare, console = [], []
    for _ in range(repeats):
        bare.append(timed("bare"))
        if url is not None:
            console.append(timed("console", url, key or ""))
    return bare, console


def in_pty(command: list[str], marker: bytes, size: tuple[int, int], env: dict[str, str]) -> float:
    """Seconds from exec to `marker` appearing in what the process writes to a pseudo-terminal of `size`."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    columns, lines = size
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    found = float("nan")
    try:
        while time.perf_counter() - started < 60:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break  # the child exited
            seen += chunk
            # Styles may sit between the letters of a cell: look at the text without escape sequences.
            if marker in re.sub(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]", b"", seen[-20000:]):
                found = time.perf_counter() - started
                break
    finally:
        child.kill()
        child.wait()
        os.close(master)
    return found


def startup_pty(repeats: int, url: str, key: str, size: tuple[int, int]) -> tuple[list[float], list[float]]:
    """Both apps in a real terminal: the bare one until a row's name shows, the console (as `python -m tui`
    runs it, CLI included) until the first queue name shows."""
    child = str(Path(__file__).with_name("startup_child.py"))
    env = {**os.environ, "PLATOS_SECRET_KEY": key, "PLATOS_TUI_CONFIG": "/nonexistent/config.toml"}
    bare, console = [], []
    for _ in range(repeats):
        bare.append(in_pty([sys.executable, child, "bare-tty"], b"queue-7", size, env))
        command = [sys.executable, "-m", "tui", "--url", url]
        console.append(in_pty(command, b"process-video", size, env))
    return bare, console


# ----- 2, 3. refresh cost and key latency ----------------------------------------------------------------


async def refresh_cost(count: int, repeats: int) -> tuple[float, float]:
    """Median ms from applying a 5% change to the frame that shows it: FastTable vs DataTable."""
    fast_times: list[float] = []
    app = FastApp()
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        table = app.query_one(FastTable)
        rows = [Row(f"k{i}", make_cells(i)) for i in range(count)]
        table.set_rows(rows)
        await pilot.pause(0.2)
        for generation in range(1, repeats + 1):
            new, _ = churn(rows, generation)
            start = time.perf_counter()
            table.set_rows(new)
            table.refresh()
            stamp = await frame_after(probe, start, lambda: True)
            fast_times.append((stamp - start) * 1000)
            rows = new
            await pilot.pause(0.05)
    stock_times: list[float] = []
    stock = StockApp()
    async with stock.run_test(size=(120, 40)) as pilot:
        probe = Probe(stock)
        data_table: DataTable[Any] = stock.query_one(DataTable)
        load_stock(data_table, count)
        await pilot.pause(0.5)
        for generation in range(1, repeats + 1):
            rng = random.Random(generation)
            changed = rng.sample(range(count), max(1, count // 20))
            start = time.perf_counter()
            with stock.batch_update():
                for index in changed:
                    cells = make_cells(index, generation)
                    data_table.update_cell(f"k{index}", "status", cells[2])
                    data_table.update_cell(f"k{index}", "age", cells[3])
            stamp = await frame_after(probe, start, lambda: True)
            stock_times.append((stamp - start) * 1000)
            await pilot.pause(0.05)
    return statistics.median(fast_times), statistics.median(stock_times)


async def key_latency(count: int, presses: int, stock_table: bool) -> float:
    """p95 ms from a key press, made just as a 5% refresh starts, to the frame that shows the moved cursor."""
    app: App[None] = StockApp() if stock_table else FastApp()
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        rows = [Row(f"k{i}", make_cells(i)) for i in range(count)]
        if stock_table:
            widget: Any = app.query_one(DataTable)
            load_stock(widget, count)
        else:
            widget = app.query_one(FastTable)
            widget.set_rows(rows)
        widget.focus()
        await pilot.pause(0.5)
        for generation in range(1, presses + 1):
            before = widget.cursor_coordinate.row if stock_table else widget.cursor_index
            start = time.perf_counter()
            app.post_message(events.Key("down", None))
            if stock_table:
                with app.batch_update():
                    for index in random.Random(generation).sample(range(count), count // 20):
                        cells = make_cells(index, generation)
                        widget.update_cell(f"k{index}", "status", cells[2])
                        widget.update_cell(f"k{index}", "age", cells[3])
            else:
                rows, _ = churn(rows, generation)
                widget.set_rows(rows)

            def moved(widget: Any = widget, before: int = before) -> bool:
                now = widget.cursor_coordinate.row if stock_table else widget.cursor_index
                return bool(now != before)

            stamp = await frame_after(probe, start, moved)
            latencies.append((stamp - start) * 1000)
            await pilot.pause(0.03)
    return p95(latencies)


NEXT_STATUS = {
    "QUEUED": "DEQUEUED",
    "DEQUEUED": "EXECUTING",
    "EXECUTING": "WAITING",
    "WAITING": "EXECUTING",
}
"""How a poll sees an active run move on: the churn the runs-pane bench applies."""


async def pane_refresh(count: int, repeats: int, *, at_top: bool = False) -> tuple[list[float], list[float]]:
    """Ms of UI work for one refresh of the runs pane with `count` runs loaded, the clock a second on and 5% of them
    moved to their next status (a new `updatedAt`): the pane's own ingestion (`take`, as a poll stores each run it
    read), rebuild (`render_rows`, the table's reconcile) through the frame that shows it (the lines that changed).
    The real app on the real client against the in-process simulator; the bench applies the changes itself, so the
    time is all UI work.

    The cursor is where paging in left it, on the last row, which it follows as the runs above it move: the view
    scrolls on every refresh and every line is drawn again. With `at_top` it is on the first row, where an operator
    watches the stuck runs: the view stays, and the lines whose rows moved are drawn again."""
    import httpx

    from tui.api.client import EngineClient
    from tui.api.guard import WriteGuard
    from tui.app import PlatosApp
    from tui.config import Settings
    from tui.model import RunStatus
    from tui.sim import server

    sim_app = server.create_app(server.SimOptions(speed=0, seed=1, queues=1_000, runs=count * 10))
    engine = sim_app.state.sim.engine
    settings = Settings(profile="bench", url="http://127.0.0.1", secret_key=server.DEFAULT_SECRET_KEY, demo=True)

    def make_client(config: Settings) -> EngineClient:
        transport = httpx.ASGITransport(app=sim_app)
        return EngineClient(
            config.url, config.secret_key, transport=transport, budget_per_second=None, guard=WriteGuard(read_only=True)
        )

    times: list[float] = []
    work: list[float] = []
    """The pane's own part: `take` and `render_rows`, up to the frame."""
    app = PlatosApp(settings, make_client=make_client, clock=lambda: engine.now)
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        await pilot.press("2")
        await pilot.pause(0.5)
        screen: Any = app.screen
        deadline = time.monotonic() + 300
        while screen.table.total_count < count and screen.more_below and time.monotonic() < deadline:
            screen.table.action_last()  # scrolling to the end pulls the next page in
            await pilot.pause(0.05)
        assert app.session is not None
        app.session.paused = True  # no polls while timing: only the changes the bench makes
        if at_top:
            screen.table.action_first()
        await pilot.pause(0.5)
        for generation in range(repeats):
            engine.advance(1.0)
            now = engine.now
            runs = screen._runs
            moved = []
            for run_id in random.Random(generation).sample(sorted(runs), len(runs) // 20):
                run = runs[run_id]
                status = RunStatus(NEXT_STATUS.get(run.status.value, run.status.value))
                moved.append(replace(run, status=status, updated_at=now, started_at=run.started_at or now))
            gc.collect()
            start = time.perf_counter()
            for run in moved:
                screen.take(run)
            screen.render_rows()
            done = time.perf_counter()
            # The frame that shows the change; none comes when nothing on screen changed (then the pane's work is all).
            stamp = await frame_after(probe, start, lambda: True, timeout=0.5)
            times.append(((done if stamp != stamp else stamp) - start) * 1000)
            work.append((done - start) * 1000)
            await pilot.pause(0.1)
    return times, work


async def queues_progress(url: str, key: str, count: int) -> tuple[float, float, list[float]]:
    """The real app on the default budget against a loopback simulator of `count` queues: seconds from the app's
    start to its first queue row and to all of them, and the ms each page's pane rebuild held the UI."""
    from tui.app import PlatosApp
    from tui.cli import make_client
    from tui.config import Settings
    from tui.screens.queues import QueuesScreen

    held: list[float] = []
    original = QueuesScreen.render_rows

    def timed(screen: QueuesScreen) -> None:
        started = time.perf_counter()
        original(screen)
        held.append((time.perf_counter() - started) * 1000)

    QueuesScreen.render_rows = timed  # type: ignore[method-assign,assignment]
    settings = Settings(profile="bench", url=url, secret_key=key, allow_insecure_http=True)
    first = everything = float("nan")
    try:
        app = PlatosApp(settings, make_client=make_client)
        started = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while time.perf_counter() - started < 300:
                table = getattr(app.screen, "table", None)
                shown = table.total_count if isinstance(table, FastTable) else 0
                if shown and first != first:
                    first = time.perf_counter() - started
                if shown >= count:
                    everything = time.perf_counter() - started
                    break
                await pilot.pause(0.02)
    finally:
        QueuesScreen.render_rows = original  # type: ignore[method-assign]
    return first, everything, held


async def list_every_queue(url: str, key: str) -> float:
    """The old path's first row: reading every page before drawing one, on the same budget."""
    from tui.cli import make_client
    from tui.config import Settings

    client = make_client(Settings(profile="bench", url=url, secret_key=key, allow_insecure_http=True))
    started = time.perf_counter()
    async with client:
        await client.list_queues()
    return time.perf_counter() - started


# ----- 4. steady state -----------------------------------------------------------------------------------


async def steady_state(count: int, seconds: float, interval: float = 2.0) -> tuple[float, float, float]:
    """CPU % of one core, KB written per refresh with 5% churn, and KB per refresh when nothing changed."""
    app = FastApp()
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        table = app.query_one(FastTable)
        rows = [Row(f"k{i}", make_cells(i)) for i in range(count)]
        table.set_rows(rows)
        await pilot.pause(0.5)
        probe.bytes.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        generation = 0
        while time.perf_counter() - wall0 < seconds:
            generation += 1
            rows, _ = churn(rows, generation)
            table.set_rows(rows)
            await asyncio.sleep(interval)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        per_refresh = sum(probe.bytes) / max(1, generation) / 1024
        probe.bytes.clear()
        for _ in range(3):
            table.set_rows(list(rows))
            await asyncio.sleep(0.3)
        unchanged = sum(probe.bytes) / 3 / 1024
    return cpu, per_refresh, unchanged


async def steady_app(url: str, loaded: int, seconds: float) -> tuple[float, float, float, int, float]:
    """The real console (its own client at the default budget) on the runs pane of a simulator in another
    process, with `loaded` runs paged in: CPU % of one core and KB written to the terminal per refresh while it
    polls on its own for `seconds`, its RSS in MB, the refreshes counted, and how long paging in took."""
    from tui.app import PlatosApp
    from tui.cli import make_client
    from tui.config import Settings
    from tui.sim import server

    settings = Settings(profile="bench", url=url, secret_key=server.DEFAULT_SECRET_KEY, read_only=True)
    app = PlatosApp(settings, make_client=make_client, freeze_start_up=True)  # as the CLI builds it
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        await pilot.press("2")
        screen: Any = app.screen
        began = time.perf_counter()
        while screen.table.total_count == 0 and time.perf_counter() - began < 60:
            await pilot.pause(0.2)
        while screen.table.total_count < loaded and screen.more_below and time.perf_counter() - began < 600:
            screen.table.action_last()  # scrolling to the end pulls the next page in
            await pilot.pause(0.2)
        paging = time.perf_counter() - began
        # Back to the top, where the stuck runs are: at the last row the pane would go on paging in older runs.
        screen.table.action_first()
        # The steady state starts once the first triage has judged the rows (at 1,000 queues it takes ~130
        # requests, a minute of the budget) and the last page's rebuild has settled.
        while app.session is not None and app.session.triaged is None and time.perf_counter() - began < 900:
            await pilot.pause(1.0)
        await pilot.pause(5.0)
        gc.collect()
        probe.bytes.clear()
        ticks0 = screen._ticks
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        refreshes = screen._ticks - ticks0
        per_refresh = sum(probe.bytes) / max(1, refreshes) / 1024
        rss = rss_mb()
    return cpu, per_refresh, rss, refreshes, paging


def child_steady(url: str, loaded: int, seconds: float) -> None:
    cpu, kb, rss, refreshes, paging = asyncio.run(steady_app(url, loaded, seconds))
    print(f"{cpu:.3f} {kb:.3f} {rss:.1f} {refreshes} {paging:.1f}")


# ----- 5. memory -----------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def active_world(count: int) -> Any:
    """A simulated environment frozen at START with `count` active runs (QUEUED, EXECUTING, WAITING, DEQUEUED in
    turn) of 37 tasks, one created every 0.6 s, each tagged with one of 97 customers; no worker pulls any."""
    import math
    from datetime import timedelta

    from tests.app.console_sim import blank
    from tui.sim.scenarios import SEEDED_SNAPSHOTS
    from tui.sim.state import Plan

    world = blank()
    engine = world.engine
    engine.workers = 0
    queues = [engine.add_queue(f"task-{t}", "task", None) for t in range(37)]
    stuck = Plan(duration=math.inf, never_starts=True, heartbeats=True)
    statuses = ("PENDING", "EXECUTING", "WAITING_TO_RESUME", "DEQUEUED")
    for i in reversed(range(count)):  # oldest first, as the engine admits them
        queue, status = queues[i % 37], statuses[i % 4]
        created = engine.now - timedelta(minutes=i / 100)
        run = engine.seed_run(queue.name, queue, created, stuck, status, SEEDED_SNAPSHOTS.get(status, "EXECUTING"))
        run.tags = [f"customer:{i % 97}"]
        if status == "PENDING":
            engine.add_waiting(queue, run)
            continue
        run.version = engine.version
        run.started_at = run.locked_at = created
        if status != "WAITING_TO_RESUME":
            queue.dequeued.add(run.iid)
            queue.operational.add(run.iid)
    return world


def child_memory(kind: str) -> None:
    async def main() -> None:
        if kind == "console":
            from tests.app.harness import make_app, settings

            before = rss_mb()
            world = active_world(10_000)
            gc.collect()
            simulator = rss_mb() - before  # the in-process server's share, not the console's
            app = make_app(world, settings())
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.press("2")
                await pilot.pause(0.3)
                screen: Any = app.screen
                while screen.table.total_count < 10_000:
                    screen.table.action_last()
                    await pilot.pause(0.02)
                gc.collect()
                rss = rss_mb() - simulator
                # The pane's own share of a tick: rebuild rows for 10,000 runs when 5% of them changed.
                assert app.session is not None
                app.session.paused = True
                await pilot.pause(0.2)
                timings = []
                for generation in range(5):
                    runs = screen._runs
                    for run_id in random.Random(generation).sample(sorted(runs), 500):
                        runs[run_id] = replace(runs[run_id], tags=(f"gen:{generation}",))
                    start = time.perf_counter()
                    screen.render_rows()
                    timings.append((time.perf_counter() - start) * 1000)
                    await pilot.pause(0.05)
                print(f"{rss:.1f} {statistics.median(timings):.1f}")
        else:
            stock = StockApp()
            async with stock.run_test(size=(120, 40)) as pilot:
                load_stock(stock.query_one(DataTable), 10_000)
                await pilot.pause(0.3)
                gc.collect()
                print(f"{rss_mb():.1f} nan")

    asyncio.run(main())


def memory() -> tuple[float, float, float]:
    """RSS of the console with 10,000 runs (the real client over an in-process simulator; the simulator's own
    memory is not counted) and of a stock DataTable app with 10,000 rows; pane rebuild ms."""

    def measure(kind: str) -> list[float]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", f"memory-{kind}"],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        return [float(value) for value in out.stdout.strip().splitlines()[-1].split()]

    ours, rebuild = measure("console")
    stock, _ = measure("stock")
    return ours, stock, rebuild


# ----- 6. request budget at scale ------------------------------------------------------------------------


async def budget_at_scale(
    url: str, key: str, seconds: float
) -> tuple[list[tuple[float, bool]], dict[str, float], dict[str, float]]:
    """Every request the console sends while an operator cycles the panes (and pages the runs) against a
    simulator with 1,000 queues and 10,000 runs, at the default budget, each marked whether a burst sent it (a
    triage the operator asked for, outside the sustained rate by design: `tui/api/budget.py`). Per pane: the
    longest wait for fresh data after switching to it, and the worst data age once it was fresh."""
    import httpx

    from tui.api.client import EngineClient
    from tui.api.guard import WriteGuard
    from tui.app import PlatosApp
    from tui.config import Settings

    stamps: list[tuple[float, bool]] = []
    clients: list[EngineClient] = []

    class Counted(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            stamps.append((time.monotonic(), any(client._budget.bursting for client in clients)))
            return await super().handle_async_request(request)

    settings = Settings(profile="bench", url=url, secret_key=key, allow_insecure_http=True)

    def make_client(config: Settings) -> EngineClient:
        client = EngineClient(
            config.url,
            config.secret_key,
            transport=Counted(),
            budget_per_second=config.budget_per_second,
            guard=WriteGuard(read_only=True),
            allow_insecure_http=True,
        )
        clients.append(client)
        return client

    to_fresh: dict[str, float] = {}
    worst_age: dict[str, float] = {}
    app = PlatosApp(settings, make_client=make_client)
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.monotonic()
        panes = ["1", "2", "3", "4", "1", "2"]
        step = seconds / len(panes)
        for index, key_name in enumerate(panes):
            await pilot.press(key_name)
            session = app.session
            assert session is not None
            name, shown, fresh = app.current_mode, session.clock(), False
            while time.monotonic() - start < (index + 1) * step:
                if key_name == "2":
                    await pilot.press("pagedown")  # scrolling pulls further pages in
                await pilot.pause(0.5)
                updated = session.pane(name).updated_at
                now = session.clock()
                if not fresh and updated is not None and updated > shown:
                    fresh = True
                    to_fresh[name] = max(to_fresh.get(name, 0.0), (updated - shown).total_seconds())
                if fresh and updated is not None:
                    worst_age[name] = max(worst_age.get(name, 0.0), (now - updated).total_seconds())
            if not fresh:
                to_fresh[name] = float("inf")
    return stamps, to_fresh, worst_age


def windows(stamps: list[float], width: float) -> float:
    """The most requests per second in any window of `width` seconds."""
    best, left = 0, 0
    for right in range(len(stamps)):
        while stamps[right] - stamps[left] > width:
            left += 1
        best = max(best, right - left + 1)
    return best / width


# ----- main ----------------------------------------------------------------------------------------------


def start_sim(queues: int | None = None, runs: int | None = None) -> tuple[str | None, str | None, Any]:
    """The incident simulator on a loopback port, or Nones when the simulator cannot be imported."""
    try:
        from tui.sim.server import SimOptions, start_in_background
    except ImportError:
        return None, None, None
    running = start_in_background(SimOptions(port=0, scenario="incident", seed=1, queues=queues, runs=runs))
    return running.url, running.secret_key, running



def section_startup(quick: bool) -> None:
    repeats = 3 if quick else 7
    # An installed console has its bytecode compiled by pip; an editable checkout may not (for example with
    # PYTHONDONTWRITEBYTECODE set), and compiling on every launch is not what a user pays.
    compileall.compile_dir(ROOT / "tui", quiet=1)
    url, key, sim = start_sim()
    if url is None:
        print("\n1. start-up: not measured (the simulator could not be imported)")
        return
    try:
        print(f"\n1. start-up in a pseudo-terminal, exec to the first queue name in its output, median of {repeats}")
        for size in ((80, 24), (200, 50)):
            bare, console = startup_pty(repeats, url, key or "", size)
            ratio = statistics.median(console) / statistics.median(bare)
            print(
                f"   {size[0]}x{size[1]:<3}  bare Textual app {statistics.median(bare):5.2f} s"
                f"   platos-tui {statistics.median(console):5.2f} s   ratio {ratio:.2f}"
                f"   target ≤ 1.5: {met(ratio <= 1.5)}"
            )
        bare, console = startup(repeats, url, key)
        ratio = statistics.median(console) / statistics.median(bare)
        print(
            f"   headless (shortcut: no terminal, app code only)  bare {statistics.median(bare):5.2f} s"
            f"   platos-tui {statistics.median(console):5.2f} s   ratio {ratio:.2f}   target ≤ 1.5: {met(ratio <= 1.5)}"
        )
    finally:
        sim.stop()


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def section_refresh(quick: bool) -> None:
    repeats = 3 if quick else 7
    print("\n2. refresh with 5% of rows changed, change applied to frame painted (median ms)")
    stock_at: dict[int, float] = {}
    for count in (1_000, 10_000):
        fast, stock = asyncio.run(refresh_cost(count, repeats))
        stock_at[count] = stock
        print(
            f"   {count:>6} rows   FastTable alone (widget-only shortcut) {fast:7.1f} ms   DataTable {stock:7.1f} ms"
            f"   ratio {fast / stock:.2f}   target ≤ 20 ms and ≤ 0.25: {met(fast <= 20 and fast / stock <= 0.25)}"
        )
    for at_top, where in ((False, "cursor on a run deep in the list, followed"), (True, "cursor on the first row")):
        pane, work = asyncio.run(pane_refresh(10_000, max(9, repeats), at_top=at_top))
        median, worst = statistics.median(pane), max(pane)
        print(
            f"   {10_000:>6} runs   runs pane, real path (pane rebuild + table + frame), {where}:"
            f" median {median:6.1f} ms, worst {worst:6.1f} ms   DataTable {stock_at[10_000]:7.1f} ms"
            f"   target ≤ 20 ms: {met(median <= 20)}"
        )
        rebuild = statistics.median(work)
        print(f"{'':17}of which the pane's take() and rebuild before the frame: median {rebuild:6.1f} ms")


def section_queues(quick: bool) -> None:
    count = 10_000
    print(f"\n2b. {count:,} queues at the default budget (2/s), loopback simulator in this process: first rows")
    url, key, sim = start_sim(queues=count, runs=10_000)
    if url is None:
        print("   not measured (the simulator could not be imported)")
        return
    try:
        first, everything, held = asyncio.run(queues_progress(url, key or "", count))
        baseline = asyncio.run(list_every_queue(url, key or ""))
    finally:
        sim.stop()
    print(
        f"   first queue rows {first:6.2f} s   baseline (every page read before a row is drawn) {baseline:6.2f} s"
        f"   target ≤ 1 s: {met(first <= 1.0)}"
    )
    print(f"   all {count:,} rows {everything:6.2f} s (the budget's pace: {count // 100} pages at 2/s)")
    if held:
        print(
            f"   pane rebuild per page: median {statistics.median(held):5.1f} ms, worst {max(held):5.1f} ms"
            f"   target ≤ 50 ms (the key-latency budget): {met(max(held) <= 50)}"
        )


async def pane_switch(url: str, rounds: int, *, textual_mask: bool) -> list[float]:
    """Ms from a pane key to the first frame of that pane, switching between panes already shown: the real app
    and client against a simulator in its own process. With `textual_mask`, Textual's own 50 ms hold on repaints
    at a switch of mode (the baseline) instead of the console's one frame."""
    from tui.app import PlatosApp
    from tui.cli import make_client
    from tui.config import Settings
    from tui.sim import server

    class Stock(PlatosApp):
        delay_update = App.delay_update

    settings = Settings(profile="bench", url=url, secret_key=server.DEFAULT_SECRET_KEY, allow_insecure_http=True)
    # As the CLI builds it (the process is the console's alone).
    app = (Stock if textual_mask else PlatosApp)(settings, make_client=make_client, freeze_start_up=True)
    times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        probe = Probe(app)
        for key in "2341":  # each pane shown once
            await pilot.press(key)
            await pilot.pause(2.0)
        for index in range(rounds):
            key = "2341"[index % 4]
            start = time.perf_counter()
            await pilot.press(key)
            mode = app.current_mode

            def shown(mode: str = mode) -> bool:
                return app.current_mode == mode

            stamp = await frame_after(probe, start, shown)
            times.append((stamp - start) * 1000)
            await pilot.pause(0.5)
    return times


def section_keys(quick: bool) -> None:
    print("\n3. key pressed as a 5% refresh starts, press to painted cursor (p95 ms)")
    presses = 20 if quick else 40
    for count in (1_000, 10_000):
        fast = asyncio.run(key_latency(count, presses, stock_table=False))
        stock = asyncio.run(key_latency(count, presses, stock_table=True))
        print(
            f"   {count:>6} rows   FastTable {fast:7.1f} ms   DataTable {stock:7.1f} ms"
            f"   target ≤ 50 ms: {met(fast <= 50)}"
        )
    rounds = 12 if quick else 40
    with sim_process(1_000, 100_000) as (url, _, _):
        ours = asyncio.run(pane_switch(url, rounds, textual_mask=False))
        masked = asyncio.run(pane_switch(url, rounds, textual_mask=True))
    worst = p95(ours)
    print(
        "   pane switch (1-4, panes already shown; `sim --queues 1000 --runs 100000` in its own process),"
        " key to the new pane's first frame:\n     median"
        f" {statistics.median(ours):5.1f} ms, p95 {worst:5.1f} ms   with Textual's 50 ms mask (the baseline): median"
        f" {statistics.median(masked):5.1f} ms   p95 ≤ 50 ms (the key-latency budget): {met(worst <= 50)}"
    )


def section_steady(quick: bool) -> None:
    seconds = 30.0 if quick else 120.0
    loaded = 10_000
    print(f"\n4. steady state of the real app: runs pane, {loaded:,} runs paged in, polling, {seconds:.0f} s")
    with sim_process(1_000, 100_000) as (url, _, _):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "steady", "--url", url, "--seconds", str(seconds)],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=seconds + 900,
        )
    cpu, kb, rss, refreshes, paging = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
    print(
        f"   against `sim --queues 1000 --runs 100000` in its own process: CPU {cpu:5.2f}% of one core"
        f" (target ≤ 1%: {met(cpu <= 1)})   written {kb:5.2f} KB per refresh (target ≤ 1 KB: {met(kb <= 1)})"
    )
    print(
        f"   resident memory {rss:6.1f} MB (target ≤ 100 MB: {met(rss <= 100)})"
        f"   {int(refreshes)} refreshes; paging {loaded:,} runs in took {paging:.0f} s at the default budget"
    )
    fast_cpu, per_refresh, unchanged = asyncio.run(steady_state(10_000, 10.0 if quick else 30.0))
    print(
        f"   the FastTable widget alone (a shortcut: no app, no client), 10,000 rows, 5% churn every 2 s:"
        f" CPU {fast_cpu:5.2f}%, {per_refresh:5.2f} KB per refresh, unchanged refresh {unchanged:4.2f} KB"
    )


def section_memory(quick: bool) -> None:
    ours, stock_mb, rebuild = memory()
    print("\n5. resident memory with 10,000 runs loaded")
    print(
        f"   platos-tui runs pane {ours:6.1f} MB   stock DataTable app with 10,000 rows {stock_mb:6.1f} MB"
        f"   (target ≤ 100 MB: {met(ours <= 100)})"
    )
    print(f"   runs pane rebuilding its rows for 10,000 runs with 5% changed: {rebuild:.1f} ms (median of 5)")


def section_budget(quick: bool) -> None:
    seconds = 30.0 if quick else 90.0
    print(f"\n6. requests against the budget (2/s), 1,000 queues and 10,000 runs, all panes in turn, {seconds:.0f} s")
    url, key, sim = start_sim(queues=1_000, runs=10_000)
    if url is None:
        print("   not measured (the simulator could not be imported)")
        return
    try:
        stamps, to_fresh, worst = asyncio.run(budget_at_scale(url, key or "", seconds))
    finally:
        sim.stop()
    every = [stamp for stamp, _ in stamps]
    paced = [stamp for stamp, burst in stamps if not burst]
    span = every[-1] - every[0] if len(every) > 1 else 1.0
    print(
        f"   {len(every)} requests, {len(every) - len(paced)} of them in the triage's bursts (outside the sustained"
        " rate by design, within the server's bucket)"
    )
    busiest = windows(paced, 10)
    print(
        f"   the rest (polling, paging): mean {len(paced) / span:4.2f}/s, busiest 10 s {busiest:4.2f}/s,"
        f" busiest 1 s {windows(paced, 1):3.0f}   budget: 2/s sustained with bursts of 4, so at most 2.4/s over"
        f" 10 s: {met(busiest <= 2.4)}"
    )
    visit = seconds / 6
    for name in sorted(to_fresh):
        if to_fresh[name] == float("inf"):
            print(f"   {name:<10} no fresh data within a {visit:.0f} s visit")
            continue
        # The target for the triage pane: its findings within one visit (it showed nothing for 15 s).
        verdict = ""
        if name == "triage":
            verdict = f"   findings within the {visit:.0f} s visit: {met(to_fresh[name] <= visit)}"
        print(
            f"   {name:<10} fresh data {to_fresh[name]:4.1f} s after switching to it,"
            f" then at most {worst.get(name, float('nan')):4.1f} s old{verdict}"
        )


def section_triage(quick: bool) -> None:
    """`platos-tui triage --json` in a subprocess, as an operator runs it, against simulators of three sizes."""
    sizes: tuple[tuple[int | None, int | None, float], ...] = (
        (None, None, 3.0),
        (1_000, 100_000, 20.0),
        (10_000, 100_000, 60.0),
    )
    """Each simulator's size, and the triage's target wall time on it."""
    repeats = 1 if quick else 3
    print(f"\n7. `platos-tui triage --json` wall time, the incident demo and two large simulators, median of {repeats}")
    for queues, runs, target in sizes:
        url, key, sim = start_sim(queues=queues, runs=runs)
        if url is None:
            print("   not measured (the simulator could not be imported)")
            return
        try:
            took, data = [], {}
            for _ in range(repeats):
                env = {**os.environ, "PLATOS_SECRET_KEY": key or "", "PLATOS_TUI_CONFIG": "/nonexistent/config.toml"}
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "tui", "--url", url, "triage", "--json"],
                    capture_output=True, text=True, env=env, check=False, timeout=300,
                )
                took.append(time.perf_counter() - started)
                data = json.loads(done.stdout)
        finally:
            sim.stop()
        checked, median = data["checked"], statistics.median(took)
        print(
            f"   {checked['queues']:>6} queues  {median:6.2f} s  {checked['requests']:4d} requests"
            f"  target ≤ {target:.0f} s: {met(median <= target)}  findings {[f['cause'] for f in data['findings']]}"
        )


# ----- 8. the simulator at scale -------------------------------------------------------------------------


SIM_REQUESTS = 150
"""Requests per kind: with the warm-up, fewer than the simulator's 750-token rate-limit bucket."""


async def sim_request_cost(queues: int, runs: int, requests: int) -> dict[str, list[float]]:
    """Wall ms per retrieve and list call against the in-process simulator (its clock follows the real one)."""
    import httpx

    from tui.sim import server

    app = server.create_app(server.SimOptions(scenario="incident", seed=1, queues=queues, runs=runs))
    engine = app.state.sim.engine
    active = [r.friendly for r in engine.order[-runs // 10 :]]
    rng = random.Random(5)
    headers = {"authorization": f"Bearer {server.DEFAULT_SECRET_KEY}"}
    took: dict[str, list[float]] = {"retrieve": [], "list": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim", headers=headers) as c:
        for _ in range(10):
            (await c.get("/api/v1/runs")).raise_for_status()
        for _ in range(requests):
            for kind, path in (("retrieve", f"/api/v3/runs/{rng.choice(active)}"), ("list", "/api/v1/runs")):
                started = time.perf_counter()
                (await c.get(path)).raise_for_status()
                took[kind].append((time.perf_counter() - started) * 1000)
    return took


@contextmanager
def sim_process(queues: int, runs: int, timeout: float = 300.0) -> Iterator[tuple[str, float, int]]:
    """`platos-tui sim` in its own process (its CPU and memory are not the console's): its URL, the seconds from
    exec until it answered a run list (nan if it never did), and its pid."""
    import socket

    import httpx

    from tui.sim import server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tui", "sim", "--port", str(port), "--queues", str(queues), "--runs", str(runs)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    headers = {"authorization": f"Bearer {server.DEFAULT_SECRET_KEY}"}
    took = float("nan")
    # One client for every attempt: a new one per attempt builds an SSL context, CPU the child would miss.
    client = httpx.Client(headers=headers, timeout=60)
    try:
        while time.perf_counter() - started < timeout and child.poll() is None:
            try:
                if client.get(f"http://127.0.0.1:{port}/api/v1/runs").status_code == 200:
                    took = time.perf_counter() - started
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        client.close()
        yield f"http://127.0.0.1:{port}", took, child.pid
    finally:
        client.close()
        child.terminate()
        child.wait(timeout=30)


def sim_start(queues: int, runs: int, timeout: float = 300.0) -> tuple[float, float]:
    """Seconds from exec of `platos-tui sim` until it answers a run list, and its peak RSS in MB."""
    with sim_process(queues, runs, timeout) as (_, took, pid):
        peak = float("nan")
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
        return took, peak


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "missed"


def section_simulator(quick: bool) -> None:
    requests = 50 if quick else SIM_REQUESTS
    print("\n8. the simulator at scale (the engine behind --demo, the tests and these benchmarks)")
    took = asyncio.run(sim_request_cost(1_000, 100_000, requests))
    print(f"   1,000 queues, 100,000 runs, in-process ASGI, {requests} calls each, clock following real time")
    for kind in ("retrieve", "list"):
        median = statistics.median(took[kind])
        p90 = statistics.quantiles(took[kind], n=10)[-1]
        print(
            f"   {kind:<8} median {median:6.2f} ms  p90 {p90:6.2f} ms"
            f"   target ≤ 1.5 ms median   {verdict(median, 1.5)}"
        )
    seconds, peak = sim_start(10_000, 1_000_000)
    print("   `platos-tui sim --queues 10000 --runs 1000000`, exec to first answered run list")
    print(f"   start  {seconds:6.1f} s    target ≤ 30 s      {verdict(seconds, 30.0)}")
    print(f"   peak RSS {peak:6.0f} MB  target ≤ 2048 MB   {verdict(peak, 2048.0)}")


SECTIONS = {
    "startup": section_startup,
    "refresh": section_refresh,
    "queues": section_queues,
    "keys": section_keys,
    "steady": section_steady,
    "memory": section_memory,
    "budget": section_budget,
    "triage": section_triage,
    "simulator": section_simulator,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run just these sections")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.child == "steady":
        return child_steady(args.url, 10_000, args.seconds)
    if args.child and args.child.startswith("memory-"):
        return child_memory(args.child.removeprefix("memory-"))
    print(f"platos-tui console benchmark · python {sys.version.split()[0]} · {os.cpu_count()} cores")
    for name, section in SECTIONS.items():
        if not args.only or name in args.only:
            section(args.quick)


if __name__ == "__main__":
    main()
