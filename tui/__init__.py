"""platos-tui: a keyboard-driven incident console for platos run engines."""

__version__ = "0.1.0"
