"""Recovery flows: ask, confirm, run through `ActionRunner`, notify, verify. The screens' keys start them."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from textual.app import App
from textual.notifications import SeverityLevel

from tui.actions import (
    ActionResult,
    ActionRunner,
    AuditLog,
    Confirmation,
    Outcome,
    RollbackRefused,
    RunFilter,
    Verifier,
    check_limit,
    check_token_body,
    confirm_abort_bulk,
    confirm_cancel_matching,
    confirm_cancel_runs,
    confirm_complete_token,
    confirm_override,
    confirm_pause,
    confirm_plugin,
    confirm_repair,
    confirm_replay,
    confirm_reset,
    confirm_rollback,
    default_audit_path,
    parse_write_minutes,
    plugin_parameters,
)
from tui.actions.inputs import MAX_BULK_RUN_IDS
from tui.actions.plugins import PluginError, build_argv
from tui.api.errors import ApiError
from tui.config import Plugin
from tui.model import BulkAction, Queue, Run
from tui.model.text import clean
from tui.screens.bulk import BulkProgressScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.prompt import PromptScreen
from tui.screens.repair import RepairScreen
from tui.screens.session import Session
from tui.screens.token_editor import TokenEditorScreen

READ_ONLY_HINT = "read-only: type :write 15m to elevate"
LOCKED_HINT = "read-only: started with --read-only, so :write cannot lift it (restart without the flag)"
BUSY_HINT = "{} already in progress: nothing sent"
LABELS = {
    "cancel_run": "cancel",
    "cancel_matching": "bulk cancel",
    "abort_bulk": "abort",
    "replay_run": "replay",
    "pause_queue": "pause/resume",
    "override_concurrency": "override",
    "reset_concurrency": "reset",
    "repair": "repair",
    "complete_token": "completing this token",
    "plugin": "this plugin",
    "rollback": "rollback",
}
ACTIONS_GROUP = "actions"
"""The app's worker group the flows run in."""
ADMIN_HINT = "repair needs the admin token: set admin_token_env in the profile (or PLATOS_ADMIN_TOKEN) and restart"


