"""Textual's Footer without its leak: the keys it replaces on every recompose are let go."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """The key footer. Textual binds each key's `compact` to the footer (`data_bind`), which puts the key in the
    footer's watcher list; only a change of `compact` clears keys that are gone. A footer recomposes at every pane
    switch and focus change, so without this the old keys (17 a pane) stay alive for the whole session."""

    async def recompose(self) -> None:
        await super().recompose()
        # Textual keeps the list under this attribute name (reactive._watch); one of its own entries is kept while
        # its node is still attached, as Textual itself prunes them when `compact` changes.
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
