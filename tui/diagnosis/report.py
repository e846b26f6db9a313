"""Diagnosis output as JSON and text, and the `diagnose` / `triage` command entry points.

Exit codes: 0 nothing stuck (diagnose: cause `not_stuck`; triage: no findings), 1 findings. Errors are not
handled here: an `ApiError` (unreachable server, rejected key, unknown run id) propagates and `tui.cli` prints
it on one stderr line and exits 2.

`platos-tui diagnose RUN_ID --json` prints one object:

    {
      "run": "run_…",
      "cause": "worker_pool_empty",          // worker_pool_empty | worker_pool_undersized | queue_paused |
                                             // concurrency_at_cap | long_running_blocker |
                                             // entity_backend_unreachable | waitpoint_without_resumer |
                                             // queue_state_drift | not_stuck | unknown
      "summary": "run_…: worker pool empty, 6 queues, 412 runs waiting, 0 started in 15m",
      "evidence": ["started in last 15m: 0 in all 8 queues with metrics", "queue task/x: queued 300, …"],
      "recovery": [{"label": "…", "action": "cancel" | "resume_queue" | "complete_token" | "repair_queues" |
                    "override_concurrency" | null, "key": "c" | "p" | "r" | "R" | "o" | null,
                    "target": "run id | stored queue name | token id" | null,
                    "external": "scale-workers" | "check-entity" | "resume-environment" | "env-limit" |
                                "trace-run" | null,
                    "plugin": true | false}],          // true when the profile declares that plugin
      "verify": [{"kind": "queue_depth_normal" | "run_status" | "runs_flowing" | "token_completed",
                  "label": "…", "target": "…", "expected": ["CANCELED"], "baseline": 412, "threshold": 10}],
      "also_true": ["queue_paused"],         // other causes that hold, most specific first
      "path": [{"check": "Queue: is the dequeue rate zero?", "outcome": "yes" | "no" | "unknown" | "skipped",
                "evidence": ["…"]}],
      "runs": ["run_…"],                     // the run, plus runs named by the finding (e.g. blockers)
      "runs_note": null,                     // why "runs" is empty, when it is (triage findings)
      "queues": ["task/agent-turn"],
      "entity": "crm" | null,
      "requests": 14                         // HTTP requests the diagnosis sent
    }

`platos-tui triage --json` prints:

    {
      "findings": [ {same keys as above without "run" and "path"; "summary" starts with a state word:
                     STALLED, PAUSED, BLOCKED, DRIFT, HUNG, WAITING, STARVED, AT CAP or UNKNOWN;
                     worst first} ],
      "runs": ["run_…"],                     // every affected run id, without repeats
      "notes": ["…"],                        // what could not be checked (failed calls, caps)
      "checked": {"queues": 8, "active_runs": 250, "traced": 50, "admin": false, "window": "15m",
                  "requests": 62}                    // HTTP requests the triage sent
    }
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from tui.api.client import EngineClient
from tui.config import Settings
from tui.diagnosis.decide import diagnose
from tui.diagnosis.facts import EnvFacts
from tui.diagnosis.findings import Cause, Finding, Recovery, VerifyCheck
from tui.diagnosis.fmt import plural
from tui.diagnosis.gather import gather_environment_facts, gather_run_facts
from tui.diagnosis.triage import affected_runs, triage
from tui.model import clock_skew_label
from tui.model.text import clean

EXIT_OK = 0
EXIT_FINDINGS = 1


def _recovery_json(r: Recovery, plugins: frozenset[str]) -> dict[str, Any]:
    return {
        "label": r.label,
        "action": r.action.value if r.action is not None else None,
        "key": r.key,
        "target": r.target,
        "external": r.external,
        "plugin": r.external in plugins,
    }


def _verify_json(v: VerifyCheck) -> dict[str, Any]:
    return {
        "kind": v.kind.value,
        "label": v.label,
        "target": v.target,
        "expected": list(v.expected),
        "baseline": v.baseline,
        "threshold": v.threshold,
    }


def finding_json(f: Finding, plugins: frozenset[str] = frozenset(), *, with_run: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"run": f.run_id} if with_run else {}
    data.update(
        cause=f.cause.value,
        summary=f.summary,
        evidence=list(f.evidence),
        recovery=[_recovery_json(r, plugins) for r in f.recovery],
        verify=[_verify_json(v) for v in f.verify],
        also_true=[c.value for c in f.also_true],
    )
    if with_run:
        data["path"] = [{"check": s.check, "outcome": s.outcome.value, "evidence": list(s.evidence)} for s in f.path]
    data.update(runs=list(f.runs), runs_note=f.runs_note, queues=list(f.queues), entity=f.entity)
    return data


def triage_json(findings: Sequence[Finding], env: EnvFacts, plugins: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        "findings": [finding_json(f, plugins, with_run=False) for f in findings],
        "runs": list(affected_runs(findings)),
        "notes": list(env.notes),
        "checked": {
            "queues": len(env.queues),
            "active_runs": env.active_runs_seen,
            "traced": len(env.candidates),
            "admin": env.admin_checked,
            "window": env.window,
            "requests": env.requests,
        },
    }


def _recovery_line(r: Recovery, plugins: frozenset[str]) -> str:
    if r.key is not None:
        return f"[{r.key}] {r.label}"
    kind = "plugin" if r.external in plugins else "external"
    return f"[{kind} {r.external}] {r.label}" if r.external else f"[external] {r.label}"


def _finding_lines(f: Finding, plugins: frozenset[str], indent: str) -> list[str]:
    lines = [f"{indent}evidence:"] + [f"{indent}  - {e}" for e in f.evidence]
    if f.recovery:
        lines += [f"{indent}recovery:"] + [f"{indent}  {_recovery_line(r, plugins)}" for r in f.recovery]
    if f.verify:
        lines += [f"{indent}verify:"] + [f"{indent}  [ ] {v.label}" for v in f.verify]
    if f.also_true:
        lines.append(f"{indent}also true: {', '.join(c.value for c in f.also_true)}")
    return lines


def render_diagnosis(f: Finding, plugins: frozenset[str] = frozenset()) -> str:
    lines = [f"{f.label} ({f.cause.value})", f.summary, "", "runbook path:"]
    for step in f.path:
        lines.append(f"  [{step.outcome.value:^7}] {step.check}")
        lines += [f"              {e}" for e in step.evidence]
    lines.append("")
    lines += _finding_lines(f, plugins, "")
    return "\n".join(clean(line) for line in lines) + "\n"


def render_triage(findings: Sequence[Finding], env: EnvFacts, plugins: frozenset[str] = frozenset()) -> str:
    checked = (
        f"{len(env.queues)} queues, {env.active_runs_seen} active runs, {len(env.candidates)} traced, "
        f"window {env.window}, admin checks {'on' if env.admin_checked else 'off'}, {env.requests} requests"
    )
    if not findings:
        lines = [f"nothing stuck ({checked})"]
    else:
        lines = [
            f"{plural(len(findings), 'finding')}, {plural(len(affected_runs(findings)), 'run')} affected ({checked})"
        ]
        for f in findings:
            lines += ["", f"{f.summary}  [{f.cause.value}]"]
            lines += _finding_lines(f, plugins, "  ")
            if f.runs:
                shown = ", ".join(f.runs[:10]) + (f", … (+{len(f.runs) - 10} more)" if len(f.runs) > 10 else "")
                lines.append(f"  runs: {shown}")
    if env.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in env.notes]
    return "\n".join(clean(line) for line in lines) + "\n"


def _plugins(settings: Settings) -> frozenset[str]:
    return frozenset(p.name for p in settings.plugins)


def _skew_json(client: EngineClient) -> dict[str, Any]:
    """`serverClockSkewSeconds` (server minus this machine) when it is worth telling, else nothing."""
    skew = client.clock_skew
    return {"serverClockSkewSeconds": round(skew, 1)} if skew is not None and clock_skew_label(skew) else {}


async def diagnose_command(
    client: EngineClient,
    settings: Settings,
    run_id: str,
    as_json: bool,
    out: TextIO,
    *,
    now: datetime | None = None,
) -> int:
    """`platos-tui diagnose RUN_ID [--json]`: 0 when not stuck, 1 otherwise; ApiError propagates."""
    # Ages are judged by the server's clock: a bastion whose clock is off must not invent (or hide) stuck runs.
    when = now or await client.server_time()
    facts = await gather_run_facts(client, run_id, settings.thresholds, when)
    finding = diagnose(facts, settings.thresholds)
    plugins = _plugins(settings)
    skew = clock_skew_label(client.clock_skew)
    if as_json:
        data = {**finding_json(finding, plugins), "requests": facts.env.requests, **_skew_json(client)}
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write((f"{skew} (ages follow the server)\n" if skew else "") + render_diagnosis(finding, plugins))
    return EXIT_OK if finding.cause is Cause.NOT_STUCK else EXIT_FINDINGS


async def triage_command(
    client: EngineClient,
    settings: Settings,
    as_json: bool,
    out: TextIO,
    *,
    now: datetime | None = None,
) -> int:
    """`platos-tui triage [--json]`: 0 when nothing is stuck, 1 with findings; ApiError propagates."""
    when = now or await client.server_time()
    env = await gather_environment_facts(client, settings.thresholds, when)
    findings = triage(env, settings.thresholds)
    plugins = _plugins(settings)
    skew = clock_skew_label(client.clock_skew)
    if as_json:
        out.write(json.dumps({**triage_json(findings, env, plugins), **_skew_json(client)}, indent=2) + "\n")
    else:
        out.write((f"{skew} (ages follow the server)\n" if skew else "") + render_triage(findings, env, plugins))
    return EXIT_FINDINGS if findings else EXIT_OK
