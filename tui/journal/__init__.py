"""The incident journal: what each triage found, what was done about it, and when the server was out of reach."""

from tui.journal.store import Journal, Sighting, default_journal_path

__all__ = ["Journal", "Sighting", "default_journal_path"]
