"""Plugins: argv substitution without a shell, argument checks, a real subprocess with timeout and audit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.simclient import SECRET, Sim, seed_queue, seed_run
from tui.actions.audit import read_entries
from tui.actions.plugins import PluginError, build_argv, plugin_parameters
from tui.actions.results import Outcome
from tui.api.guard import WriteGuard
from tui.config import Plugin

from .conftest import RunnerFactory

PY = sys.executable
ECHO = f"{PY} -c 'import sys, json; print(json.dumps(sys.argv[1:]))'"


def test_each_placeholder_stays_inside_its_argv_element() -> None:
    plugin = Plugin("scale-workers", "kubectl -n platos scale deploy/worker --replicas={replicas} {extra}")
    assert plugin_parameters(plugin) == ("replicas", "extra")
    argv = build_argv(plugin, {"replicas": "1; rm -rf /", "extra": "$(reboot) `id` && x | y > z"})
    assert argv == [
        "kubectl",
        "-n",
        "platos",
        "scale",
        "deploy/worker",
        "--replicas=1; rm -rf /",
        "$(reboot) `id` && x | y > z",
    ]


def test_a_value_is_not_substituted_twice() -> None:
    plugin = Plugin("p", "tool {a} {b}")
    assert build_argv(plugin, {"a": "{b}", "b": "x"}) == ["tool", "{b}", "x"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({}, "missing"),
        ({"n": "1", "m": "2"}, "unknown"),
        ({"n": ""}, "required"),
        ({"n": "  "}, "required"),
        ({"n": "a\nb"}, "control"),
        ({"n": "x" * 300}, "at most"),
        ({"n": "--kubeconfig=/tmp/evil"}, "may not start with '-'"),
    ],
)
def test_bad_arguments_are_refused(args: dict[str, str], fragment: str) -> None:
    with pytest.raises(PluginError, match=fragment):
        build_argv(Plugin("p", "tool {n}"), args)


def test_the_program_cannot_be_a_placeholder() -> None:
    with pytest.raises(PluginError, match="program"):
        plugin_parameters(Plugin("p", "{cmd} --x"))
    with pytest.raises(PluginError, match="parsed"):
        plugin_parameters(Plugin("p", "tool 'unterminated"))


async def test_plugin_runs_without_a_shell_and_is_audited(make_runner: RunnerFactory) -> None:
    runner = make_runner()
    result = await runner.run_plugin(Plugin("echo", f"{ECHO} {{value}} fixed"), {"value": "1; rm -rf / && echo hi"})
    assert result.ok and result.output is not None
    assert result.output.strip() == '["1; rm -rf / && echo hi", "fixed"]'
    assert result.verification is None  # not a scale plugin
    (entry,) = read_entries()
    assert entry.action == "plugin:echo" and entry.outcome == "ok"
    assert entry.request is not None and entry.request["argv"][-2] == "1; rm -rf / && echo hi"


async def test_plugin_refused_in_read_only_runs_nothing(
    tmp_path: Path, world: Sim, make_runner: RunnerFactory
) -> None:
    marker = tmp_path / "ran"
    plugin = Plugin("touch", f"{PY} -c 'import pathlib,sys; pathlib.Path(sys.argv[1]).touch()' {{path}}")
    result = await make_runner(client=world.client(guard=WriteGuard(read_only=True))).run_plugin(
        plugin, {"path": str(marker)}
    )
    assert result.outcome is Outcome.REFUSED and not marker.exists()
    assert read_entries()[0].outcome == "refused"


async def test_plugin_failure_timeout_and_missing_program(make_runner: RunnerFactory) -> None:
    runner = make_runner(plugin_timeout=0.5)
    failed = await runner.run_plugin(Plugin("fail", f"{PY} -c 'import sys; sys.exit(3)'"), {})
    assert failed.outcome is Outcome.FAILED and "exited 3" in failed.message
    slow = await runner.run_plugin(Plugin("slow", f"{PY} -c 'import time; time.sleep(30)'"), {})
    assert slow.outcome is Outcome.UNKNOWN and "killed after 0.5 s" in slow.message
    missing = await runner.run_plugin(Plugin("gone", "/nonexistent/tool --x"), {})
    assert missing.outcome is Outcome.FAILED and "could not start" in missing.message
    assert [e.outcome for e in read_entries()] == ["failed", "unknown", "failed"]


async def test_plugin_output_is_truncated_and_scrubbed(make_runner: RunnerFactory) -> None:
    code = f"print('{SECRET}'); print('x' * 100000)"
    result = await make_runner().run_plugin(Plugin("loud", f'{PY} -c "{code}"'), {})
    assert result.output is not None and SECRET not in result.output
    assert result.output.endswith("(output truncated)") and len(result.output) < 20_000
    assert SECRET not in (read_entries()[0].message or "")


async def test_scale_plugin_is_verified_by_dequeue_resuming(world: Sim, make_runner: RunnerFactory) -> None:
    seed_queue(world.engine, "agent-turn", limit=2)
    for i in range(30):
        seed_run(world.engine, "agent-turn", "QUEUED", minutes=30 - i)
    world.engine.workers = 0  # the pool is scaled to zero; the plugin below does not really scale it
    plugin = Plugin("scale-workers", f"{PY} -c 'pass' {{replicas}}")
    result = await make_runner(timeout=2).run_plugin(plugin, {"replicas": "3"})
    assert result.ok and result.verification is not None and not result.verification.verified
    assert "nothing dequeued yet" in result.verification.seen

    async def workers_start(seconds: float) -> None:
        world.engine.workers = 3  # the new replicas come up while the verifier waits
        await world.advance(seconds)

    result = await make_runner(timeout=5, sleep=workers_start).run_plugin(plugin, {"replicas": "3"})
    assert result.verification is not None and result.verification.verified
    assert result.verification.seen == "running 0→2, queued 30→28"
