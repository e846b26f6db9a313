"""Pane 3, waitpoint tokens: status, age, timeout, tags, key, callback URL, the run it blocks."""

from __future__ import annotations

import time
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from tui.api.errors import Forbidden
from tui.model import WAIT_FOR_TOKEN, RunStatus, TokenStatus, WaitpointToken
from tui.screens.messages import OpenRun
from tui.screens.pane import PaneScreen
from tui.screens.session import Session
from tui.widgets.format import age, until
from tui.widgets.table import Cell, Column, FastTable, Row

STATUS_CYCLE: tuple[tuple[TokenStatus, ...], ...] = (
    (TokenStatus.WAITING,),
    (TokenStatus.COMPLETED,),
    (TokenStatus.TIMED_OUT,),
    (),
)
SCAN_LIST_EVERY = 30.0
"""Seconds between re-reads of the WAITING/EXECUTING runs whose traces may name a token."""
RESCAN_RUN_EVERY = 120.0
SCAN_CALLS_PER_POLL = 2
"""Trace and span reads per poll: the blocked-run column fills in slowly rather than spending the budget."""
REFUSED = "this key cannot read waitpoint tokens"
REFUSED_RECHECK = 60.0
"""Seconds before asking again after a 403 (the key's scopes rarely change mid-session)."""
TONE = {TokenStatus.WAITING: "warning", TokenStatus.COMPLETED: "success", TokenStatus.TIMED_OUT: "error"}