class ActionFlows:
    """Ask, confirm, run through ActionRunner, notify, verify. Every method must be awaited inside a worker."""

    def __init__(self, app: App[None], session: Session, *, verifier: Verifier | None = None) -> None:
        self.app = app
        self.session = session
        self.runner = ActionRunner(
            session.client,
            session.settings,
            AuditLog(default_audit_path(), sink=session.journal_audit),
            session.clock,
            verifier=verifier,
            plugin_env=dict(os.environ),
            write_locked=session.read_only_locked,
        )
        self._pending: set[tuple[str, str]] = set()

    def start(self, flow: Awaitable[object]) -> None:
        """Run `flow` in an app worker, which outlives the screen whose key started it.

        A run detail closed mid-verification still verifies and audits. Not exclusive: a second flow must not
        cancel the first; `_once` keeps each action to one at a time per target.
        """
        self.app.run_worker(flow, group=ACTIONS_GROUP)

    # -- helpers -----------------------------------------------------------------------------------------
    @contextmanager
    def _once(self, action: str, targets: Sequence[str]) -> Iterator[bool]:
        """Exactly once per target, from the first key press (before the modal) until verification ends.

        A second press meanwhile yields False after saying so: key repeat or an impatient operator sends nothing.
        """
        keys = {(action, t) for t in targets}
        free = not (keys & self._pending)
        if free:
            self._pending |= keys
        else:
            self.app.notify(BUSY_HINT.format(LABELS.get(action, action)), severity="warning")
        try:
            yield free
        finally:
            if free:
                self._pending -= keys

    @property
    def read_only_hint(self) -> str:
        return LOCKED_HINT if self.session.read_only_locked else READ_ONLY_HINT

    def _writable(self, action: str, targets: Sequence[str]) -> bool:
        if not self.session.guard.allows_writes():
            self._refuse(action, targets)
            return False
        blocked = self.runner.audit_refusal(action, tuple(targets))
        if blocked is not None:
            self.app.notify(clean(blocked.message, 300), title="Nothing sent", severity="error", timeout=15)
            return False
        return True

    def _refuse(self, action: str, targets: Sequence[str]) -> None:
        """Read-only: nothing is sent, the operator is told why, and the attempt is audited as `refused`."""
        self.runner.refuse(action, tuple(targets), self.read_only_hint)
        self.app.notify(self.read_only_hint, title="Nothing sent", severity="warning")

    async def _confirm(self, confirmation: Confirmation) -> bool:
        answer: bool | None = await self.app.push_screen_wait(ConfirmScreen(confirmation))
        return bool(answer)

    def _sent(self, result: ActionResult) -> None:
        self.app.notify(clean(result.message, 200), title=result.action, timeout=4)

    def _report(self, result: ActionResult) -> ActionResult:
        opens = f" · N opens {clean(result.created_id, 40)}" if result.created_id else ""
        if result.verification is not None:
            v = result.verification
            self.app.notify(
                clean(v.message, 300) + opens, title=result.action, severity="information" if v.verified else "error"
            )
        else:
            severity: SeverityLevel = "information" if result.outcome is Outcome.OK else "error"
            if result.outcome is Outcome.REFUSED:
                severity = "warning"
            self.app.notify(clean(result.message, 300) + opens, title=result.action, severity=severity)
        self._refresh()
        return result

    def _refresh(self) -> None:
        refresh = getattr(self.app.screen, "refresh_now", None)
        if callable(refresh):
            refresh()

    async def _gate(self, confirmation: Confirmation, action: str | None = None) -> bool:
        writable = self._writable(action or confirmation.action, confirmation.targets)
        return writable and await self._confirm(confirmation)

    # -- runs --------------------------------------------------------------------------------------------
    async def cancel_runs(self, runs: Sequence[Run]) -> ActionResult | None:
        if not runs:
            return None
        with self._once("cancel_run", [r.id for r in runs]) as free:
            if not free:
                return None
            confirmation = confirm_cancel_runs(runs, self.session.settings, self.runner.now())
            if not await self._gate(confirmation, "cancel_run"):
                return None
            if len(runs) == 1:
                result = await self.runner.cancel_run(runs[0], on_sent=self._sent)
            else:
                result = await self.runner.cancel_runs(runs, on_sent=self._sent)
            return self._report(result)

    async def cancel_matching(self, run_filter: RunFilter, *, loaded: int | None = None) -> ActionResult | None:
        target = run_filter.describe()
        with self._once("cancel_matching", [target]) as free:
            if not free or not self._writable("cancel_matching", [target]):
                return None
            try:
                count, capped = await self.runner.count_matching(run_filter)
            except ApiError as exc:
                self.app.notify(f"could not count matching runs: {clean(str(exc), 200)}", severity="error")
                return None
            if count == 0:
                self.app.notify("no runs match the current filter: nothing to cancel", severity="warning")
                return None
            if count > MAX_BULK_RUN_IDS and run_filter.run_ids:
                self.app.notify(
                    f"{count} runs shown: the bulk API takes at most {MAX_BULK_RUN_IDS} run ids; narrow the filter",
                    title="Nothing sent",
                    severity="warning",
                )
                return None
            confirmation = confirm_cancel_matching(
                run_filter, count, self.session.settings, capped=capped, loaded=loaded
            )
            if not await self._confirm(confirmation):
                return None
            progress = BulkProgressScreen(f"Bulk cancel: {clean(target, 100)}", lambda: self._abort(progress))
            self.app.push_screen(progress)

            def on_progress(bulk: BulkAction) -> None:
                if progress.is_attached:
                    progress.show(bulk)

            result = await self.runner.cancel_matching(run_filter, on_sent=self._sent, on_progress=on_progress)
            if progress.is_attached:
                progress.finish(clean(result.summary, 300))
            return self._report(result)

    def _abort(self, progress: BulkProgressScreen) -> None:
        bulk = progress.bulk
        if bulk is None:
            self.app.notify("the bulk action has not started yet", severity="warning")
            return
        self.start(self.abort_bulk(bulk))

    async def abort_bulk(self, bulk: BulkAction) -> ActionResult | None:
        with self._once("abort_bulk", [bulk.id]) as free:
            if not free or not await self._gate(confirm_abort_bulk(bulk, self.session.settings)):
                return None
            return self._report(await self.runner.abort_bulk(bulk.id, on_sent=self._sent))

    async def replay(self, run: Run) -> ActionResult | None:
        with self._once("replay_run", [run.id]) as free:
            if not free:
                return None
            confirmation = confirm_replay(run, self.session.settings, self.runner.now())
            if not await self._gate(confirmation):
                return None
            result = await self.runner.replay_run(run, on_sent=self._sent)
            if result.created_id is not None:
                self.session.created_run = result.created_id
            return self._report(result)

    # -- queues ------------------------------------------------------------------------------------------
    async def toggle_pause(self, queue: Queue) -> ActionResult | None:
        pause = not queue.paused
        with self._once("pause_queue", [queue.name]) as free:
            if not free:
                return None
            if not await self._gate(confirm_pause(queue, pause, self.session.settings)):
                return None
            call = self.runner.pause_queue if pause else self.runner.resume_queue
            return self._report(await call(queue, on_sent=self._sent))

    async def override(self, queue: Queue) -> ActionResult | None:
        with self._once("override_concurrency", [queue.name]) as free:
            if not free or not self._writable("override_concurrency", [queue.name]):
                return None
            env_limit = self.session.environment.concurrency_limit if self.session.environment else None

            def check(text: str) -> str | None:
                try:
                    check_limit(text, env_limit)
                except ValueError as exc:
                    return str(exc)
                return None

            current = "" if queue.concurrency_limit is None else str(queue.concurrency_limit)
            text = await self.app.push_screen_wait(
                PromptScreen(f"New concurrency limit for {clean(queue.name, 60)}", value=current, check=check)
            )
            if text is None:
                return None
            limit = check_limit(text, env_limit)
            if not await self._confirm(confirm_override(queue, limit, self.session.settings)):
                return None
            return self._report(
                await self.runner.override_concurrency(queue, limit, env_limit=env_limit, on_sent=self._sent)
            )

    async def reset(self, queue: Queue) -> ActionResult | None:
        with self._once("reset_concurrency", [queue.name]) as free:
            if not free:
                return None
            if not await self._gate(confirm_reset(queue, self.session.settings)):
                return None
            return self._report(await self.runner.reset_concurrency(queue, on_sent=self._sent))

    async def repair(self, queues: Sequence[Queue | str] = ()) -> ActionResult | None:
        """Queues, or their stored names (a finding names them); none means every queue of the environment."""
        if not self.session.settings.admin_token:
            self.app.notify(ADMIN_HINT, title="Repair queues", severity="warning", timeout=10)
            return None
        names = [q if isinstance(q, str) else q.stored_name for q in queues]
        with self._once("repair", names or ["all queues"]) as free:
            if not free:
                return None
            # The dry run changes nothing, so read-only shows it too; only the apply needs write mode.
            writable = self.session.guard.allows_writes()
            dry = await self.runner.repair_queues(queues)
            if dry.report is None:
                return self._report(dry)
            apply = await self.app.push_screen_wait(
                RepairScreen(
                    dry.report,
                    title="Repair queues: dry run (nothing changed yet)",
                    offer_apply=writable,
                    refusal=None if writable else self.read_only_hint,
                    on_refused=lambda: self.runner.refuse(
                        "apply_repair", tuple(names) or ("all queues",), self.read_only_hint
                    ),
                )
            )
            if not apply or not await self._confirm(confirm_repair(dry.report, names, self.session.settings)):
                return dry
            result = await self.runner.apply_repair(queues, on_sent=self._sent)
            self._report(result)
            if result.report is not None:
                await self.app.push_screen_wait(
                    RepairScreen(result.report, title="Repair queues: dry run after applying", offer_apply=False)
                )
            return result

    # -- waitpoints --------------------------------------------------------------------------------------
    async def complete_token(self, token_id: str, blocked_run_id: str | None = None) -> ActionResult | None:
        with self._once("complete_token", [token_id]) as free:
            if not free or not self._writable("complete_token", [token_id]):
                return None
            text = await self.app.push_screen_wait(TokenEditorScreen(token_id))
            if text is None:
                return None
            body = check_token_body(text)
            confirmation = confirm_complete_token(
                token_id, body, text, self.session.settings, blocked_run=blocked_run_id
            )
            if not body.valid or not await self._confirm(confirmation):
                return None
            return self._report(
                await self.runner.complete_token(token_id, text, blocked_run=blocked_run_id, on_sent=self._sent)
            )

    # -- deployments -------------------------------------------------------------------------------------
    async def rollback(self, target_version: str) -> ActionResult | None:
        """Dry run (both versions, runs locked to each), confirm, promote the target again, verify."""
        with self._once("rollback", [target_version]) as free:
            if not free or not self._writable("rollback", [target_version]):
                return None
            try:
                plan = await self.runner.plan_rollback(target_version)
            except RollbackRefused as exc:
                self.app.notify(clean(str(exc), 200), title="Nothing sent", severity="warning")
                return None
            except ApiError as exc:
                self.app.notify(f"could not read the deployments: {clean(str(exc), 200)}", severity="error")
                return None
            if not await self._confirm(confirm_rollback(plan, self.session.settings, self.runner.now())):
                return None
            return self._report(await self.runner.rollback(plan, on_sent=self._sent))

    # -- plugins and elevation ---------------------------------------------------------------------------
    async def run_plugin(self, plugin: Plugin, preset: Mapping[str, str] | None = None) -> ActionResult | None:
        from tui.screens.audit import TextScreen

        with self._once("plugin", [plugin.name]) as free:
            if not free or not self._writable(f"plugin:{plugin.name}", [plugin.name]):
                return None
            args = dict(preset or {})
            for name in plugin_parameters(plugin):
                if name in args:
                    continue
                value = await self.app.push_screen_wait(
                    PromptScreen(f"{clean(plugin.name, 40)}: {name}", check=lambda t: None if t.strip() else "required")
                )
                if value is None:
                    return None
                args[name] = value
            try:
                argv = build_argv(plugin, args)
            except PluginError as exc:
                self.app.notify(clean(str(exc), 200), severity="error")
                return None
            if not await self._confirm(confirm_plugin(plugin, argv, self.session.settings)):
                return None
            result = await self.runner.run_plugin(plugin, args, on_sent=self._sent)
            self.app.push_screen(
                TextScreen(
                    f"{clean(plugin.name, 40)}: {clean(result.message, 100)}", (result.output or "").splitlines()
                )
            )
            return self._report(result)

    async def elevate(self, minutes: int | None = None) -> None:
        minutes = minutes or 15
        if self.session.read_only_locked:
            # A hard lock: no reason is asked for, since none can lift it.
            self._report(self.runner.elevate(minutes, "started with --read-only"))
            return
        reason = await self.app.push_screen_wait(
            PromptScreen(
                f"Write mode for {minutes} min: why? (goes into the audit log)",
                check=lambda t: None if t.strip() else "a reason is required",
            )
        )
        if reason is None:
            return
        result = self.runner.elevate(minutes, reason)
        self._report(result)
        update = getattr(self.app.screen, "update_bars", None)
        if callable(update):
            update()


def plugin_named(flows: ActionFlows, name: str) -> Plugin | None:
    return next((p for p in flows.session.settings.plugins if p.name == name), None)


def write_minutes(argument: str) -> int | None:

    try:
        return parse_write_minutes(argument)
    except ValueError:
        return None
