"""Command palette provider: the profile's plugins (external recoveries), each one search away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.model.text import clean


class PluginsProvider(Provider):
    """`Plugin: scale-workers` runs `:plugin scale-workers` (asks its arguments, confirms, runs, audits)."""

    def _entries(self) -> list[tuple[str, str, Callable[[], Awaitable[Any]]]]:
        session = getattr(self.app, "session", None)
        runner = getattr(self.app, "run_command", None)
        if session is None or runner is None:
            return []
        return [
            (
                f"Plugin: {clean(p.name, 40)}",
                clean(p.description or p.command, 120),
                partial(runner, f"plugin {p.name}"),
            )
            for p in session.settings.plugins
        ]

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
