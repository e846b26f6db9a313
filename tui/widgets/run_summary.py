"""The run detail summary: status, lifecycle timeline, queue, deployment, tags, and where the run hangs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from textual.content import Content
from textual.widgets import Static

from tui.model import Queue, RunDetail, RunStatus, TokenDetail, TokenStatus, time_in_status
from tui.model.text import clean
from tui.widgets.format import duration

Part = str | tuple[str, str]
MAX_TAGS = 8


def clock_time(moment: datetime) -> str:
    """UTC time of day with the date, e.g. 08-21 18:01:03Z."""
    return moment.strftime("%m-%d %H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Milestone:
    """One step of a run's lifecycle; `at` is None when it has not happened (or the API cannot say)."""

    label: str
    at: datetime | None


def lifecycle(detail: RunDetail) -> list[Milestone]:
    """created, queued, started, finished. The API has no separate dequeue time: `startedAt` covers both."""
    run = detail.run
    queued_at: datetime | None = run.delayed_until if run.delayed_until is not None else run.created_at
    if run.status in (RunStatus.DELAYED, RunStatus.PENDING_VERSION):
        queued_at = None
    finished = run.finished_at if run.terminal else None
    if run.terminal and finished is None:
        finished = run.expired_at or run.updated_at
    return [
        Milestone("created", run.created_at),
        Milestone("queued", queued_at),
        Milestone("dequeued/started", run.started_at),
        Milestone("finished", finished),
    ]


def status_style(status: RunStatus) -> str:
    if status is RunStatus.COMPLETED:
        return "bold $success"
    if status in (RunStatus.FAILED, RunStatus.CRASHED, RunStatus.SYSTEM_FAILURE, RunStatus.TIMED_OUT):
        return "bold $error"
    if status in (RunStatus.DEQUEUED, RunStatus.EXECUTING, RunStatus.WAITING):
        return "bold $warning"
    return "bold"


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """The queue the run most likely sits in, and its live counters when fetched."""

    name: str
    likely: bool
    queue: Queue | None = None
    missing: bool = False
    """The server has no queue of that name (so the guess was wrong)."""


@dataclass(frozen=True, slots=True)
class HungSpan:
    """The deepest open span of the trace and how long it has been open."""

    message: str
    age: timedelta
    hung: bool
    token_id: str | None = None
    entity: str | None = None


def _timeline_parts(detail: RunDetail, now: datetime) -> list[Part]:
    parts: list[Part] = []
    previous: datetime | None = None
    first_day = detail.run.created_at.date()
    for index, step in enumerate(lifecycle(detail)):
        if index:
            parts.append((" → ", "$text-muted"))
        parts.append((step.label + " ", "$text-muted"))
        if step.at is None:
            if previous is not None and not detail.run.terminal and step.label != "queued":
                parts.append(("— ", "$text-muted"))
                parts.append((f"{duration(now - previous)} so far", "$warning"))
                previous = None
            else:
                parts.append("—")
            continue
        if previous is not None and step.at == previous:
            parts.append("+0 s")
            continue
        same_day = index > 0 and step.at.date() == first_day
        parts.append(step.at.strftime("%H:%M:%SZ") if same_day else clock_time(step.at))
        if previous is not None:
            parts.append((f" +{duration(step.at - previous)}", "$text-muted"))
        previous = step.at
    return parts


def summary_content(
    detail: RunDetail,
    now: datetime,
    *,
    queue: QueueInfo,
    live_version: str | None,
    deployment_known: bool,
    hung: HungSpan | None,
) -> Content:
    """The summary block; every server string is cleaned and added as literal text."""
    run = detail.run
    lines: list[Sequence[Part]] = []
    lines.append(("Status   ", (run.status.value, status_style(run.status)), *_status_suffix(detail, now)))
    # What the operator came for goes first, so it stays visible when the summary must scroll (80x24).
    waiting = waiting_words(run.status, time_in_status(run, now), hung)
    if waiting is not None:
        lines.append(("Waiting  ", (waiting, "$warning")))
    elif hung is not None and run.status is RunStatus.EXECUTING:
        # "Hung" only past the span's threshold; before that it is simply where the run is now.
        lines.append(("Hung in  " if hung.hung else "Now in   ", *_hung_parts(hung)))
    if detail.error is not None:
        error = clean(detail.error.message, 200)
        name = clean(detail.error.name, 60) + ": " if detail.error.name else ""
        lines.append(("Error    ", (name + error, "$error")))
    lines.append(("Timeline ", *_timeline_parts(detail, now)))
    lines.append(("Task     ", (clean(run.task_identifier, 60), "bold"), "   Queue ", *_queue_parts(queue)))
    lines.append(
        (
            "Version  ",
            *_version_parts(run.version, live_version, deployment_known),
            f"   Attempts {detail.attempt_count}",
            f"   Trigger {clean(detail.trigger_function or '—')}",
        )
    )
    tags = ", ".join(clean(tag, 60) for tag in run.tags[:MAX_TAGS]) or "—"
    if len(run.tags) > MAX_TAGS:
        tags += f" (+{len(run.tags) - MAX_TAGS} more)"
    idem = clean(run.idempotency_key, 80) if run.idempotency_key else "—"
    lines.append(("Tags     ", tags, "   Idempotency key ", idem))
    parts: list[Part] = []
    for index, line in enumerate(lines):
        if index:
            parts.append("\n")
        parts.extend(line)
    return Content.assemble(*parts)


