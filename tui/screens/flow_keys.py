"""Which flow a recovery key or `:` command starts on the current screen; the app runs it in a worker."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from textual.app import App

from tui.model.text import clean

if TYPE_CHECKING:  # the flows pull in the actions layer; import them when a key is pressed, not at start-up
    from tui.actions import RunFilter
    from tui.screens.flows import ActionFlows

FLOW_COMMANDS = ("write", "audit", "plugin", "cancel-matching")


def _runs_filter(screen: Any) -> RunFilter:
    """What narrows the runs pane, worded as its header: a text filter becomes the exact run ids it shows."""
    from tui.actions import RunFilter

    ids = tuple(sorted(screen.table.keys)) if screen.table.filter else ()
    return RunFilter(
        statuses=tuple(screen.statuses),
        queue=screen.session.run_queue,
        period=screen.window,
        run_ids=ids,
        words=screen.selection_words(),
    )


def key_applies(screen: Any, name: str) -> bool:
    """Whether a recovery key means something on this screen (hides the app-level c/r/R elsewhere)."""
    from tui.screens.queues import QueuesScreen
    from tui.screens.run_detail import RunDetailScreen
    from tui.screens.runs import RunsScreen
    from tui.screens.waitpoints import WaitpointsScreen

    where: dict[str, tuple[type, ...]] = {
        "mark": (RunsScreen, QueuesScreen),
        "cancel": (RunsScreen, RunDetailScreen),
        "complete": (WaitpointsScreen, RunDetailScreen),
        "replay": (RunDetailScreen,),
        "pause": (QueuesScreen,),
        "override": (QueuesScreen,),
        "reset": (QueuesScreen,),
        "repair": (QueuesScreen,),
    }
    return isinstance(screen, where.get(name, ()))


def key_flow(app: App[Any], flows: ActionFlows, name: str) -> Awaitable[object] | None:
    """The coroutine for a key on the current screen, or None (after saying why) when it does not apply."""
    from tui.screens.queues import QueuesScreen
    from tui.screens.run_detail import RunDetailScreen
    from tui.screens.runs import RunsScreen
    from tui.screens.waitpoints import WaitpointsScreen

    screen = app.screen
    if name == "mark" and isinstance(screen, (RunsScreen, QueuesScreen)):
        key = screen.table.cursor_key
        if key is not None:
            screen.toggle_mark(key)
        return None
    if isinstance(screen, RunsScreen) and name == "cancel":
        run = screen.selected_run()
        runs = screen.marked_runs() or ([run] if run is not None else [])
        return flows.cancel_runs(runs) if runs else None
    if isinstance(screen, RunDetailScreen) and name in ("cancel", "replay", "complete"):
        detail = screen.detail
        if detail is None:
            app.notify("the run has not loaded yet", severity="warning")
            return None
        if name == "complete":
            token = screen.selected_token_id
            if token is None:
                app.notify("put the trace cursor on a wait.forToken() span to complete its token", severity="warning")
                return None
            return flows.complete_token(token, screen.run_id)
        run = detail.run
        return flows.cancel_runs([run]) if name == "cancel" else flows.replay(run)
    if isinstance(screen, QueuesScreen) and name in ("pause", "override", "reset", "repair"):
        if name == "repair":
            return flows.repair(screen.marked_queues())
        queue = screen.selected_queue()
        if queue is None:
            return None
        return {"pause": flows.toggle_pause, "override": flows.override, "reset": flows.reset}[name](queue)
    if isinstance(screen, WaitpointsScreen) and name == "complete":
        selected = screen.selected_token()
        if selected is None:
            return None
        waiter = screen.blocked_run(selected.id)
        return flows.complete_token(selected.id, waiter if waiter and waiter.startswith("run_") else None)
    return None


def command_flow(app: App[Any], flows: ActionFlows, name: str, argument: str) -> Awaitable[object] | None:
    from tui.screens.audit import AuditScreen
    from tui.screens.flows import plugin_named, write_minutes
    from tui.screens.runs import RunsScreen

    if name == "write":
        minutes = write_minutes(argument)
        if minutes is None:
            app.notify("use :write 15m (1 to 60 minutes)", severity="warning")
            return None
        return flows.elevate(minutes)
    if name == "audit":
        app.push_screen(AuditScreen())
        return None
    if name == "plugin":
        plugin = plugin_named(flows, argument.strip())
        if plugin is None:
            names = ", ".join(p.name for p in flows.session.settings.plugins) or "none configured"
            app.notify(f"no plugin {clean(argument, 40)!r} (plugins: {clean(names, 120)})", severity="warning")
            return None
        return flows.run_plugin(plugin)
    if name == "cancel-matching":
        if not isinstance(app.screen, RunsScreen):
            app.notify(":cancel-matching uses the runs pane's filter: press 2 first", severity="warning")
            return None
        screen = app.screen
        if screen.table.filter and not screen.table.row_count:
            words = clean(screen.table.filter, 40)
            app.notify(f"no run matches the filter {words}: nothing to cancel", severity="warning")
            return None
        return flows.cancel_matching(_runs_filter(screen), loaded=screen.table.total_count)
    return None
