"""Guarded action execution: audit first, send once, never retry, then verify. Shared by UI and CLI."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from tui.actions.audit import AuditLog, AuditUnavailable
from tui.actions.inputs import MAX_BULK_RUN_IDS, RunFilter, check_limit, check_token_body, check_write_minutes, dedupe
from tui.actions.plugins import PluginError, build_argv, run_argv
from tui.actions.ports import ActionClient
from tui.actions.results import ActionResult, Outcome, RequestSummary, Verification
from tui.actions.rollback import RollbackPlan
from tui.actions.rollback import plan_rollback as read_rollback_plan
from tui.actions.scrub import Scrubber, summarise_body
from tui.actions.verify import FlowBaseline, Verifier, VerifyOptions
from tui.api.errors import ApiError, ConfigurationError, OutcomeUnknown, ReadOnly, Timeout
from tui.api.guard import WriteGuard
from tui.config import STATE_DIR_ENV, Plugin, Settings
from tui.model import JSON, BulkAction, Queue, RepairReport, Run
from tui.model.text import clean

T = TypeVar("T")
Clock = Callable[[], datetime]
Notify = Callable[[ActionResult], None]

READ_ONLY_MESSAGE = "read-only: press : write 15m to elevate"
BUSY_MESSAGE = "already in progress: nothing sent"
LOCKED_MESSAGE = "started with --read-only: write mode cannot be turned on in this session"
COUNT_PAGE_LIMIT = 200
"""Pages of 100 runs counted before `count_matching` stops and reports "at least"."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ActionRunner:
    """Every recovery the TUI offers. Each public method returns an `ActionResult`, never raises `ApiError`.

    Order for each attempt: claim the (action, target) pairs (a second press while in flight sends nothing),
    append the audit `start` record, send exactly one request (the client raises `ReadOnly` before any I/O
    when writes are not allowed), append the `end` record, then watch the post-condition and append `verify`.
    `on_sent` is called with the unverified result between sending and verifying, for an early notification.
    """

    def __init__(
        self,
        client: ActionClient,
        settings: Settings,
        audit: AuditLog,
        clock: Clock = _utcnow,
        *,
        guard: WriteGuard | None = None,
        verifier: Verifier | None = None,
        plugin_timeout: float = 60.0,
        plugin_env: Mapping[str, str] | None = None,
        write_locked: bool = False,
    ) -> None:
        self._client = client
        self._write_locked = write_locked
        """Started with --read-only: no elevation can lift it."""
        self._settings = settings
        self._audit = audit
        self._clock = clock
        found = guard if guard is not None else getattr(client, "guard", None)
        self._guard = found if isinstance(found, WriteGuard) else None
        self._verifier = verifier if verifier is not None else Verifier(client, VerifyOptions())
        self._plugin_timeout = plugin_timeout
        self._plugin_env = plugin_env
        self._in_flight: set[tuple[str, str]] = set()
        self._scrub = Scrubber((settings.secret_key, settings.admin_token))
        audit.protect(settings.secret_key, settings.admin_token)

    # -- write elevation ---------------------------------------------------------------------------------
    def elevate(self, minutes: int, reason: str) -> ActionResult:
        """`:write [15m]`: allow writes for a time box; the reason goes into every audit record meanwhile."""
        if self._write_locked:
            return self._refused("elevate", (), LOCKED_MESSAGE)
        try:
            minutes = check_write_minutes(minutes)
        except ValueError as exc:
            return self._refused("elevate", (), str(exc))
        reason = " ".join(reason.split())
        if not reason:
            return self._refused("elevate", (), "a reason is required to elevate to write mode")
        if self._guard is None:
            return self._refused("elevate", (), "this client has no write guard")
        try:
            self._audit.check()  # write mode with no audit log would only lead to refusals
        except AuditUnavailable as exc:
            return self._unaudited("elevate", (f"{minutes}m",), exc)
        self._guard.elevate(minutes * 60, self._scrub.text(reason))
        try:
            attempt = self._start("elevate", (f"{minutes}m",), None)
        except AuditUnavailable as exc:
            self._guard.drop()
            return self._unaudited("elevate", (f"{minutes}m",), exc)
        message = f"write mode for {minutes} min"
        message += self._end(attempt, outcome=Outcome.OK.value, message=message)
        return ActionResult("elevate", (f"{minutes}m",), Outcome.OK, message, attempt=attempt)

    def now(self) -> datetime:
        """The runner's wall clock, for confirmation sentences ("EXECUTING for 14m")."""
        return self._clock()

    @property
    def settings(self) -> Settings:
        return self._settings

    def write_seconds_left(self) -> float | None:
        """Seconds of write elevation left (for the top bar), None when read-only or writes are always on."""
        return self._guard.seconds_left() if self._guard is not None else None

    def drop_write(self) -> None:
        if self._guard is not None:
            self._guard.drop()

    def is_in_flight(self, action: str, target: str) -> bool:
        """Whether a key press for this target would be ignored (the UI can dim the key)."""
        return (action, target) in self._in_flight

    # -- runs --------------------------------------------------------------------------------------------
    async def cancel_run(self, run: Run, *, on_sent: Notify | None = None) -> ActionResult:
        req = RequestSummary("POST", f"/api/v2/runs/{run.id}/cancel")
        with self._claim("cancel_run", (run.id,)) as claimed:
            if not claimed:
                return self._busy("cancel_run", (run.id,))
            result, _ = await self._send("cancel_run", (run.id,), req, lambda: self._client.cancel_run(run.id))
            return await self._verified(result, lambda: self._verifier.run_canceled(run.id), on_sent)

    async def cancel_runs(self, runs: Sequence[Run], *, on_sent: Notify | None = None) -> ActionResult:
        """Marked runs: one cancel each, in order; stops at the first read-only refusal. Verified together."""
        ids = dedupe([r.id for r in runs])
        children: list[ActionResult] = []
        with self._claim("cancel_run", ids, partial=True) as claimed:
            for run_id in ids:
                if ("cancel_run", run_id) not in claimed:
                    children.append(self._busy("cancel_run", (run_id,)))
                    continue
                req = RequestSummary("POST", f"/api/v2/runs/{run_id}/cancel")
                child, _ = await self._send("cancel_run", (run_id,), req, partial(self._client.cancel_run, run_id))
                children.append(child)
                if child.outcome is Outcome.REFUSED:
                    break
            sent = [c for c in children if c.outcome in (Outcome.OK, Outcome.UNKNOWN)]
            failed = sum(c.outcome is Outcome.FAILED for c in children)
            busy = sum(c.attempt is None for c in children)
            refusal = next((c for c in children if c.outcome is Outcome.REFUSED and c.attempt), None)
            skipped = len(ids) - len(children)
            if failed:
                outcome = Outcome.FAILED
            elif not sent:
                outcome = Outcome.REFUSED
            elif any(c.outcome is Outcome.UNKNOWN for c in sent):
                outcome = Outcome.UNKNOWN
            else:
                outcome = Outcome.OK
            parts = [f"cancel sent for {len(sent)}/{len(ids)} runs"]
            parts += [f"{failed} failed"] if failed else []
            parts += [f"{busy} already in progress"] if busy else []
            parts += [f"refused: {refusal.message}"] if refusal else []
            parts += [f"{skipped} not attempted"] if skipped else []
            result = ActionResult(
                "cancel_runs",
                ids,
                outcome,
                ", ".join(parts),
                requests=tuple(r for c in children for r in c.requests),
                children=tuple(children),
                count=len(sent),
            )
            if not sent:
                return result
            sent_ids = [c.targets[0] for c in sent]
            attempts = [c.attempt for c in sent if c.attempt]
            return await self._verified(
                result, lambda: self._verifier.runs_canceled(sent_ids), on_sent, attempts=attempts
            )

    async def replay_run(self, run: Run, *, on_sent: Notify | None = None) -> ActionResult:
        req = RequestSummary("POST", f"/api/v1/runs/{run.id}/replay")
        with self._claim("replay_run", (run.id,)) as claimed:
            if not claimed:
                return self._busy("replay_run", (run.id,))
            result, new_id = await self._send("replay_run", (run.id,), req, lambda: self._client.replay_run(run.id))
            if new_id is None:
                return result
            result = replace(result, created_id=new_id, message=f"replayed as {clean(new_id)}")
            return await self._verified(result, lambda: self._verifier.run_exists(new_id), on_sent)

    # -- bulk cancel by filter ---------------------------------------------------------------------------
    async def count_matching(self, run_filter: RunFilter) -> tuple[int, bool]:
        """How many runs the filter matches now, paging the run list; (count, capped). Raises ApiError."""
        if run_filter.run_ids:
            return len(run_filter.run_ids), False
        count, after = 0, None
        for _ in range(COUNT_PAGE_LIMIT):
            page = await self._client.list_runs(**run_filter.list_args(), page_size=100, after=after)
            count += len(page.items)
            after = page.next
            if after is None:
                return count, False
        return count, True

    async def cancel_matching(
        self,
        run_filter: RunFilter,
        *,
        on_sent: Notify | None = None,
        on_progress: Callable[[BulkAction], None] | None = None,
    ) -> ActionResult:
        """Create a bulk cancel for the filter, then follow its progress until it completes or is aborted."""
        target = run_filter.describe()
        if not run_filter.selective:
            return self._refused(
                "cancel_matching",
                (target,),
                "refusing to bulk-cancel without a status, task, queue or tag filter",
            )
        if len(run_filter.run_ids) > MAX_BULK_RUN_IDS:
            return self._refused(
                "cancel_matching",
                (target,),
                f"{len(run_filter.run_ids)} runs match: the bulk API takes at most {MAX_BULK_RUN_IDS} run ids",
            )
        ids = list(run_filter.run_ids)
        body: dict[str, JSON] = {"action": "cancel"}
        if ids:
            body["runIds"] = list(ids)
        else:
            body["filter"] = run_filter.bulk_filter()
        req = RequestSummary("POST", "/api/v1/bulk-actions", body)
        with self._claim("cancel_matching", (target,)) as claimed:
            if not claimed:
                return self._busy("cancel_matching", (target,))
            result, bulk_id = await self._send(
                "cancel_matching",
                (target,),
                req,
                lambda: (
                    self._client.create_bulk_action("cancel", run_ids=ids)
                    if ids
                    else self._client.create_bulk_action("cancel", filter=run_filter.bulk_filter())
                ),
            )
            if bulk_id is None:
                return result
            result = replace(result, created_id=bulk_id, message=f"bulk cancel {clean(bulk_id)} started")
            return await self._verified(result, lambda: self._verifier.bulk_finished(bulk_id, on_progress), on_sent)

    async def abort_bulk(self, bulk_id: str, *, on_sent: Notify | None = None) -> ActionResult:
        req = RequestSummary("POST", f"/api/v1/bulk-actions/{bulk_id}/abort")
        with self._claim("abort_bulk", (bulk_id,)) as claimed:
            if not claimed:
                return self._busy("abort_bulk", (bulk_id,))
            result, _ = await self._send("abort_bulk", (bulk_id,), req, lambda: self._client.abort_bulk_action(bulk_id))
            return await self._verified(result, lambda: self._verifier.bulk_aborted(bulk_id), on_sent)

    # -- queues ------------------------------------------------------------------------------------------
    async def pause_queue(self, queue: Queue, *, on_sent: Notify | None = None) -> ActionResult:
        return await self._pause(queue, True, on_sent)

    async def resume_queue(self, queue: Queue, *, on_sent: Notify | None = None) -> ActionResult:
        return await self._pause(queue, False, on_sent)

    async def _pause(self, queue: Queue, pause: bool, on_sent: Notify | None) -> ActionResult:
        action = "pause_queue" if pause else "resume_queue"
        body = {"type": queue.type.value, "action": "pause" if pause else "resume"}
        req = RequestSummary("POST", f"/api/v1/queues/{queue.name}/pause", body)
        with self._claim(action, (queue.name,)) as claimed:
            if not claimed:
                return self._busy(action, (queue.name,))
            result, _ = await self._send(action, (queue.name,), req, lambda: self._client.pause_queue(queue, pause))
            if pause:
                return await self._verified(result, lambda: self._verifier.queue_paused(queue), on_sent)

            async def flowing() -> Verification:
                baseline = await self._verifier.queue_baseline(queue)
                return await self._verifier.queue_flowing(queue, baseline)

            return await self._verified(result, flowing, on_sent)

    async def override_concurrency(
        self, queue: Queue, limit: int | str, *, env_limit: int | None = None, on_sent: Notify | None = None
    ) -> ActionResult:
        try:
            value = check_limit(limit, env_limit)
        except ValueError as exc:
            return self._refused("override_concurrency", (queue.name,), str(exc))
        body = {"type": queue.type.value, "concurrencyLimit": value}
        req = RequestSummary("POST", f"/api/v1/queues/{queue.name}/concurrency/override", body)
        with self._claim("override_concurrency", (queue.name,)) as claimed:
            if not claimed:
                return self._busy("override_concurrency", (queue.name,))
            result, _ = await self._send(
                "override_concurrency",
                (queue.name,),
                req,
                lambda: self._client.override_concurrency(queue, value),
            )
            return await self._verified(result, lambda: self._verifier.queue_limit(queue, value), on_sent)

    async def reset_concurrency(self, queue: Queue, *, on_sent: Notify | None = None) -> ActionResult:
        body = {"type": queue.type.value}
        req = RequestSummary("POST", f"/api/v1/queues/{queue.name}/concurrency/reset", body)
        base = queue.base_limit if queue.overridden else None
        with self._claim("reset_concurrency", (queue.name,)) as claimed:
            if not claimed:
                return self._busy("reset_concurrency", (queue.name,))
            result, _ = await self._send(
                "reset_concurrency", (queue.name,), req, lambda: self._client.reset_concurrency(queue)
            )
            return await self._verified(result, lambda: self._verifier.queue_limit(queue, base, reset=True), on_sent)

    # -- waitpoints --------------------------------------------------------------------------------------
    async def complete_token(
        self, token_id: str, body_text: str, *, blocked_run: str | None = None, on_sent: Notify | None = None
    ) -> ActionResult:
        """Complete a token with the editor's JSON as output. An invalid or oversize body is never sent."""
        check = check_token_body(body_text)
        if not check.valid:
            return self._refused("complete_token", (token_id,), f"not sent: {check.error}")
        req = RequestSummary("POST", f"/api/v1/waitpoints/tokens/{token_id}/complete", {"data": check.data})
        with self._claim("complete_token", (token_id,)) as claimed:
            if not claimed:
                return self._busy("complete_token", (token_id,))
            result, _ = await self._send(
                "complete_token", (token_id,), req, lambda: self._client.complete_token(token_id, check.data)
            )
            return await self._verified(result, lambda: self._verifier.token_completed(token_id, blocked_run), on_sent)

    # -- deployments -------------------------------------------------------------------------------------
    async def plan_rollback(self, version: str) -> RollbackPlan:
        """The dry run: reads only. Raises RollbackRefused (nothing to send) or ApiError."""
        return await read_rollback_plan(self._client, version, self._clock())

    async def rollback(self, plan: RollbackPlan, *, on_sent: Notify | None = None) -> ActionResult:
        """Promote the plan's target again (allowRollbacks), then watch deployments/current name it."""
        old, new = plan.current.version, plan.target.version
        req = RequestSummary("POST", plan.path)
        with self._claim("rollback", (new,)) as claimed:
            if not claimed:
                return self._busy("rollback", (new,))
            result, _ = await self._send(
                "rollback",
                (new,),
                req,
                lambda: self._client.promote_deployment(new, allow_rollbacks=True),
                context={"from": old, "to": new},
            )
            if result.ok:
                result = replace(result, message=f"rolled back from {clean(old, 40)} to {clean(new, 40)}")
            return await self._verified(result, lambda: self._verifier.deployment_current(new), on_sent)

    # -- admin repair ------------------------------------------------------------------------------------
    async def repair_queues(self, queues: Sequence[Queue | str] = ()) -> ActionResult:
        """The dry run, always first: `report` holds what an apply would change. Nothing is modified.

        `queues` are Queue objects or stored names (`task/<id>`); empty means every queue of the environment.
        """
        queues = _stored(queues)
        targets = tuple(queues) or ("all queues",)
        body = {"dryRun": True, "queues": list(queues)}
        req = RequestSummary("POST", "/admin/api/v1/environments/{environmentId}/engine/repair-queues", body)
        with self._claim("repair_dry_run", targets) as claimed:
            if not claimed:
                return self._busy("repair_dry_run", targets)
            result, report = await self._send(
                "repair_dry_run", targets, req, lambda: self._client.repair_queues(queues, dry_run=True)
            )
            if report is None:
                return result
            return replace(result, report=report, count=report.leak_count, message=_leaks(report))

    async def apply_repair(self, queues: Sequence[Queue | str] = (), *, on_sent: Notify | None = None) -> ActionResult:
        """Apply (dryRun=false), then dry-run again until nothing is left; `report` holds the last dry run."""
        queues = _stored(queues)
        targets = tuple(queues) or ("all queues",)
        body = {"dryRun": False, "queues": list(queues)}
        req = RequestSummary("POST", "/admin/api/v1/environments/{environmentId}/engine/repair-queues", body)
        with self._claim("apply_repair", targets) as claimed:
            if not claimed:
                return self._busy("apply_repair", targets)
            result, applied = await self._send(
                "apply_repair", targets, req, lambda: self._client.repair_queues(queues, dry_run=False)
            )
            if applied is not None:
                result = replace(
                    result,
                    count=applied.leak_count,
                    message=f"repair applied to {applied.leak_count} leaked slot(s)",
                )
            result = await self._verified(result, lambda: self._verifier.repair_clean(queues), on_sent)
            if result.verification is None:
                return result
            try:
                final = await self._client.repair_queues(queues, dry_run=True)
            except ApiError:
                return result
            return replace(result, report=final)

    # -- plugins -----------------------------------------------------------------------------------------
    async def run_plugin(
        self,
        plugin: Plugin,
        args: Mapping[str, str],
        *,
        verify_flow: bool | None = None,
        on_sent: Notify | None = None,
    ) -> ActionResult:
        """Run an external recovery (argv, never a shell). Scale plugins are verified by dequeue resuming."""
        action = f"plugin:{plugin.name}"
        try:
            argv = build_argv(plugin, args)
        except PluginError as exc:
            return self._refused(action, (plugin.name,), str(exc))
        if self._guard is not None and not self._guard.allows_writes():
            return self._refused(action, (plugin.name,), READ_ONLY_MESSAGE, {"argv": argv})
        verify_flow = ("scale" in plugin.name) if verify_flow is None else verify_flow
        with self._claim(action, (plugin.name,)) as claimed:
            if not claimed:
                return self._busy(action, (plugin.name,))
            baseline: FlowBaseline | None = None
            if verify_flow:
                try:
                    baseline = await self._verifier.flow_baseline()
                except ApiError:
                    baseline = None
            try:
                attempt = self._start(action, (plugin.name,), {"argv": argv})
            except AuditUnavailable as exc:
                return self._unaudited(action, (plugin.name,), exc)
            base = self._plugin_env if self._plugin_env is not None else os.environ
            env = {**base, **dict(plugin.env)}  # the plugin's own variables (e.g. a token) win over ours
            proc = await run_argv(argv, timeout=self._plugin_timeout, env=env)
            output = self._scrub.text(proc.output)
            if proc.ok:
                outcome, message = Outcome.OK, f"{plugin.name} exited 0"
            elif proc.timed_out:
                outcome, message = Outcome.UNKNOWN, f"{plugin.name} killed after {self._plugin_timeout:g} s"
            elif proc.error:
                outcome, message = Outcome.FAILED, self._scrub.text(proc.error)
            else:
                outcome, message = Outcome.FAILED, f"{plugin.name} exited {proc.exit_code}"
            tail = output[-2000:]
            logged = f"{message}; output: {tail}" if tail else message
            message += self._end(attempt, outcome=outcome.value, message=logged)
            result = ActionResult(action, (plugin.name,), outcome, message, attempt=attempt, output=output)
            if baseline is None:
                return result
            flow = baseline
            return await self._verified(result, lambda: self._verifier.dequeue_resumes(flow), on_sent)

    # -- the machinery -----------------------------------------------------------------------------------
    @contextmanager
    def _claim(self, action: str, targets: Sequence[str], *, partial: bool = False) -> Iterator[set[tuple[str, str]]]:
        """Claim (action, target) pairs for the duration of an attempt and its verification.

        Without `partial`, nothing is claimed when any pair is taken (the caller sees an empty set). With it,
        the free pairs are claimed and returned: a marked-runs cancel skips only the runs already in flight.
        """
        keys = [(action, t) for t in targets]
        free = {k for k in keys if k not in self._in_flight}
        if not partial and len(free) != len(set(keys)):
            free = set()
        self._in_flight |= free
        try:
            yield free
        finally:
            self._in_flight -= free

    def _environment(self) -> dict[str, str]:
        return {"type": self._settings.env_type.value, "label": self._settings.env_label}

    def _reason(self) -> str | None:
        guard = self._guard
        return guard.reason if guard is not None and guard.allows_writes() else None

    def _start(self, action: str, targets: Sequence[str], request: Mapping[str, JSON] | None) -> str:
        return self._audit.start(
            profile=self._settings.profile,
            environment=self._environment(),
            action=action,
            targets=targets,
            request=request,
            reason=self._reason(),
        )

    async def _send(
        self,
        action: str,
        targets: tuple[str, ...],
        req: RequestSummary,
        call: Callable[[], Awaitable[T]],
        *,
        context: Mapping[str, str] | None = None,
    ) -> tuple[ActionResult, T | None]:
        """Audit, send exactly once, audit the outcome. Mutations are never retried here.

        `context` is what the request alone does not say (a rollback's from and to versions), kept in the audit.
        """
        body = summarise_body(req.body, self._scrub)
        logged: dict[str, JSON] = {"method": req.method, "path": req.path, "body": body}
        logged.update({key: self._scrub.text(value) for key, value in (context or {}).items()})
        try:
            attempt = self._start(action, targets, logged)
        except AuditUnavailable as exc:  # no record, no request: the audit log is the promise of a trace
            return self._unaudited(action, targets, exc), None
        status: int | None = None
        value: T | None = None
        try:
            value = await call()
            outcome, message, status = Outcome.OK, _done(action), 200
        except ReadOnly:
            outcome, message = Outcome.REFUSED, READ_ONLY_MESSAGE
        except ConfigurationError as exc:
            outcome, message = Outcome.REFUSED, self._scrub.text(str(exc))
        except ValueError as exc:  # the client validates arguments before any I/O
            outcome, message = Outcome.REFUSED, f"not sent: {self._scrub.text(str(exc))}"
        except OutcomeUnknown as exc:
            outcome, message = Outcome.UNKNOWN, f"outcome unknown: {self._scrub.text(exc.reason)}; verifying"
        except Timeout as exc:  # a 408: the server gave up on it, perhaps half way
            outcome, message = Outcome.UNKNOWN, f"outcome unknown: {self._scrub.text(str(exc))}; verifying"
        except ApiError as exc:
            outcome, message, status = Outcome.FAILED, f"failed: {self._scrub.text(str(exc))}", exc.status
        except BaseException:
            self._end(attempt, outcome="error", message="internal error while sending (see logs)")
            raise
        message += self._end(attempt, outcome=outcome.value, message=message, status=status)
        result = ActionResult(action, targets, outcome, message, requests=(req,), status=status, attempt=attempt)
        return result, value

    async def _verified(
        self,
        result: ActionResult,
        verify: Callable[[], Awaitable[Verification]],
        on_sent: Notify | None,
        *,
        attempts: Sequence[str] | None = None,
    ) -> ActionResult:
        """Watch the post-condition when the request went out (ok or unknown) and record what was seen."""
        if result.outcome not in (Outcome.OK, Outcome.UNKNOWN):
            return result
        if on_sent is not None:
            on_sent(result)
        try:
            verification = await verify()
        except ApiError as exc:
            verification = Verification(False, 0.0, f"could not verify: {self._scrub.text(str(exc))}")
        for attempt in attempts if attempts is not None else [result.attempt] if result.attempt else []:
            try:
                self._audit.verified(attempt, verification.as_dict())
            except AuditUnavailable as exc:
                seen = f"{verification.seen} (audit record not written: {exc.reason})"
                verification = replace(verification, seen=seen)
        return replace(result, verification=verification)

    def _busy(self, action: str, targets: tuple[str, ...]) -> ActionResult:
        """A second press while the first is in flight: nothing sent, nothing audited (not an attempt)."""
        return ActionResult(action, targets, Outcome.REFUSED, BUSY_MESSAGE)

    def audit_refusal(self, action: str, targets: tuple[str, ...]) -> ActionResult | None:
        """The refusal every mutation would meet now because the audit log is not writable, else None.

        The UI asks before its confirmation, so the operator is not walked through a dialog for nothing.
        """
        try:
            self._audit.check()
        except AuditUnavailable as exc:
            return self._unaudited(action, targets, exc)
        return None

    def refuse(self, action: str, targets: tuple[str, ...], message: str) -> ActionResult:
        """A mutation the UI stopped before sending (read-only): audited as `refused`, nothing sent."""
        return self._refused(action, targets, message)

    def _refused(
        self, action: str, targets: tuple[str, ...], message: str, request: Mapping[str, JSON] | None = None
    ) -> ActionResult:
        """Invalid input: nothing sent. Audited, so a refused elevation or unsendable body leaves a trace."""
        message = self._scrub.text(message)
        try:
            attempt = self._start(action, targets, request)
        except AuditUnavailable as exc:
            return ActionResult(action, targets, Outcome.REFUSED, f"{message}; {exc}")
        message += self._end(attempt, outcome=Outcome.REFUSED.value, message=message)
        return ActionResult(action, targets, Outcome.REFUSED, message, attempt=attempt)

    def _unaudited(self, action: str, targets: tuple[str, ...], exc: AuditUnavailable) -> ActionResult:
        """The audit log cannot be written: refused before anything is sent, and the path is named."""
        message = f"nothing sent: {exc}; make it writable or set {STATE_DIR_ENV} to a writable directory"
        return ActionResult(action, targets, Outcome.REFUSED, message)

    def _end(self, attempt: str, *, outcome: str, message: str, status: int | None = None) -> str:
        """Record how an attempt ended; returns a note for the operator when the record could not be written.

        The request has gone by then, so the result still says what happened: only the trace is missing.
        """
        try:
            self._audit.end(attempt, outcome=outcome, message=message, status=status)
        except AuditUnavailable as exc:
            return f" (audit record not written: {exc.reason})"
        return ""


_DONE = {
    "cancel_run": "cancel sent",
    "replay_run": "replay sent",
    "cancel_matching": "bulk cancel created",
    "abort_bulk": "abort sent",
    "pause_queue": "queue paused",
    "resume_queue": "queue resumed",
    "override_concurrency": "limit overridden",
    "reset_concurrency": "limit reset",
    "complete_token": "token completed",
    "repair_dry_run": "dry run done",
    "apply_repair": "repair applied",
    "rollback": "rollback sent",
}


def _done(action: str) -> str:
    return _DONE.get(action, "done")


def _stored(queues: Sequence[Queue | str]) -> list[str]:
    """Repair takes stored queue names: `task/<id>` for task queues (API.md §10.2)."""
    return [q.stored_name if isinstance(q, Queue) else q for q in queues]


def _leaks(report: RepairReport) -> str:
    if report.leak_count == 0:
        return "dry run: nothing to repair"
    return f"dry run: {report.leak_count} leaked slot(s) would be repaired"
