"""Confirmation models: the environment in words, the effect sentence, and when typing is required."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.simclient import START, settings
from tui.actions.confirm import (
    confirm_cancel_matching,
    confirm_cancel_run,
    confirm_cancel_runs,
    confirm_complete_token,
    confirm_override,
    confirm_pause,
    confirm_plugin,
    confirm_repair,
)
from tui.actions.inputs import RunFilter, check_token_body
from tui.config import Plugin
from tui.model import Queue, QueueType, Repair, RepairReport, RepairResult, Run, RunStatus

NOW = START


def make_run(run_id: str) -> Run:
    """A run EXECUTING for 14 minutes: confirmations are pure functions of the model, no client needed."""
    started = NOW - timedelta(minutes=14)
    return Run(run_id, RunStatus.EXECUTING, "agent-turn", started - timedelta(minutes=1), started, started)


def make_queue(**changes: Any) -> Queue:
    return replace(Queue("queue_agent-turn", "agent-turn", QueueType.TASK, 0, 5, False, 10), **changes)


def test_cancel_sentence_in_production_requires_typing_the_environment() -> None:
    conf = confirm_cancel_run(make_run("run_x"), settings(production=True), NOW)
    assert conf.effect == "Cancel run run_x (task agent-turn, EXECUTING for 14 m) in PRODUCTION (prod-eu)?"
    assert conf.environment.production and conf.environment.type == "production"
    assert conf.typing_required and conf.expected_text == "prod-eu"
    assert conf.accepts(" prod-eu ") and not conf.accepts("y") and not conf.accepts("prod")
    assert "Type prod-eu" in conf.prompt


def test_cancel_in_development_needs_only_y() -> None:
    conf = confirm_cancel_run(make_run("run_x"), settings(), NOW)
    assert conf.effect.endswith("in development?")
    assert not conf.typing_required and not conf.accepts("development")


def test_bulk_requires_typing_the_number_of_runs_even_outside_production() -> None:
    runs = [make_run(f"run_{i}") for i in range(12)]
    conf = confirm_cancel_runs(runs, settings(), NOW)
    assert conf.expected_text == "12" and conf.targets == tuple(r.id for r in runs)
    assert conf.details[-1] == "… and 2 more"
    matching = confirm_cancel_matching(RunFilter(statuses=(RunStatus.DEQUEUED,)), 37, settings(production=True))
    assert matching.expected_text == "37"
    assert "Cancel all 37 runs matching [status DEQUEUED, created in the last 7 days]" in matching.effect
    assert confirm_cancel_runs(runs[:1], settings(), NOW).action == "cancel_run"


def test_queue_confirmation_shows_queued_and_running() -> None:
    queue = make_queue(queued=40, running=10, paused=True)
    conf = confirm_pause(queue, False, settings())
    assert conf.action == "resume_queue"
    assert "queue agent-turn (40 queued, 10 running, limit 10)" in conf.effect
    assert "limit 10" in confirm_override(queue, 20, settings()).effect


def test_untrusted_strings_are_rendered_safe() -> None:
    run = make_run("run_\x1b[2Jevil")
    conf = confirm_cancel_run(run, settings(), NOW)
    assert "\x1b" not in conf.effect


def test_token_confirmation_shows_the_body_or_why_it_cannot_be_sent() -> None:
    good = check_token_body('{\n  "approved": true\n}')
    conf = confirm_complete_token("waitpoint_1", good, '{\n  "approved": true\n}', settings(), blocked_run="run_w")
    assert "resume the run run_w" in conf.effect and conf.details[1] == '  "approved": true'
    bad = check_token_body("{oops")
    conf = confirm_complete_token("waitpoint_1", bad, "{oops", settings())
    assert conf.details[0].startswith("Cannot send: invalid JSON")


def test_repair_confirmation_lists_each_queue() -> None:
    leak = Repair("repairSnapshot", "abc", "FINISHED", "snap")
    report = RepairReport(RepairResult((leak,), 0, True), (("task/process-video", RepairResult((), 0, True)),))
    conf = confirm_repair(report, [], settings())
    assert "all queues" in conf.effect and "1 leaked slot(s)" in conf.effect
    assert conf.details == (
        "environment: 1 leaked slot(s) to repair",
        "queue task/process-video: 0 leaked slot(s) to repair",
    )


def test_plugin_confirmation_shows_the_exact_argv() -> None:
    plugin = Plugin("scale-workers", "kubectl scale --replicas={replicas}")
    conf = confirm_plugin(plugin, ["kubectl", "scale", "--replicas=3; rm -rf /"], settings(production=True))
    assert conf.details[0] == "kubectl scale '--replicas=3; rm -rf /'"
    assert conf.expected_text == "prod-eu"


def test_confirmations_write_durations_like_every_screen() -> None:
    from tui.diagnosis.fmt import dur
    from tui.model.duration import duration

    for age in (timedelta(seconds=45), timedelta(minutes=14, seconds=59), timedelta(hours=3, minutes=5)):
        assert duration(age) == dur(age)  # the diagnosis and the screens say it the same way
    assert duration(timedelta(days=3, hours=4)) == "3 d 4 h"
