"""External recovery commands (plugins): argv built from a template without any shell, run with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from tui.config import Plugin

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ARG_LENGTH = 256
OUTPUT_LIMIT = 16 * 1024
"""Bytes of plugin output kept (the tail is dropped, marked as truncated)."""


class PluginError(ValueError):
    """The template or an argument is unusable; nothing was run."""


def template_argv(plugin: Plugin) -> list[str]:
    """The command template split like a POSIX shell would split it, but no shell ever sees it."""
    try:
        argv = shlex.split(plugin.command, comments=False, posix=True)
    except ValueError as exc:
        raise PluginError(f"plugin {plugin.name}: command template cannot be parsed: {exc}") from exc
    if not argv:
        raise PluginError(f"plugin {plugin.name}: empty command")
    if _PLACEHOLDER.search(argv[0]):
        raise PluginError(f"plugin {plugin.name}: the program itself cannot be a {{placeholder}}")
    return argv


def plugin_parameters(plugin: Plugin) -> tuple[str, ...]:
    """The `{name}` placeholders the UI must ask for, in order of first appearance."""
    names: dict[str, None] = {}
    for element in template_argv(plugin):
        for match in _PLACEHOLDER.finditer(element):
            names.setdefault(match.group(1), None)
    return tuple(names)


def check_argument(name: str, value: str) -> str:
    """An argument value: non-empty, short, no control characters. Shell metacharacters are inert."""
    if not value.strip():
        raise PluginError(f"{name}: a value is required")
    if len(value) > MAX_ARG_LENGTH:
        raise PluginError(f"{name}: at most {MAX_ARG_LENGTH} characters")
    if _CONTROL.search(value):
        raise PluginError(f"{name}: control characters are not allowed")
    return value


def build_argv(plugin: Plugin, args: Mapping[str, str]) -> list[str]:
    """Substitute `{name}` inside each argv element of the template; one element stays exactly one element."""
    wanted = plugin_parameters(plugin)
    missing = [n for n in wanted if n not in args]
    unknown = sorted(set(args) - set(wanted))
    if missing:
        raise PluginError(f"plugin {plugin.name}: missing argument(s): {', '.join(missing)}")
    if unknown:
        raise PluginError(f"plugin {plugin.name}: unknown argument(s): {', '.join(unknown)}")
    values = {name: check_argument(name, args[name]) for name in wanted}
    argv: list[str] = []
    for element in template_argv(plugin):
        whole = _PLACEHOLDER.fullmatch(element)
        if whole and values[whole.group(1)].startswith("-"):
            # A value standing alone as an argument must not turn into an option of the program.
            raise PluginError(f"{whole.group(1)}: may not start with '-'")
        argv.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], element))
    return argv


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How a plugin process ended."""

    exit_code: int | None
    """None when it was killed at the timeout or could not start."""
    output: str
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None


async def run_argv(argv: list[str], *, timeout: float, env: Mapping[str, str] | None = None) -> ProcessResult:
    """Run `argv` directly (exec, never a shell), stdin closed, stdout+stderr captured and truncated."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env) if env is not None else dict(os.environ),
            start_new_session=True,  # the process group can be killed as a whole at the timeout
        )
    except OSError as exc:
        return ProcessResult(None, "", error=f"could not start {argv[0]}: {exc.strerror or exc}")
    assert proc.stdout is not None
    chunks: list[bytes] = []
    kept = 0

    async def collect() -> None:
        nonlocal kept
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(4096):
            if kept < OUTPUT_LIMIT + 1:
                chunks.append(chunk[: OUTPUT_LIMIT + 1 - kept])
                kept += len(chunks[-1])
        await proc.wait()

    try:
        async with asyncio.timeout(timeout):
            await collect()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await proc.wait()
        return ProcessResult(None, _decode(chunks), timed_out=True)
    return ProcessResult(proc.returncode, _decode(chunks))


def _decode(chunks: list[bytes]) -> str:
    raw = b"".join(chunks)
    text = raw[:OUTPUT_LIMIT].decode("utf-8", errors="replace")
    return text + "\n… (output truncated)" if len(raw) > OUTPUT_LIMIT else text
