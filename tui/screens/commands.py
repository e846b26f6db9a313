"""The `:` command vocabulary: one table that the parser, the help screen and the suggestions all read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    argument: str
    description: str
    aliases: tuple[str, ...] = ()


COMMANDS: tuple[Command, ...] = (
    Command("queues", "", "Show the queues pane"),
    Command("runs", "", "Show the runs pane"),
    Command("waitpoints", "", "Show the waitpoints pane", ("tokens",)),
    Command("triage", "", "Show the triage pane"),
    Command("run", "ID", "Open a run's detail"),
    Command("queue", "NAME", "Select a queue in the queues pane"),
    Command("profile", "NAME", "Switch to another profile"),
    Command("status", "A,B", "Runs pane: show these statuses (empty = all)"),
    Command("window", "PERIOD", "Runs pane: time window such as 1h or 7d (empty = 7d)"),
    Command("tag", "TAG", "Waitpoints pane: only tokens with this tag (empty = any)"),
    Command("write", "[15m]", "Elevate to write mode for a time box (asks a reason)"),
    Command("cancel-matching", "", "Runs pane: bulk-cancel every run matching the filter (count shown first)"),
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