class WaitpointsScreen(PaneScreen):
    """Tokens (WAITING by default); blocked runs come from open `wait.forToken()` spans, scanned lazily."""

    PANE = "waitpoints"
    EMPTY = "No tokens match (f: status, :tag TAG)"
    COLUMNS = (
        Column("id", "Token", 14, flex=3, max_width=36, cut_middle=True),
        Column("status", "Status", 9),
        Column("age", "Age", 9, align="right"),
        Column("timeout", "Timeout", 14),
        Column("run", "Blocked run", 14, priority=1, flex=2, max_width=32, cut_middle=True),
        Column("tags", "Tags", 10, priority=2, flex=2),
        Column("idem", "Idempotency key", 14, priority=3, flex=1),
        Column("url", "Callback URL", 16, priority=5, flex=2),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "next_status", "Status", id="waitpoints.status"),
        Binding("u", "copy_url", "Copy URL", id="waitpoints.copy_url"),
        Binding("r", "complete", "Complete", id="waitpoints.complete", tooltip="Complete with JSON"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.statuses: tuple[TokenStatus, ...] = (TokenStatus.WAITING,)
        self.tag: str | None = None
        self._tokens: dict[str, WaitpointToken] = {}
        self._next: str | None = None
        self._want_more = False
        self._blocked: dict[str, str] = {}
        """Token id -> the run found waiting on it."""
        self._candidates: list[str] = []
        self._candidates_read: float | None = None
        self._scanned: dict[str, float] = {}
        self._pending_spans: list[tuple[str, str]] = []
        self._refused_at: float | None = None
        """When the server last refused this key the token routes (403)."""

    def loaded_message(self) -> str:
        return REFUSED if self._refused_at is not None else self.EMPTY

    def warning(self) -> str:
        return REFUSED if self._refused_at is not None else ""

    def reset(self) -> None:
        self._tokens, self._next, self._blocked, self._scanned = {}, None, {}, {}
        self._candidates, self._pending_spans, self._candidates_read = [], [], None
        self._refused_at = None
        self.table.set_rows([])

    # ----- data -----------------------------------------------------------------------------------------

    async def poll(self, *, full: bool) -> None:
        client = self.session.client
        changed = False
        if self._refused_at is not None and time.monotonic() - self._refused_at < REFUSED_RECHECK:
            return
        if full or not self._tokens:
            try:
                page = await client.list_tokens(
                    statuses=self.statuses, tags=[self.tag] if self.tag else [], page_size=100
                )
            except Forbidden:
                # A scoped key may lack the token routes: say so here and leave the other panes alone.
                self.reset()
                self._refused_at = time.monotonic()
                return
            self._refused_at = None
            # Page one replaces what it covers; older pages the operator scrolled to stay (with their cursor).
            oldest = min((t.created_at for t in page.items), default=None) if page.next else None
            older = {k: t for k, t in self._tokens.items() if oldest is not None and t.created_at < oldest}
            self._tokens = {token.id: token for token in page.items} | older
            if not older:
                self._next = page.next
            changed = True
        if self._want_more and self._next is not None:
            self._want_more = False
            page = await client.list_tokens(
                statuses=self.statuses, tags=[self.tag] if self.tag else [], page_size=100, after=self._next
            )
            self._tokens.update((token.id, token) for token in page.items)
            self._next = page.next
            changed = True
        if full:
            changed |= await self._scan_blocked_runs()
        if changed:
            self.render_rows()

    async def _scan_blocked_runs(self) -> bool:
        """A few calls per poll: list waiting runs, read their traces, then the open wait spans' details."""
        client = self.session.client
        waiting = [t for t in self._tokens.values() if t.status is TokenStatus.WAITING]
        if not waiting:
            return False
        now = time.monotonic()
        stats = client.stats()
        # Spend what the budget leaves: nothing when the client is near its limit or slowed down.
        spare = not stats.budget_per_second or stats.requests_per_second < 0.6 * stats.budget_per_second
        if getattr(stats, "slowed_down", False) or not spare:
            return False
        calls = 0
        found = False
        if self._candidates_read is None or now - self._candidates_read >= SCAN_LIST_EVERY:
            page = await client.list_runs(statuses=(RunStatus.WAITING, RunStatus.EXECUTING), page_size=100, fill=2)
            self._candidates = [run.id for run in page.items]
            self._candidates_read = now
            calls += 1
            # Over a long watch the runs come and go: keep what still matters, not every run ever seen.
            listed = set(self._candidates)
            self._scanned = {run_id: at for run_id, at in self._scanned.items() if run_id in listed}
            self._blocked = {t: r for t, r in self._blocked.items() if r in listed or t in self._tokens}
        while calls < SCAN_CALLS_PER_POLL and self._pending_spans:
            run_id, span_id = self._pending_spans.pop(0)
            detail = await client.span_detail(run_id, span_id)
            calls += 1
            if detail.waitpoint_id is not None:
                self._blocked[detail.waitpoint_id] = run_id
                found = True
        for run_id in self._candidates:
            if calls >= SCAN_CALLS_PER_POLL:
                break
            if now - self._scanned.get(run_id, -RESCAN_RUN_EVERY) < RESCAN_RUN_EVERY:
                continue
            self._scanned[run_id] = now
            trace = await client.run_trace(run_id)
            calls += 1
            for span in trace.open_spans():
                if span.message != WAIT_FOR_TOKEN:
                    continue
                token_id = (span.properties or {}).get("id")
                if isinstance(token_id, str) and token_id.startswith("waitpoint_"):
                    self._blocked[token_id] = run_id  # the legacy store carries the id in the trace itself
                    found = True
                else:
                    self._pending_spans.append((run_id, span.id))
        return found

    def _scan_covered(self) -> bool:
        """Every waiting or executing run has had its trace read and no wait span is left to look up."""
        return (
            self._candidates_read is not None
            and not self._pending_spans
            and all(run_id in self._scanned for run_id in self._candidates)
        )

    def _blocked_cell(self, token: WaitpointToken, covered: bool) -> str:
        if token.id in self._blocked:
            return self._blocked[token.id]
        if token.status is not TokenStatus.WAITING:
            return "—"
        return "none seen" if covered else "…"  # "…": the scan has not reached every waiting run yet

    @on(FastTable.NearEnd)
    def _load_more(self) -> None:
        if self._next is not None:
            self._want_more = True
            self.nudge()

    # ----- rendering ------------------------------------------------------------------------------------

    def render_rows(self) -> None:
        now = self.session.clock()
        # Oldest first: the token waiting longest is the one most likely to have lost its resumer.
        tokens = sorted(self._tokens.values(), key=lambda t: t.created_at)
        self.table.set_sort("age", descending=True)
        covered = self._scan_covered()
        rows = []
        for token in tokens:
            overdue = token.timeout_at is not None and token.timeout_at < now
            timeout = until(token.timeout_at, now) if token.status is TokenStatus.WAITING else "—"
            no_resumer = token.status is TokenStatus.WAITING and token.timeout_at is None
            rows.append(
                Row(
                    token.id,
                    (
                        token.id,
                        Cell(token.status.value, TONE.get(token.status, "")),
                        age(token.created_at, now),
                        Cell(timeout, "error" if overdue else "warning" if no_resumer else ""),
                        self._blocked_cell(token, covered),
                        ", ".join(token.tags),
                        token.idempotency_key or "—",
                        token.url,
                    ),
                )
            )
        self.table.set_rows(rows)
        self.rows_updated()

    def summary(self) -> str:
        statuses = ",".join(self.statuses) if self.statuses else "all"
        parts = [f"{len(self._tokens)} tokens", f"status: {statuses}", f"tag: {self.tag or 'any'}"]
        if self._blocked:
            parts.append(f"{len(self._blocked)} linked to runs")
        parts.append("y id · u URL")
        return " · ".join(parts)

    # ----- actions --------------------------------------------------------------------------------------

    def _requery(self) -> None:
        self.reset()
        self.table.empty_message = "Loading…"
        self.refresh_now()

    def action_next_status(self) -> None:
        index = STATUS_CYCLE.index(self.statuses) if self.statuses in STATUS_CYCLE else -1
        self.statuses = STATUS_CYCLE[(index + 1) % len(STATUS_CYCLE)]
        self._requery()

    def action_copy_url(self) -> None:
        token = self.selected_token()
        if token is None:
            self.notify("No token selected", severity="warning")
            return
        self.app.copy_to_clipboard(token.url)
        self.notify("Copied the callback URL", timeout=2)

    def action_complete(self) -> None:
        """`r`: complete the token under the cursor with a JSON body, naming the run it blocks when known."""
        token, flows = self.selected_token(), self.session.flows
        if token is None or flows is None:
            return
        waiter = self.blocked_run(token.id)
        flows.start(flows.complete_token(token.id, waiter if waiter and waiter.startswith("run_") else None))

    def run_command(self, name: str, argument: str) -> bool:
        if name != "tag":
            return False
        self.tag = argument or None
        self._requery()
        return True

    def selected_token(self) -> WaitpointToken | None:
        key = self.table.cursor_key
        return self._tokens.get(key) if key is not None else None

    def blocked_run(self, token_id: str) -> str | None:
        """The run seen waiting on this token, if the scan has found one."""
        return self._blocked.get(token_id)

    @on(FastTable.Selected)
    def _open_blocked_run(self, event: FastTable.Selected) -> None:
        run_id = self._blocked.get(event.key)
        if run_id is not None:
            self.post_message(OpenRun(run_id))
        else:
            self.notify("No blocked run known for this token yet", severity="information", timeout=3)
