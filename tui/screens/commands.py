"""The `:` command vocabulary: one table that the parser, the help screen and the suggestions all read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    argument: str
    description: str
    aliases: tuple[str, ...] = ()
    search: bool = False
    """A server-side search term of the runs pane: typed elsewhere, it opens the runs pane first."""


COMMANDS: tuple[Command, ...] = (
    Command("queues", "", "Show the queues pane"),
    Command("runs", "", "Show the runs pane"),
    Command("waitpoints", "", "Show the waitpoints pane", ("tokens",)),
    Command("triage", "", "Show the triage pane"),
    Command("env", "", "Every profile at once: connection, stuck runs, worst finding; enter switches", ("envs",)),
    Command("run", "ID", "Open a run's detail"),
    Command("queue", "NAME", "Select a queue in the queues pane"),
    Command("profile", "NAME", "Switch to another profile"),
    Command("task", "A,B", "Runs: search the server for runs of these tasks (empty = any)", search=True),
    Command("tag", "A,B", "Runs: runs with any of these tags; waitpoints pane: tokens with this tag", search=True),
    Command("batch", "ID", "Runs: runs of one batch (batch_…)", search=True),
    Command("version", "V", "Runs: runs locked to these versions", search=True),
    Command("status", "A,B", "Runs: show these statuses (empty = all)", search=True),
    Command("key", "KEY", "Runs: idempotency key (the API cannot search by it: says so)", search=True),
    Command("window", "PERIOD", "Runs: created within 2h, 7d… (empty = 7d; replaces :from/:to)", search=True),
    Command("from", "TIME", "Runs: created from an ISO time or 6h ago (replaces :window)", search=True),
    Command("to", "TIME", "Runs: created up to an ISO time or 1h ago (replaces :window)", search=True),
    Command("clear", "", "Runs: back to active runs of the last 7 days", search=True),
    Command("search", "NAME", "Runs: run a saved search of this profile"),
    Command("write", "[15m]", "Elevate to write mode for a time box (asks a reason)"),
    Command("cancel-matching", "", "Runs pane: bulk-cancel every run matching the search (count shown first)"),
    Command("plugin", "NAME", "Run a profile plugin (external recovery), asks its arguments"),
    Command("audit", "", "Show the audit log of actions"),
    Command("report", "", "Write the incident report (Markdown) from the journal and say where"),
    Command("help", "", "Show keys and commands"),
    Command("q", "", "Quit", ("quit", "q!")),
)
_BY_NAME = {alias: command for command in COMMANDS for alias in (command.name, *command.aliases)}


def parse(text: str) -> tuple[Command | None, str, str]:
    """Split `:name argument` into (command or None when unknown, the name typed, the argument)."""
    text = text.strip().removeprefix(":").strip()
    name, _, argument = text.partition(" ")
    return _BY_NAME.get(name.lower()), name, argument.strip()


def suggestions() -> list[str]:
    return [command.name + (" " if command.argument else "") for command in COMMANDS]
