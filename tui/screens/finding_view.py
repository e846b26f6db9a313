"""Turn a diagnosis Finding into styled text: cause, runbook path, evidence, recovery keys, verify checklist."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from tui.diagnosis import Cause, Finding, Outcome, Recovery, Step, VerifyCheck, VerifyResult, VerifyState
from tui.diagnosis.findings import SEVERITY
from tui.model.text import clean
from tui.widgets.checklist import Item, heading

LINE_LIMIT = 300
"""Longest evidence line shown; server text is cut rather than allowed to flood the screen."""
PLUGIN_KEY = "x"
"""The key that runs the profile plugin an external recovery step names (e.g. scale-workers)."""

OUTCOME_MARK: dict[Outcome, tuple[str, str]] = {
    Outcome.YES: ("✓ yes    ", "bold $warning"),
    Outcome.NO: ("✗ no     ", "$text-muted"),
    Outcome.UNKNOWN: ("? unknown", "$warning"),
    Outcome.SKIPPED: ("- skipped", "$text-muted"),
}
VERIFY_MARK: dict[VerifyState, tuple[str, str]] = {
    VerifyState.HOLDS: ("[✓]", "bold $success"),
    VerifyState.PENDING: ("[ ]", "$warning"),
    VerifyState.UNKNOWN: ("[?]", "$text-muted"),
}


def cause_style(cause: Cause) -> str:
    """The colour of a cause: nothing moves (error), runs hang (warning), fine (success)."""
    if cause is Cause.NOT_STUCK:
        return "bold $success"
    return "bold $error" if SEVERITY[cause] == 0 else "bold $warning"


def _line(text: str) -> str:
    return clean(text, LINE_LIMIT)


def cause_content(finding: Finding) -> Content:
    """`HUNG  entity_backend_unreachable`, then the one-line summary."""
    parts: list[Content | str | tuple[str, str]] = [
        (f" {finding.label} ", f"reverse {cause_style(finding.cause)}"),
        "  ",
        (finding.cause.value, cause_style(finding.cause)),
        "\n",
        _line(finding.summary),
    ]
    if finding.also_true:
        parts += ["\n", ("Also true: ", "bold"), ", ".join(c.value for c in finding.also_true)]
    return Content.assemble(*parts)


def evidence_items(evidence: Sequence[str]) -> list[Item]:
    return [(Content("•"), Content(_line(e)), ()) for e in evidence]


def path_items(path: Sequence[Step]) -> list[Item]:
    """Each runbook check with its outcome in words and the facts behind it."""
    items: list[Item] = []
    for number, step in enumerate(path, 1):
        mark, style = OUTCOME_MARK[step.outcome]
        head = Content.assemble(f"{number}. ", (mark, style))
        items.append((head, Content(_line(step.check)), tuple(map(_line, step.evidence))))
    return items


def recovery_key(step: Recovery, plugins: frozenset[str]) -> str | None:
    """The key that starts this step in the app: its action's key, or the plugin key when the profile has it."""
    if step.key is not None:
        return step.key
    return PLUGIN_KEY if step.external is not None and step.external in plugins else None


def recovery_items(recovery: Sequence[Recovery], plugins: frozenset[str]) -> list[Item]:
    items: list[Item] = []
    for step in recovery:
        key = recovery_key(step, plugins)
        if key is not None:
            text = f"plugin {step.external}: {_line(step.label)}" if step.key is None else _line(step.label)
            items.append((Content.styled(f"[{key}]", "bold $accent"), Content(text), ()))
        else:
            where = f"external: {step.external}" if step.external else "external step"
            items.append((Content.styled("[ ]", "$text-muted"), Content(_line(step.label)), (where,)))
    return items


def verify_title(checks: Sequence[VerifyCheck], results: Sequence[VerifyResult] | None, note: str = "") -> str:
    done = sum(1 for r in results or () if r.holds)
    return f"Verify ({done}/{len(checks)} hold)" + (f" · {note}" if note else "")


def verify_items(checks: Sequence[VerifyCheck], results: Sequence[VerifyResult] | None) -> list[Item]:
    """The checklist; before any observation every check shows as not seen yet."""
    by_check = {id(r.check): r for r in results or ()}
    items: list[Item] = []
    for check in checks:
        result = by_check.get(id(check))
        state = result.state if result is not None else VerifyState.UNKNOWN
        mark, style = VERIFY_MARK[state]
        detail = result.detail if result is not None else "not observed yet"
        items.append((Content.styled(mark, style), Content(_line(check.label)), (_line(detail),)))
    return items


def evidence_content(evidence: Sequence[str], title: str = "Evidence") -> Content:
    lines: list[Content] = [heading(title)]
    lines += [Content(f"  • {_line(e)}") for e in evidence] or [Content.styled("  (none)", "$text-muted")]
    return Content("\n").join(lines)


def recovery_content(recovery: Sequence[Recovery], plugins: frozenset[str]) -> Content:
    lines: list[Content] = [heading("Recovery")]
    if not recovery:
        lines.append(Content.styled("  nothing to do", "$text-muted"))
    lines += [Content.assemble("  ", mark, " ", text) for mark, text, _ in recovery_items(recovery, plugins)]
    return Content("\n").join(lines)


def finding_detail(finding: Finding, plugins: frozenset[str], hint: str = "") -> Content:
    """A triage finding in the detail area: summary, evidence and recovery keys."""
    runs = f"{len(finding.runs)} runs" if finding.runs else "no runs named"
    queues = f", queues: {', '.join(clean(q, 60) for q in finding.queues[:6])}" if finding.queues else ""
    return Content("\n\n").join(
        [
            cause_content(finding),
            Content.styled(f"{runs}{queues}" + (f" · {hint}" if hint else ""), "$text-muted"),
            evidence_content(finding.evidence),
            recovery_content(finding.recovery, plugins),
        ]
    )
