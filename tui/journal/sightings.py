"""What a triage saw, as journal rows: one per finding and subject (the queue, run, deploy or entity it is about)."""

from __future__ import annotations

from collections.abc import Sequence

from tui.diagnosis import EnvFacts, Finding
from tui.diagnosis.findings import Cause
from tui.journal.store import Sighting

RUN_SUBJECTS = 20
"""A finding about runs alone names at most this many as subjects (the rest are in its evidence)."""


def subjects(finding: Finding, deploy_version: str | None = None) -> tuple[str, ...]:
    """The things a finding is about; a finding is the same finding while its cause and subject stay."""
    if finding.cause is Cause.DEPLOYMENT_UNRUNNABLE:
        return (f"deploy:{deploy_version or '?'}",)
    if finding.queues:
        return tuple(f"queue:{q}" for q in finding.queues)
    if finding.entity:
        return (f"entity:{finding.entity}",)
    if finding.runs:
        return tuple(f"run:{r}" for r in finding.runs[:RUN_SUBJECTS])
    return ("environment",)


def sightings(findings: Sequence[Finding], env: EnvFacts) -> list[Sighting]:
    version = env.deployment.version if env.deployment is not None else None
    return [
        Sighting(f.cause.value, subject, f.summary, f.evidence)
        for f in findings
        if f.stuck
        for subject in subjects(f, version)
    ]
