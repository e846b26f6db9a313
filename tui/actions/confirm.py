"""The confirmation each mutation asks for, as pure data: the Textual modal only renders it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tui.actions.inputs import BodyCheck, RunFilter
from tui.actions.rollback import RollbackPlan, dry_run_lines
from tui.config import Plugin, Settings
from tui.model import BulkAction, Queue, RepairReport, Run, time_in_status
from tui.model.duration import duration
from tui.model.text import clean

_ID_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Environment:
    """Which environment the action hits, for the modal's header (production in error colour and in words)."""

    type: str
    label: str
    production: bool

    @property
    def words(self) -> str:
        """How the effect sentence names it: `PRODUCTION`, or `staging (eu-stg)`."""
        if self.production:
            return "PRODUCTION" if self.label.lower() in ("production", "prod") else f"PRODUCTION ({self.label})"
        return self.type if self.label == self.type else f"{self.type} ({self.label})"


def environment_of(settings: Settings) -> Environment:
    return Environment(settings.env_type.value, settings.env_label, settings.production)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What the operator confirms. With `expected_text`, `y` is not enough: the text must be typed exactly."""

    action: str
    title: str
    environment: Environment
    targets: tuple[str, ...]
    effect: str
    details: tuple[str, ...] = ()
    expected_text: str | None = None

    @property
    def typing_required(self) -> bool:
        return self.expected_text is not None

    @property
    def prompt(self) -> str:
        if self.expected_text is None:
            return "Press y to confirm, n or esc to cancel."
        return f"Type {self.expected_text} and press enter to confirm, esc to cancel."

    def accepts(self, typed: str) -> bool:
        """Whether the typed answer confirms (only meaningful when typing is required)."""
        return self.expected_text is not None and typed.strip() == self.expected_text


def _id(value: str) -> str:
    return clean(value, _ID_LIMIT)


def _typed(settings: Settings, bulk_count: int | None = None) -> str | None:
    """Bulk actions need the number of runs typed; single actions in production need the environment name."""
    if bulk_count is not None:
        return str(bulk_count)
    return settings.env_label if settings.production else None


def _run_phrase(run: Run, now: datetime) -> str:
    age = duration(time_in_status(run, now))
    return f"run {_id(run.id)} (task {_id(run.task_identifier)}, {run.status.value} for {age})"


def confirm_cancel_run(run: Run, settings: Settings, now: datetime) -> Confirmation:
    env = environment_of(settings)
    return Confirmation(
        action="cancel_run",
        title="Cancel run",
        environment=env,
        targets=(run.id,),
        effect=f"Cancel {_run_phrase(run, now)} in {env.words}?",
        details=("POST /api/v2/runs/{id}/cancel: the run becomes CANCELED and its worker is told to stop.",),
        expected_text=_typed(settings),
    )


def confirm_cancel_runs(runs: Sequence[Run], settings: Settings, now: datetime) -> Confirmation:
    """Marked runs: one cancel request each. More than one run counts as bulk (type the count)."""
    if len(runs) == 1:
        return confirm_cancel_run(runs[0], settings, now)
    env = environment_of(settings)
    shown = [_run_phrase(r, now) for r in runs[:10]]
    if len(runs) > 10:
        shown.append(f"… and {len(runs) - 10} more")
    return Confirmation(
        action="cancel_runs",
        title=f"Cancel {len(runs)} marked runs",
        environment=env,
        targets=tuple(r.id for r in runs),
        effect=f"Cancel {len(runs)} marked runs in {env.words}?",
        details=tuple(shown),
        expected_text=_typed(settings, len(runs)),
    )


def confirm_cancel_matching(
    run_filter: RunFilter, count: int, settings: Settings, *, capped: bool = False, loaded: int | None = None
) -> Confirmation:
    """`loaded`: how many of the matching runs the pane has loaded, said when fewer than the count."""
    env = environment_of(settings)
    words = clean(run_filter.describe())
    if run_filter.run_ids:
        shown = [_id(run_id) for run_id in run_filter.run_ids[:10]]
        if len(run_filter.run_ids) > 10:
            shown.append(f"… and {len(run_filter.run_ids) - 10} more")
        return Confirmation(
            action="cancel_matching",
            title="Bulk cancel the runs shown",
            environment=env,
            targets=(words,),
            effect=f"Cancel the {count} runs shown [{words}] in {env.words}?",
            details=(
                "The text filter is not something the bulk API can match, so exactly these run ids are sent",
                "(POST /api/v1/bulk-actions with runIds): runs: " + ", ".join(shown),
            ),
            expected_text=_typed(settings, count),
        )
    many = f"at least {count}" if capped else str(count)
    details = [
        "A bulk action (POST /api/v1/bulk-actions) cancels every run matching the filter when it runs;",
        "the count can change until then. Runs that already finished count as failures.",
    ]
    if loaded is not None and loaded < count:
        details.append(f"The runs pane has loaded {loaded} of them; the rest are further down the list.")
    return Confirmation(
        action="cancel_matching",
        title="Bulk cancel matching runs",
        environment=env,
        targets=(words,),
        effect=f"Cancel all {many} runs matching [{words}] in {env.words}?",
        details=tuple(details),
        expected_text=_typed(settings, count),
    )


def confirm_abort_bulk(bulk: BulkAction, settings: Settings) -> Confirmation:
    env = environment_of(settings)
    progress = f"{bulk.success + bulk.failure} of {bulk.total} processed"
    return Confirmation(
        action="abort_bulk",
        title="Abort bulk action",
        environment=env,
        targets=(bulk.id,),
        effect=f"Abort bulk {bulk.type.value.lower()} {_id(bulk.id)} ({progress}) in {env.words}?",
        details=("Runs it already canceled stay canceled; the rest are left as they are.",),
        expected_text=_typed(settings),
    )


def _queue_phrase(queue: Queue) -> str:
    limit = "no limit" if queue.concurrency_limit is None else f"limit {queue.concurrency_limit}"
    return f"queue {_id(queue.name)} ({queue.queued} queued, {queue.running} running, {limit})"


def confirm_pause(queue: Queue, pause: bool, settings: Settings) -> Confirmation:
    env = environment_of(settings)
    verb = "Pause" if pause else "Resume"
    effect = (
        "Running runs continue; nothing new is dequeued until it is resumed."
        if pause
        else "Dequeueing starts again up to the queue's limit."
    )
    return Confirmation(
        action="pause_queue" if pause else "resume_queue",
        title=f"{verb} queue",
        environment=env,
        targets=(queue.name,),
        effect=f"{verb} {_queue_phrase(queue)} in {env.words}?",
        details=(effect,),
        expected_text=_typed(settings),
    )


def confirm_override(queue: Queue, limit: int, settings: Settings) -> Confirmation:
    env = environment_of(settings)
    base = queue.base_limit if queue.overridden else queue.concurrency_limit
    return Confirmation(
        action="override_concurrency",
        title="Override concurrency",
        environment=env,
        targets=(queue.name,),
        effect=f"Set the concurrency limit of {_queue_phrase(queue)} to {limit} in {env.words}?",
        details=(f"The base limit ({'none' if base is None else base}) comes back with a reset (O).",),
        expected_text=_typed(settings),
    )


def confirm_reset(queue: Queue, settings: Settings) -> Confirmation:
    env = environment_of(settings)
    base = "no limit" if queue.base_limit is None else str(queue.base_limit)
    return Confirmation(
        action="reset_concurrency",
        title="Reset concurrency",
        environment=env,
        targets=(queue.name,),
        effect=f"Reset the concurrency limit of {_queue_phrase(queue)} to its base ({base}) in {env.words}?",
        expected_text=_typed(settings),
    )


def confirm_complete_token(
    token_id: str, body: BodyCheck, text: str, settings: Settings, *, blocked_run: str | None = None
) -> Confirmation:
    """Shows the body once more. For an invalid body the modal must not offer to send (see `details`)."""
    env = environment_of(settings)
    waiter = f" and resume the run {_id(blocked_run)} waiting on it" if blocked_run else ""
    preview = text if len(text) <= 2000 else text[:2000] + "\n… (" + f"{len(text.encode()):,} bytes in all)"
    return Confirmation(
        action="complete_token",
        title="Complete waitpoint token",
        environment=env,
        targets=(token_id,),
        effect=(
            f"Complete token {_id(token_id)}{waiter} in {env.words}, with this output ({len(text.encode()):,} bytes)?"
        ),
        details=tuple(preview.split("\n")) if body.valid else (f"Cannot send: {body.error}",),
        expected_text=_typed(settings),
    )


def _repair_lines(report: RepairReport) -> list[str]:
    lines = [f"environment: {len(report.environment.leaks)} leaked slot(s) to repair"]
    lines += [f"queue {_id(name)}: {len(result.leaks)} leaked slot(s) to repair" for name, result in report.queues]
    return lines


def confirm_repair(report: RepairReport, queues: Sequence[str], settings: Settings) -> Confirmation:
    env = environment_of(settings)
    scope = "all queues" if not queues else ", ".join(_id(q) for q in queues)
    return Confirmation(
        action="apply_repair",
        title="Repair queues (admin)",
        environment=env,
        targets=tuple(queues) or ("all queues",),
        effect=f"Apply repair-queues to {scope} in {env.words}: {report.leak_count} leaked slot(s)?",
        details=tuple(_repair_lines(report)),
        expected_text=_typed(settings),
    )


def confirm_replay(run: Run, settings: Settings, now: datetime) -> Confirmation:
    env = environment_of(settings)
    return Confirmation(
        action="replay_run",
        title="Replay run",
        environment=env,
        targets=(run.id,),
        effect=f"Replay {_run_phrase(run, now)} as a new run in {env.words}?",
        details=("The new run gets the same payload; the original is not changed.",),
        expected_text=_typed(settings),
    )


def confirm_plugin(plugin: Plugin, argv: Sequence[str], settings: Settings) -> Confirmation:
    env = environment_of(settings)
    return Confirmation(
        action=f"plugin:{plugin.name}",
        title=f"Run {clean(plugin.name)}",
        environment=env,
        targets=(plugin.name,),
        effect=f"Run {clean(plugin.name)} against {env.words}?",
        details=(clean(shlex.join(argv)),) + ((clean(plugin.description),) if plugin.description else ()),
        expected_text=_typed(settings),
    )


def confirm_rollback(plan: RollbackPlan, settings: Settings, now: datetime) -> Confirmation:
    """Both versions and the environment in the question; the dry run below it."""
    env = environment_of(settings)
    old, new = _id(plan.current.version), _id(plan.target.version)
    return Confirmation(
        action="rollback",
        title="Roll back deployment",
        environment=env,
        targets=(plan.target.version,),
        effect=f"Roll back {env.words} from version {old} to version {new}?",
        details=dry_run_lines(plan, now),
        expected_text=_typed(settings),
    )
