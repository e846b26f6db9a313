"""The runbook, live: gather facts, diagnose a run or triage the environment, and verify the recovery."""

from tui.diagnosis.decide import diagnose
from tui.diagnosis.facts import EnvFacts, OpenSpan, QueueFacts, RunFacts, RunTrace
from tui.diagnosis.findings import (
    ACTION_KEYS,
    PRECEDENCE,
    Action,
    Cause,
    Finding,
    Outcome,
    Recovery,
    Step,
    VerifyCheck,
    VerifyKind,
)
from tui.diagnosis.triage import affected_runs, triage
from tui.diagnosis.verify import Observation, VerifyResult, VerifyState, evaluate, evaluate_all

__all__ = [
    "ACTION_KEYS",
    "PRECEDENCE",
    "Action",
    "Cause",
    "EnvFacts",
    "Finding",
    "Observation",
    "OpenSpan",
    "Outcome",
    "QueueFacts",
    "Recovery",
    "RunFacts",
    "RunTrace",
    "Step",
    "VerifyCheck",
    "VerifyKind",
    "VerifyResult",
    "VerifyState",
    "affected_runs",
    "diagnose",
    "evaluate",
    "evaluate_all",
    "triage",
]