WAITING_FOR_A_WORKER = (RunStatus.QUEUED, RunStatus.DEQUEUED)


def waiting_words(status: RunStatus, age: timedelta, open_span: HungSpan | None) -> str | None:
    """What a run that is not executing waits for: a worker, or the open wait span; None otherwise."""
    if status in WAITING_FOR_A_WORKER:
        return f"for a worker for {duration(age)}"
    if status is RunStatus.WAITING:
        if open_span is None:
            return f"on a waitpoint for {duration(age)}"
        token = f" token {clean(open_span.token_id, 60)}" if open_span.token_id else ""
        return f"on {clean(open_span.message, 60)}{token} for {duration(open_span.age)}"
    return None


def _status_suffix(detail: RunDetail, now: datetime) -> list[Part]:
    run = detail.run
    if run.terminal:
        return [("  (final)", "$text-muted")]
    # The same estimate as the waiting line and the runs pane, so the two numbers never disagree.
    return [(f"  for {duration(time_in_status(run, now))}", "$text-muted")]


def _queue_parts(info: QueueInfo) -> list[Part]:
    parts: list[Part] = [clean(info.name, 60)]
    if info.likely:
        parts.append((" (likely)", "$text-muted"))
    queue = info.queue
    if info.missing:
        parts.append(("  not found: the task may use a custom queue", "$text-muted"))
    if queue is None:
        return parts
    limit = "∞" if queue.concurrency_limit is None else str(queue.concurrency_limit)
    parts.append(f"  running {queue.running}/{limit}  queued {queue.queued}")
    if queue.paused:
        parts.append(("  PAUSED", "bold $error"))
    return parts


def _version_parts(version: str | None, live: str | None, known: bool) -> list[Part]:
    if version is None:
        return ["— (not locked yet)"]
    parts: list[Part] = [clean(version, 40)]
    if not known:
        return parts
    if live is None:
        parts.append(("  (no live deployment)", "$text-muted"))
    elif live == version:
        parts.append(("  LIVE", "bold $success"))
    else:
        parts.append((f"  NOT LIVE (live is {clean(live, 40)})", "bold $warning"))
    return parts


def _hung_parts(hung: HungSpan) -> list[Part]:
    parts: list[Part] = [clean(hung.message, 60)]
    if hung.entity:
        parts.append(f"  entity {clean(hung.entity, 40)}")
    if hung.token_id:
        parts.append(f"  token {clean(hung.token_id, 60)}")
    parts.append((f"  ● running {duration(hung.age)}", "$warning"))
    if hung.hung:
        parts.append(("  HUNG HERE?", "bold reverse $warning"))
    return parts


class RunSummary(Static):
    """Render-only: the screen passes the content built by `summary_content`."""

    DEFAULT_CSS = "RunSummary { height: auto; }"

    def show(self, content: Content) -> None:
        self.update(content)


def token_content(detail: TokenDetail, now: datetime) -> Content:
    """The token a run waits on: status, age, timeout, tags, idempotency key (never its callback URL hash)."""
    token = detail.token
    status_style_ = "bold $warning" if token.status is TokenStatus.WAITING else "bold"
    parts: list[Part] = [
        ("Token ", "bold"),
        clean(token.id, 80),
        "  ",
        (token.status.value, status_style_),
        ("  created ", "$text-muted"),
        f"{clock_time(token.created_at)} ({duration(now - token.created_at)} ago)",
        ("\nTimeout ", "$text-muted"),
    ]
    if token.timeout_at is None:
        parts.append(("none: nothing will time this wait out", "$warning"))
    elif token.timeout_at > now:
        parts.append(f"{clock_time(token.timeout_at)} (in {duration(token.timeout_at - now)})")
    else:
        parts.append(f"{clock_time(token.timeout_at)} (passed)")
    if token.completed_at is not None:
        parts.append(f"  completed {clock_time(token.completed_at)}")
    tags = ", ".join(clean(tag, 60) for tag in token.tags) or "—"
    parts += [("\nTags ", "$text-muted"), tags]
    if token.idempotency_key:
        parts += [("  Idempotency key ", "$text-muted"), clean(token.idempotency_key, 60)]
    if detail.output is not None:
        parts += [("\nOutput ", "$text-muted"), clean(detail.output, 200)]
    return Content.assemble(*parts)
