"""What the run detail screen shows, loaded through the client on each poll (no Textual here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from tui.api.client import EngineClient
from tui.api.errors import ApiError, NotFound
from tui.diagnosis.fetching import bounded
from tui.model import JSON, WAIT_FOR_TOKEN, Deployment, QueueType, Run, RunDetail, SpanDetail, TokenDetail, Trace
from tui.model.text import clean
from tui.widgets.json_view import JsonPreview, prepare_json
from tui.widgets.run_summary import QueueInfo
from tui.widgets.trace_tree import looks_like_tool_call, token_id_for

QUEUE_EVERY_SECONDS = 6.0
DEPLOYMENT_EVERY_SECONDS = 60.0
TOKEN_EVERY_SECONDS = 10.0
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
        self.waited_tokens: list[str] = []
        """Tokens of the run's open `wait.forToken()` spans, in trace order."""
        self.tokens: dict[str, TokenDetail] = {}
        self.token_failures: dict[str, str] = {}
        self._tokens_fetched: dict[str, float] = {}

    async def load(self) -> list[str]:
        """Refresh everything; returns the problems of secondary calls. The run's own errors propagate."""
        detail = await self._client.retrieve_run(self.run_id)
        problems: list[str] = []
        await self._load_trace(problems)
        await self._load_span_details(problems)
        await self._load_tokens(problems)
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

    async def _load_tokens(self, problems: list[str]) -> None:
        """The tokens the run waits on, each looked up once per TOKEN_EVERY_SECONDS (one attempt: API.md §7.3)."""
        if self.trace is None:
            return
        self.waited_tokens = [
            token
            for _, span in self.trace.root.walk()
            if span.is_partial and (token := token_id_for(span, self.span_details.get(span.id))) is not None
        ]
        for token_id in self.waited_tokens:
            if time.monotonic() - self._tokens_fetched.get(token_id, -TOKEN_EVERY_SECONDS) < TOKEN_EVERY_SECONDS:
                continue
            self._tokens_fetched[token_id] = time.monotonic()
            try:
                self.tokens[token_id] = await self._client.retrieve_token(token_id, once=True)
                self.token_failures.pop(token_id, None)
            except ApiError as error:
                self.token_failures[token_id] = reason(error)
                problems.append(f"token {clean(token_id, 60)}: lookup failed ({reason(error)})")

    def wants_detail(self, span_id: str) -> bool:
        return span_id not in self.span_details and span_id not in self._span_missing

    def is_missing(self, span_id: str) -> bool:
        """The server answered 404 for this span's detail."""
        return span_id in self._span_missing

    def forget(self, span_id: str) -> None:
        """Drop what is cached of a span's detail, so the next look fetches it again."""
        self.span_details.pop(span_id, None)
        self._span_missing.discard(span_id)

    async def gather_details(self, span_ids: Sequence[str], limit: int) -> tuple[int, list[str]]:
        """Fetch the details not cached yet of at most `limit` of these spans, a few at a time.

        Returns how many were left unread by the limit, and the reasons of the fetches that failed.
        """
        wanted = [span_id for span_id in span_ids if self.wants_detail(span_id)]
        failures: list[str] = []

        async def one(span_id: str) -> None:
            try:
                await self.fetch_span_detail(span_id)
            except ApiError as error:
                failures.append(f"span {clean(span_id, 40)}: {reason(error)}")

        async with self._client.burst():  # the operator asked for it: burst, as a diagnosis does
            await bounded(wanted[:limit], one)
        return max(0, len(wanted) - limit), failures

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
