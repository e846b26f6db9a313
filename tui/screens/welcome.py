"""The first-run screen: how to add a profile, which environment variables count, the demo one key away."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.config import config_path

WELCOME = """\
Welcome to platos-tui

No profile is configured yet. Either:

  • add a profile to {path}
    (or run `platos-tui profile add`):

      default_profile = "prod"

      [profiles.prod]
      url = "https://platos.example.com"
      secret_key_env = "PLATOS_PROD_KEY"    # or secret_key_command = "pass show platos/prod"
      admin_token_env = "PLATOS_PROD_PAT"   # optional: repair queues, engine report

  • or set environment variables and start again:

      PLATOS_API_URL=https://platos.example.com     (or TRIGGER_API_URL)
      PLATOS_SECRET_KEY=tr_prod_…                   (or TRIGGER_SECRET_KEY; never shown, never logged)
      PLATOS_ADMIN_TOKEN=…                          (optional)

  • or press  d  to start the demo: a simulated engine with an incident in progress
    (the same as `platos-tui --demo`).

Press q to quit.
"""


class WelcomeScreen(Screen[None]):
    """Shown when there is no configuration at all."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "demo", "Start the demo", id="welcome.demo")]

    class StartDemo(Message):
        """The operator asked for the demo."""

    def __init__(self, demo_available: bool) -> None:
        super().__init__(id="welcome")
        self._demo_available = demo_available

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="welcome-box"):
            yield Static(WELCOME.format(path=config_path()), id="welcome-text", markup=False)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._demo_available if action == "demo" else True

    def action_demo(self) -> None:
        self.post_message(self.StartDemo())
