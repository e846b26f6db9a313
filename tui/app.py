"""PlatosApp: the panes as MODES, keys declared once, command palette, `:` commands. No data logic."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import constants, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tui.api.client import EngineClient
from tui.config import Settings
from tui.model.text import clean
from tui.screens.commands import parse
from tui.screens.messages import OpenRun, OpenRuns
from tui.screens.pane import PaneScreen
from tui.screens.queues import QueuesScreen
from tui.screens.session import Session
from tui.widgets.release import release_removed_widgets

if TYPE_CHECKING:  # the flows pull in every action screen: built when a key first needs them
    from tui.journal import Journal
    from tui.screens.flows import ActionFlows


SWITCH_MASK = 1 / constants.MAX_FPS
"""Seconds a switch of pane holds repaints: one frame (Textual draws at most `MAX_FPS` a second, 60 by default)."""


def _pane(module: str, name: str) -> Callable[[Session], PaneScreen]:
    """A pane built on first show: only the queues pane is imported before the first frame (startup target)."""

    def build(session: Session) -> PaneScreen:
        screen: PaneScreen = getattr(importlib.import_module(module), name)(session)
        return screen

    return build


PANES: dict[str, Callable[[Session], PaneScreen]] = {
    "queues": QueuesScreen,
    "runs": _pane("tui.screens.runs", "RunsScreen"),
    "waitpoints": _pane("tui.screens.waitpoints", "WaitpointsScreen"),
    "triage": _pane("tui.screens.triage", "TriageScreen"),
}


def _styled(app: App[None], build: Callable[[], Screen[None]]) -> Callable[[], Screen[None]]:
    """A mode's screen marked as styled with the app's current CSS.

    A new screen gets its styles when it mounts. Left unmarked, Textual re-parses the whole stylesheet twice on
    every first switch to a mode (about 30 ms at start-up, before the first frame with data).
    """

    def styled() -> Screen[None]:
        screen = build()
        screen._css_update_count = app._css_update_count
        return screen

    return styled


SWITCHING = "switching"
"""The empty mode the app stands on while it builds the panes again for another profile."""


def _bindings_provider() -> type[Provider]:
    from tui.screens.palette import BindingsProvider

    return BindingsProvider


def _plugins_provider() -> type[Provider]:
    from tui.screens.plugin_palette import PluginsProvider

    return PluginsProvider


class PlatosApp(App[None]):
    """The console. Settings None opens the welcome screen; the demo starts from there with one key."""

    TITLE = "platos-tui"
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    # Only this console's commands: Textual's own (themes, screenshots, its key panel) are not for an incident.
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {_bindings_provider, _plugins_provider}
    # Only the keys that mean the same on every screen: each screen declares (and acts on) its own.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane('queues')", "Queues", show=False, id="pane.queues"),
        Binding("2", "pane('runs')", "Runs", show=False, id="pane.runs"),
        Binding("3", "pane('waitpoints')", "Waitpoints", show=False, id="pane.waitpoints"),
        Binding("4", "pane('triage')", "Triage", show=False, id="pane.triage"),
        Binding("5", "environments", "Environments", show=False, id="app.env", tooltip="Every profile at once"),
        Binding("slash", "filter", "Filter", id="app.filter"),
        Binding("colon", "command_line", "Command", id="app.command"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("y", "copy", "Copy id", id="app.copy"),
        Binding(
            "Y",
            "copy_curl",
            "Copy curl",
            show=False,
            id="app.copy_curl",
            tooltip="Copy the selected row's latest request (else the last action) as curl, key as $PLATOS_SECRET_KEY",
        ),
        Binding("escape", "go_back", "Back", show=False, id="app.back"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False, id="app.refresh"),
        Binding("P", "toggle_polling", "Pause polling", show=False, id="app.pause"),
        Binding("N", "open_created", "Open new run", id="app.open_created", tooltip="Open the run a replay created"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: Settings | None,
        *,
        make_client: Callable[[Settings], EngineClient],
        load_profile: Callable[[str], Settings] | None = None,
        list_profiles: Callable[[], list[str]] | None = None,
        clock: Callable[[], datetime] | None = None,
        start_demo: Callable[[], Settings] | None = None,
        read_only_locked: bool = False,
        journal: Journal | None = None,
        freeze_start_up: bool = False,
    ) -> None:
        """`freeze_start_up`: the process is the console's alone (the CLI), so what start-up built may be kept out
        of the garbage collector's full passes for good (a test process runs many apps, and would keep them all)."""
        release_removed_widgets()
        super().__init__()
        self._settings = settings
        self._make_client = make_client
        self._load_profile = load_profile
        self.list_profiles = list_profiles
        """The configured profile names, default first (`:env` lists them); None where there is no config."""
        self._clock = clock
        self._start_demo = start_demo
        self._locked = read_only_locked
        self._journal = journal
        self._freeze = freeze_start_up
        self._client: Future[EngineClient] | None = None
        if settings is not None:
            # Building the client loads the TLS trust store (~30 ms, without the GIL): overlap it with startup.
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="platos-client")
            self._client = pool.submit(make_client, settings)
            pool.shutdown(wait=False)
        self.session: Session | None = None
        self._origin: str | None = None
        self.failure: Exception | None = None
        """The first unhandled error, which ended the app: the composition root reports it in one line."""

    def _handle_exception(self, error: Exception) -> None:
        # Textual's only hook for an error that ends the app; it still exits as before.
        if self.failure is None:
            self.failure = error
        super()._handle_exception(error)

    def _flows(self, session: Session) -> ActionFlows:
        from tui.screens.flows import ActionFlows

        return ActionFlows(self, session)

    def on_mount(self) -> None:
        if self._settings is None:
            from tui.screens.welcome import WelcomeScreen

            self.push_screen(WelcomeScreen(demo_available=self._start_demo is not None))
        else:
            self._start(self._settings)

    def _start(self, settings: Settings) -> None:
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))
        early, self._client = self._client, None
        client = early.result() if early is not None else self._make_client(settings)
        self.session = Session(
            settings,
            client,
            self._clock,
            make_flows=self._flows,
            read_only_locked=self._locked,
            journal=self._journal,
        )
        if self._journal is not None:
            self._journal.warn = self._journal_warning(asyncio.get_running_loop())
        for name, screen in PANES.items():
            self.add_mode(name, _styled(self, partial(screen, self.session)))
        self.switch_mode("queues")

    def on_ready(self) -> None:
        if self._freeze:
            # Everything built so far (modules, classes, styles: most of the objects the process holds) stays for
            # good: out of the collector's full passes, which otherwise stall the UI for 50-70 ms now and then.
            gc.freeze()

    def delay_update(self, delay: float = 0.05) -> None:
        """Textual masks a switch of mode by holding repaints for `delay` (50 ms): it hides the frame drawn while
        the switch is under way (the new pane's changed parts over the old pane). One frame's time hides it as
        well, and the new pane shows in 20-35 ms from its key instead of 55-60 ms."""
        super().delay_update(min(delay, SWITCH_MASK))

    async def on_unmount(self) -> None:
        # Textual cancels the app's workers only after this: an action still watching its result (a bulk being
        # verified) would wake on a closed client and fail the exit. Stop them first; they would be stopped anyway.
        self.workers.cancel_node(self)
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.client.aclose()
        if self._journal is not None:
            await asyncio.to_thread(self._journal.close)

    def _journal_warning(self, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
        """The journal writes from its own thread: its one-line warning is handed to the UI loop."""

        def warn(message: str) -> None:
            notify = partial(
                self.notify, clean(message, 300), title="Journal", severity="warning", timeout=8, markup=False
            )
            loop.call_soon_threadsafe(notify)

        return warn

    def on_welcome_screen_start_demo(self) -> None:
        if self._start_demo is not None and self.session is None:
            self._start(self._start_demo())

    # ----- navigation -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        wants_session = {"pane", "filter", "copy", "copy_curl", "refresh_now", "toggle_polling", "environments"}
        if action in wants_session and self.session is None:
            return False
        if action == "filter":
            return isinstance(self.screen, PaneScreen)
        if action == "open_created":
            return self.session is not None and self.session.created_run is not None
        return True

    def action_pane(self, name: str) -> None:
        if self.session is None or name not in PANES:
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self._origin = None
        self.switch_mode(name)

    def action_go_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
            return
        screen = self.screen
        if isinstance(screen, PaneScreen) and not screen.back() and self._origin is not None:
            origin, self._origin = self._origin, None
            self.switch_mode(origin)

    @on(OpenRuns)
    def _open_runs(self, message: OpenRuns) -> None:
        if self.session is not None:
            self.session.run_queue = message.queue
            self._origin = message.origin
            self.switch_mode("runs")

    @on(OpenRun)
    def _open_run(self, message: OpenRun) -> None:
        self.open_run(message.run_id)

    def action_open_created(self) -> None:
        if self.session is not None and self.session.created_run is not None:
            self.open_run(self.session.created_run)

    def open_run(self, run_id: str) -> None:
        if self.session is None:
            return
        from tui.screens.run_detail import RunDetailScreen

        session = self.session
        screen = RunDetailScreen(
            session.client,
            session.settings,
            run_id,
            clock=session.clock,
            paused=lambda: session.paused,
            session=session,
        )
        self.push_screen(screen)

    # ----- global actions -------------------------------------------------------------------------------

    def action_filter(self) -> None:
        if isinstance(self.screen, PaneScreen):
            self.screen.open_filter()

    def action_copy(self) -> None:
        screen = self.screen
        value = screen.selected_value() if isinstance(screen, PaneScreen) else getattr(screen, "run_id", None)
        if isinstance(value, str) and value:
            self.copy_to_clipboard(value)
            self.notify(f"Copied {clean(value, 80)}", timeout=2)
        else:
            self.notify("Nothing selected to copy", severity="warning", timeout=2)

    def action_copy_curl(self) -> None:
        from tui.api.curl import curl_command, pick_request

        screen = self.screen
        value = screen.selected_value() if isinstance(screen, PaneScreen) else getattr(screen, "run_id", None)
        sent = self.session.client.sent_requests() if self.session is not None else ()
        picked = pick_request(sent, value if isinstance(value, str) else None)
        if picked is None:
            self.notify("No request to copy yet", severity="warning", timeout=2)
            return
        request, which = picked
        self.copy_to_clipboard(curl_command(request))
        self.notify(f"Copied curl for {which}: {request.method} {clean(request.path, 80)}", timeout=3, markup=False)

    def action_refresh_now(self) -> None:
        refresh = getattr(self.screen, "refresh_now", None)
        if callable(refresh):
            refresh()

    def action_toggle_polling(self) -> None:
        if self.session is None:
            return
        self.session.paused = not self.session.paused
        self.notify("Polling paused (P resumes)" if self.session.paused else "Polling resumed", timeout=2)
        if isinstance(self.screen, PaneScreen):
            self.screen.update_bars()
            if not self.session.paused:
                self.screen.refresh_now()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen.for_screen(self.screen))

    def action_command_line(self) -> None:
        self.prompt_command(":")

    @work
    async def prompt_command(self, text: str) -> None:
        """Open the `:` command line with `text` typed, then carry out what the operator enters."""
        from tui.screens.command_line import CommandLine

        entered = await self.push_screen_wait(CommandLine(text))
        if entered:
            await self.run_command(entered)

    async def run_command(self, text: str) -> None:
        """Carry out one `:` command; an unknown one says so and changes nothing."""
        command, name, argument = parse(text)
        if command is None:
            if name:
                self.notify(f"Unknown command :{clean(name, 40)}. Press ? for the list.", severity="warning")
            return
        if command.name in PANES:
            self.action_pane(command.name)
        elif command.name == "q":
            self.exit()
        elif command.name == "help":
            self.action_help()
        elif not argument and command.argument and command.name in {"run", "queue", "profile"}:
            self.notify(f":{command.name} needs {command.argument}", severity="warning")
        elif command.name == "run":
            self.open_run(argument)
        elif command.name == "queue":
            self.action_pane("queues")
            screen = self.screen
            if isinstance(screen, QueuesScreen) and not screen.select_queue(argument):
                self.notify(f"No queue named {clean(argument, 60)}", severity="warning")
        elif command.name == "profile":
            await self._switch_profile(argument)
        elif command.name == "audit":
            from tui.screens.audit import AuditScreen

            self.push_screen(AuditScreen())
        elif command.name == "report":
            self._write_report()
        elif command.name in ("write", "plugin"):
            self._flow_command(command.name, argument)
        elif command.name == "search":
            self._saved_search(argument)
        elif command.name == "env":
            self.action_environments()
        elif isinstance(self.screen, PaneScreen) and self.screen.run_command(command.name, argument):
            pass
        elif command.search and self.session is not None:
            # A search term typed on another screen searches the runs pane, which it then shows.
            self.action_pane("runs")
            if isinstance(self.screen, PaneScreen):
                self.screen.run_command(command.name, argument)
        else:
            self.notify(f":{command.name} does not apply here: {command.description}", severity="warning")

    def _saved_search(self, name: str) -> None:
        """`:search NAME`: the profile's saved search, from the default search, in the runs pane."""
        if self.session is None:
            return
        saved = dict(self.session.settings.searches)
        known = ", ".join(saved) or f"none in profile {clean(self.session.settings.profile, 40)}"
        if name not in saved:
            wanted = f"no saved search {clean(name, 40)!r}" if name else ":search needs NAME"
            self.notify(f"{wanted} (saved: {clean(known, 160)})", severity="warning")
            return
        self.action_pane("runs")
        apply = getattr(self.screen, "apply_search", None)
        if callable(apply) and apply(saved[name], fresh=True):
            self.notify(f"search {clean(name, 40)}: {clean(saved[name], 160)}", timeout=3)

    @work(group="report", exclusive=True)
    async def _write_report(self) -> None:
        """`:report`: the journal of this profile as a Markdown postmortem in the state directory."""
        from tui.journal.report import write_console_report

        if self.session is None or self._journal is None:
            self.notify("No journal in this session: nothing to report", severity="warning")
            return
        session = self.session
        written, message = await asyncio.to_thread(
            write_console_report, self._journal, session.settings.profile, session.clock()
        )
        severity: SeverityLevel = "information" if written else "error"
        self.notify(clean(message, 300), title="Report", severity=severity, timeout=10, markup=False)

    def _flow_command(self, name: str, argument: str) -> None:
        """`:write` and `:plugin`, which mean the same on every screen; their flows run in an app worker."""
        from tui.screens.flows import plugin_named, write_minutes

        flows = self.session.flows if self.session is not None else None
        if flows is None:
            return
        if name == "write":
            minutes = write_minutes(argument)
            if minutes is None:
                self.notify("use :write 15m (1 to 60 minutes)", severity="warning")
            else:
                flows.start(flows.elevate(minutes))
            return
        plugin = plugin_named(flows, argument.strip())
        if plugin is None:
            names = ", ".join(p.name for p in flows.session.settings.plugins) or "none configured"
            self.notify(f"no plugin {clean(argument, 40)!r} (plugins: {clean(names, 120)})", severity="warning")
        else:
            flows.start(flows.run_plugin(plugin))

    async def _switch_profile(self, name: str) -> None:
        if self._load_profile is None or self.session is None:
            self.notify("Profiles cannot be switched here", severity="warning")
            return
        try:
            settings = self._load_profile(name)
        except Exception as error:  # config errors are the operator's to fix; say why, keep running
            self.notify(f"Profile {clean(name, 40)}: {clean(str(error), 120)}", severity="error")
            return
        await self.switch_to(settings)

    async def switch_to(self, settings: Settings) -> None:
        """Point the console at another profile: a new client, the old one closed, and fresh panes (no mark,
        filter, search or scroll position of the old environment survives)."""
        if self.session is None:
            return
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))
        old = self.session.switch(settings, self._make_client(settings))
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self._origin = None
        # The current mode cannot be removed: stand on an empty one while the panes are built again.
        self.add_mode(SWITCHING, Screen)
        await self.switch_mode(SWITCHING)
        for name, screen in PANES.items():
            await self.remove_mode(name)
            self.add_mode(name, _styled(self, partial(screen, self.session)))
        await self.switch_mode("queues")
        await self.remove_mode(SWITCHING)
        with contextlib.suppress(Exception):
            await old.aclose()
        self.notify(f"Switched to profile {clean(settings.profile, 40)}")

    def action_environments(self) -> None:
        """`5` / `:env`: every profile with its live summary; `enter` on one switches to it."""
        from tui.screens.environments import EnvironmentsScreen

        session = self.session
        if session is None or isinstance(self.screen, EnvironmentsScreen):
            return
        current = session.settings
        names: list[str] = []
        if self.list_profiles is not None and self._load_profile is not None:
            try:
                names = [name for name in self.list_profiles() if name != current.profile]
            except Exception as error:  # a broken config file: the current profile is still worth showing
                self.notify(f"profiles: {clean(str(error), 160)}", severity="warning")
        load = self._load_profile
        profiles = [(current.profile, lambda: current)]
        profiles += [(name, partial(load, name)) for name in names if load is not None]
        self.push_screen(
            EnvironmentsScreen(
                profiles,
                self._make_client,
                lambda settings: self.run_worker(self.switch_to(settings), group="switch", exclusive=True),
                current=current.profile,
            )
        )
