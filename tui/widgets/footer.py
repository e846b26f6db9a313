"""Textual's Footer without its leak and without its busy work: the keys it replaces on every recompose are let
go, and it recomposes only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.reactive import Reactive
from textual.widgets import Footer


class KeyFooter(Footer):
    """The key footer. Textual binds each key's `compact` to the footer (`data_bind`), which puts the key in the
    footer's watcher list; only a change of `compact` clears keys that are gone. A footer recomposes at every pane
    switch and focus change, so without this the old keys (17 a pane) stay alive for the whole session.

    Textual also recomposes the footer each time the screen announces its bindings (every pane switch, focus
    change and key that may enable an action), even when the same keys would be drawn again: a recompose builds
    and styles every key anew (tens of ms a time). The keys drawn are remembered; an announcement that would draw
    the same keys, enabled the same way, changes nothing."""

    _drawn: Hashable | None = None

    def keys_shown(self) -> Hashable:
        """Everything `compose` draws from: the bindings (shown ones and the palette's), each key as displayed, and
        which are enabled."""
        app = self.app
        palette = app.COMMAND_PALETTE_BINDING if self.show_command_palette and app.ENABLE_COMMAND_PALETTE else None
        return (
            self._bindings_ready,
            palette,
            tuple(
                (key, binding, app.get_key_display(binding), enabled, tooltip)
                for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
                if binding.show or key == palette
            ),
        )

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            reactive = getattr(type(widget), "compact", None)  # a key (Textual does not export its class)
            if isinstance(reactive, Reactive):
                # A key mounts with its own `compact` (True), then its binding sets the footer's: two more passes
                # of the stylesheet over every key at each recompose. It gets its final value, class and all, first.
                # The palette's key is not bound: it keeps its own.
                compact = widget.has_class("-command-palette") or self.compact
                widget.set_reactive(reactive, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        drawn = self.keys_shown()
        if drawn == self._drawn:
            return
        self._drawn = drawn
        await super().recompose()
        # Textual keeps the list under this attribute name (reactive._watch); one of its own entries is kept while
        # its node is still attached, as Textual itself prunes them when `compact` changes.
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
