"""Navigation requests that panes post and the app carries out (panes never switch modes themselves)."""

from __future__ import annotations

from textual.message import Message

from tui.model import QueueType


class OpenRuns(Message):
    """Show the runs pane, scoped to a queue (or unscoped with None)."""

    def __init__(self, queue: tuple[str, QueueType] | None, origin: str) -> None:
        super().__init__()
        self.queue = queue
        self.origin = origin


class OpenRun(Message):
    """Push the detail screen of one run."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
