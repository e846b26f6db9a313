"""What the run detail screen shows, loaded through the client on each poll (no Textual here)."""

from __future__ import annotations

import asyncio
import time

from tui.api.client import EngineClient
from tui.api.errors import ApiError, NotFound
from tui.model import JSON, WAIT_FOR_TOKEN, Deployment, QueueType, Run, RunDetail, SpanDetail, Trace
from tui.model.text import clean
from tui.widgets.json_view import JsonPreview, prepare_json
from tui.widgets.run_summary import QueueInfo
from tui.widgets.trace_tree import looks_like_tool_call

QUEUE_EVERY_SECONDS = 6.0
DEPLOYMENT_EVERY_SECONDS = 60.0
SPAN_DETAILS_PER_TICK = 4


def reason(error: ApiError) -> str:
    """The operator-facing reason of an API error, safe to show."""
    return clean(str(error) or type(error).__name__, 120)


class RunDetailData:
    """The last good state of one run and its surroundings; a failed call keeps what it cannot refresh."""

    def __init__(self, client: EngineClient, run_id: str) -> None:
        self._client = client
        self.run_id = run_id
        self.detail: RunDetail | None = None
        self.trace: Trace | None = None
        self.trace_note = "trace: loading…"
        self.span_details: dict[str, SpanDetail] = {}
        self._span_missing: set[str] = set()
        self.queue_info: QueueInfo | None = None
        self._queue_fetched = 0.0
        self.live_version: str | None = None
        self.deployment_known = False
        self._deployment_fetched = 0.0
        self.previews: dict[str, JsonPreview] = {}
        self._preview_sources: dict[str, JSON] = {}

    async def load(self) -> list[str]:
        """Refresh everything; returns the problems of secondary calls. The run's own errors propagate."""
        detail = await self._client.retrieve_run(self.run_id)
        problems: list[str] = []
        await self._load_trace(problems)
        await self._load_span_details(problems)
        await self._load_queue(detail.run, problems)
        await self._load_deployment(problems)
        await self._prepare_previews(detail)
        self.detail = detail
        return problems

    async def _load_trace(self, problems: list[str]) -> None:
        try:
            self.trace = await self._client.run_trace(self.run_id)
        except NotFound:
            if self.trace is None:
                self.trace_note = "no trace yet (the run has not emitted any spans)"
        except ApiError as error:
            problems.append(f"trace: {reason(error)}")

    async def _load_span_details(self, problems: list[str]) -> None:
        """Wait spans carry the token id and open tool calls the entity name; both live in span detail."""
        if self.trace is None:
            return
        wanted = [
            span
            for _, span in self.trace.root.walk()
            if span.id not in self.span_details
            and span.id not in self._span_missing
            and (span.message == WAIT_FOR_TOKEN or (span.is_partial and looks_like_tool_call(span)))
        ]
        for span in wanted[:SPAN_DETAILS_PER_TICK]:
            try:
                await self.fetch_span_detail(span.id)
            except ApiError as error:
                problems.append(f"span detail: {reason(error)}")

    def wants_detail(self, span_id: str) -> bool:
        return span_id not in self.span_details and span_id not in self._span_missing

    async def fetch_span_detail(self, span_id: str) -> SpanDetail | None:
        """Fetch and cache one span's detail; None (remembered) when the server has no such span."""
        try:
            detail = await self._client.span_detail(self.run_id, span_id)
        except NotFound:
            self._span_missing.add(span_id)
            return None
        self.span_details[span_id] = detail
        return detail

    async def _load_queue(self, run: Run, problems: list[str]) -> None:
        """The API never names a run's queue: use Run.queue when known, else the task queue as a guess."""
        if run.queue is not None:
            name, likely = run.queue, False
        else:
            name, likely = f"task/{run.task_identifier}", True
        fresh = time.monotonic() - self._queue_fetched < QUEUE_EVERY_SECONDS and not run.terminal
        if fresh and self.queue_info is not None and self.queue_info.name == name:
            return
        queue_type = QueueType.TASK if name.startswith("task/") else QueueType.CUSTOM
        lookup = name.removeprefix("task/") if queue_type is QueueType.TASK else name
        previous = self.queue_info.queue if self.queue_info and self.queue_info.name == name else None
        missing = False
        try:
            queue = await self._client.retrieve_queue(lookup, queue_type)
        except NotFound:
            queue, missing = None, True
        except ApiError as error:
            problems.append(f"queue: {reason(error)}")
            queue = previous
        self.queue_info = QueueInfo(name=name, likely=likely, queue=queue, missing=missing)
        self._queue_fetched = time.monotonic()

    async def _load_deployment(self, problems: list[str]) -> None:
        if self.deployment_known and time.monotonic() - self._deployment_fetched < DEPLOYMENT_EVERY_SECONDS:
            return
        try:
            current: Deployment | None = await self._client.current_deployment()
        except NotFound:
            current = None
        except ApiError as error:
            problems.append(f"deployment: {reason(error)}")
            return
        self.live_version = None if current is None else current.version
        self.deployment_known = True
        self._deployment_fetched = time.monotonic()

    async def _prepare_previews(self, detail: RunDetail) -> None:
        """Format payload, output and metadata off the UI thread, and only when they changed."""
        wanted: dict[str, JSON] = {}
        if detail.payload is not None:
            wanted["payload"] = detail.payload
        if detail.output is not None:
            wanted["output"] = detail.output
        if detail.run.metadata:
            wanted["metadata"] = dict(detail.run.metadata)
        for name, value in wanted.items():
            if name in self.previews:
                if name == "payload":
                    continue  # a run's payload never changes: skip re-comparing megabytes on every poll
                if self._preview_sources.get(name) == value:
                    continue
            self.previews[name] = await asyncio.to_thread(prepare_json, value)
            self._preview_sources[name] = value
        for name in [name for name in self.previews if name not in wanted]:
            del self.previews[name]
            self._preview_sources.pop(name, None)
