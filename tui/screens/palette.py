"""Command palette provider: every action bound to a key on the current screen, plus every `:` command."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.model.text import clean
from tui.screens.commands import COMMANDS


class BindingsProvider(Provider):
    """Reads the active bindings, so whatever a key does is also one search away (and a remap shows here)."""

    def _entries(self) -> list[tuple[str, str, object]]:
        app = self.app
        entries: list[tuple[str, str, object]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not active.enabled or not binding.description or binding.action in seen:
                continue
            if not binding.id or binding.id.startswith("table."):
                continue  # Textual's own bindings (scrolling, focus, copy) and moving the cursor are not commands
            seen.add(binding.action)
            key = app.get_key_display(binding)
            entries.append(
                (
                    f"{binding.description} ({key})",
                    binding.tooltip or binding.action,
                    partial(app.run_action, binding.action, active.node),
                )
            )
        runner = getattr(app, "run_command", None)
        prompt = getattr(app, "prompt_command", None)
        for command in COMMANDS:
            title = f":{command.name} {command.argument}".rstrip()
            if not command.argument or command.argument.startswith("["):  # nothing to ask, or a default
                if runner is not None:
                    entries.append((title, command.description, partial(runner, command.name)))
            elif prompt is not None:  # the argument is typed on the command line, which opens with the name
                entries.append((title, command.description, partial(prompt, f":{command.name} ")))
        session = getattr(app, "session", None)
        if runner is not None and session is not None:
            for name, line in session.settings.searches:  # the profile's saved searches, by name
                entries.append((f":search {name}", clean(line, 120), partial(runner, f":search {name}")))
        return entries

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)  # type: ignore[arg-type]
