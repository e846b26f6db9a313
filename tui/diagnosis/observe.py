"""Fetch fresh facts for verify checks: exactly what the checks name, nothing more."""

from __future__ import annotations

from collections.abc import Sequence

from tui.api.client import EngineClient
from tui.diagnosis.fetching import Notes, bounded
from tui.diagnosis.findings import VerifyCheck, VerifyKind
from tui.diagnosis.gather import DEFAULT_WINDOW
from tui.diagnosis.verify import Observation
from tui.model import Queue


async def observe(client: EngineClient, checks: Sequence[VerifyCheck], *, window: str = DEFAULT_WINDOW) -> Observation:
    """Fetch exactly what the checks need; what fails stays unobserved (the check shows as unknown)."""
    notes = Notes()
    queue_names = {c.target for c in checks if c.kind in (VerifyKind.QUEUE_DEPTH_NORMAL, VerifyKind.RUNS_FLOWING)}
    queues: dict[str, Queue] = {}
    if queue_names:
        listed = await notes.attempt("queue list", client.list_queues()) or []
        queues = {q.stored_name: q for q in listed if q.stored_name in queue_names}
    flowing = [queues[c.target] for c in checks if c.kind is VerifyKind.RUNS_FLOWING and c.target in queues]
    metrics = await bounded(flowing, lambda q: notes.attempt("metrics", client.queue_metrics(q, window)))
    run_ids = list(dict.fromkeys(c.target for c in checks if c.kind is VerifyKind.RUN_STATUS))
    details = await bounded(run_ids, lambda r: notes.attempt("run", client.retrieve_run(r)))
    token_ids = list(dict.fromkeys(c.target for c in checks if c.kind is VerifyKind.TOKEN_COMPLETED))
    tokens = await bounded(token_ids, lambda t: notes.attempt("token", client.retrieve_token(t)))
    return Observation(
        queues=queues,
        metrics={q.stored_name: m for q, m in zip(flowing, metrics, strict=True) if m is not None},
        runs={d.run.id: d.run.status for d in details if d is not None},
        tokens={t.token.id: t.token.status for t in tokens if t is not None},
    )
