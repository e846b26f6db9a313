"""Hypothesis variations of the example payloads: extra fields, absent optionals, nulls, wrong types."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from api_support import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.api import wire
from tui.api.errors import InvalidResponse

Path = tuple[str | int, ...]


def p(text: str) -> Path:
    """'data.0.running' -> ('data', 0, 'running')."""
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


@dataclass(frozen=True)
class Case:
    payload: str
    parse: Callable[[Any], object]
    label: str
    required: dict[str, str]
    """Path -> JSON kind; absent or null must fail."""
    typed: dict[str, str] = field(default_factory=dict)
    """Optional paths that, when present with a wrong (non-null) type, must fail."""
    optional: tuple[str, ...] = ()
    """Paths that may be absent or null."""


def _each(prefixes: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}" for prefix in prefixes for name in names)


RUN_OPTIONAL = (
    "idempotencyKey",
    "version",
    "startedAt",
    "isTest",
    "tags",
    "costInCents",
    "baseCostInCents",
    "durationMs",
    "depth",
    "metadata",
    "taskKind",
    "region",
    "isQueued",
    "isExecuting",
    "isCompleted",
    "isFailed",
    "isSuccess",
    "isCancelled",
    "isWaiting",
)
RUN_REQUIRED = {
    "id": "string",
    "status": "string",
    "taskIdentifier": "string",
    "createdAt": "string",
    "updatedAt": "string",
}
RUN_TYPED = {
    "isTest": "boolean",
    "tags": "array",
    "durationMs": "number",
    "depth": "integer",
    "metadata": "object",
    "startedAt": "string",
    "version": "string",
}
QUEUE_OPTIONAL = (
    "concurrencyLimit",
    "concurrency",
    "concurrency.current",
    "concurrency.base",
    "concurrency.override",
    "concurrency.overriddenAt",
    "concurrency.overriddenBy",
    "releaseConcurrencyOnWaitpoint",
    "concurrencyLimitOverridePercent",
)
SPAN_REQUIRED = {
    "id": "string",
    "runId": "string",
    "data": "object",
    "data.message": "string",
    "data.startTime": "string",
}
SPAN_OPTIONAL = (
    "data.duration",
    "data.isError",
    "data.isPartial",
    "data.isCancelled",
    "data.level",
    "data.events",
    "children",
    "data.attemptNumber",
)

CASES = [
    Case(
        "queues_list",
        wire.parse_queue_page,
        "queues",
        required={
            "data": "array",
            **{
                f"data.{i}.{k}": kind
                for i in (0, 1)
                for k, kind in {
                    "id": "string",
                    "name": "string",
                    "type": "string",
                    "running": "integer",
                    "queued": "integer",
                    "paused": "boolean",
                }.items()
            },
        },
        typed={
            "data.0.concurrencyLimit": "integer",
            "data.0.concurrency": "object",
            "data.0.concurrency.base": "integer",
            "data.0.concurrency.overriddenAt": "string",
            "data.0.concurrencyLimitOverridePercent": "number",
            "pagination": "object",
            "pagination.totalPages": "integer",
        },
        optional=(*_each(("data.0.", "data.1."), QUEUE_OPTIONAL), "pagination", "pagination.totalPages"),
    ),
    Case(
        "runs_list",
        wire.parse_run_page,
        "runs",
        required={
            "data": "array",
            **{f"data.{i}.{k}": kind for i in (0, 1) for k, kind in RUN_REQUIRED.items()},
        },
        typed={
            **{f"data.0.{k}": kind for k, kind in RUN_TYPED.items()},
            "data.0.env": "object",
            "data.0.env.id": "string",
            "pagination.next": "string",
        },
        optional=(
            *_each(("data.0.", "data.1."), (*RUN_OPTIONAL, "env", "env.id", "env.name")),
            "pagination",
            "pagination.next",
        ),
    ),
    Case(
        "run_retrieve",
        wire.parse_run_detail,
        "run",
        required=RUN_REQUIRED,
        typed={
            **RUN_TYPED,
            "attemptCount": "integer",
            "relatedRuns": "object",
            "relatedRuns.children": "array",
            "triggerFunction": "string",
        },
        optional=(
            *RUN_OPTIONAL,
            "triggerFunction",
            "payload",
            "attemptCount",
            "attempts",
            "relatedRuns",
            "relatedRuns.children",
        ),
    ),
    Case(
        "trace_clickhouse",
        wire.parse_trace,
        "",
        required={
            "trace": "object",
            "trace.traceId": "string",
            "trace.rootSpan": "object",
            **{f"trace.rootSpan.{k}": kind for k, kind in SPAN_REQUIRED.items()},
            **{f"trace.rootSpan.children.0.{k}": kind for k, kind in SPAN_REQUIRED.items()},
        },
        typed={
            "trace.isTruncated": "boolean",
            "trace.rootSpan.data.duration": "number",
            "trace.rootSpan.data.isPartial": "boolean",
            "trace.rootSpan.children": "array",
            "trace.rootSpan.children.0.data.attemptNumber": "integer",
            "trace.rootSpan.children.0.parentId": "string",
            "trace.rootSpan.data.events": "array",
        },
        optional=(
            "trace.isTruncated",
            *_each(("trace.rootSpan.", "trace.rootSpan.children.0."), SPAN_OPTIONAL),
            "trace.rootSpan.children.0.parentId",
        ),
    ),
    Case(
        "trace_postgres",
        wire.parse_trace,
        "",
        required={"trace.rootSpan.children.0.data.message": "string"},
        typed={
            "trace.rootSpan.children.0.data.properties": "object",
            "trace.rootSpan.children.0.data.events.0.properties": "object",
        },
        optional=(
            "trace.rootSpan.data.taskSlug",
            "trace.rootSpan.children.0.data.events.0.time",
            "trace.rootSpan.children.0.data.events.0.properties",
        ),
    ),
    Case(
        "span_detail",
        wire.parse_span_detail,
        "span",
        required={"spanId": "string", "runId": "string", "message": "string", "startTime": "string"},
        typed={
            "durationMs": "number",
            "properties": "object",
            "entityType": "string",
            "isPartial": "boolean",
        },
        optional=(
            "parentId",
            "durationMs",
            "properties",
            "entityType",
            "isError",
            "isPartial",
            "isCancelled",
            "level",
        ),
    ),
    Case(
        "queue_metrics",
        wire.parse_queue_metrics,
        "metrics",
        required={
            "queue": "string",
            "period": "string",
            "from": "string",
            "to": "string",
            "peakQueued": "integer",
            "startedCount": "integer",
            "startedPerMin": "number",
            "throttledCount": "integer",
            "bucketIntervalMs": "integer",
        },
        typed={"waitMs": "object", "waitMs.p50": "number", "depthTrend": "array", "depthTrend.3": "integer"},
        optional=("waitMs", "waitMs.p50", "waitMs.p95", "depthTrend"),
    ),
    Case(
        "tokens_list",
        wire.parse_token_page,
        "tokens",
        required={
            "data": "array",
            "data.0.id": "string",
            "data.0.status": "string",
            "data.0.createdAt": "string",
            "data.1.id": "string",
        },
        typed={
            "data.0.tags": "array",
            "data.0.tags.0": "string",
            "data.0.timeoutAt": "string",
            "data.0.url": "string",
        },
        optional=(
            *_each(
                ("data.0.", "data.1."),
                ("url", "timeoutAt", "completedAfter", "idempotencyKey", "idempotencyKeyExpiresAt", "tags"),
            ),
            "pagination",
        ),
    ),
    Case(
        "token_retrieve",
        wire.parse_token_detail,
        "token",
        required={"id": "string", "status": "string", "createdAt": "string"},
        typed={"outputIsError": "boolean", "outputType": "string", "completedAt": "string"},
        optional=(
            "output",
            "outputType",
            "outputIsError",
            "completedAt",
            "type",
            "userProvidedIdempotencyKey",
        ),
    ),
    Case(
        "repair_queues",
        wire.parse_repair_report,
        "repair",
        required={
            "environment": "object",
            "environment.dryRun": "boolean",
            "environment.repairs.1.action": "string",
            "environment.repairs.1.runId": "string",
            "environment.repairs.1.snapshotStatus": "string",
            "queues.0.queue": "string",
            "queues.1.dryRun": "boolean",
        },
        typed={
            "environment.runIds": "array",
            "environment.runIds.0": "string",
            "queues": "array",
            "environment.repairs": "array",
        },
        optional=("environment.runIds", "queues", "queues.1.runIds", "queues.1.repairs"),
    ),
    Case(
        "engine_report",
        wire.parse_engine_report,
        "report",
        required={
            "concurrencyLimit.value": "integer",
            "currentConcurrency.value": "integer",
            "analysis.canDequeue": "boolean",
            "queues.0.name": "string",
            "queues.1.analysis.canDequeue": "boolean",
            "queues.0.currentDequeued": "object",
        },
        typed={
            "analysis.reasons": "array",
            "queues.0.concurrencyLimit": "object",
            "queues.0.concurrencyLimit.value": "integer",
            "queues.0.paused": "boolean",
        },
        optional=(
            "analysis.reasons",
            "queues",
            "queues.0.concurrencyLimit",
            "queues.0.concurrencyLimit.value",
            "queues.0.paused",
            "currentDequeued.label",
            "queues.0.key",
            "queues.0.dbConcurrencyLimit",
        ),
    ),
    Case(
        "bulk_action",
        wire.parse_bulk_action,
        "bulkAction",
        required={
            "id": "string",
            "type": "string",
            "status": "string",
            "counts": "object",
            "counts.total": "integer",
            "createdAt": "string",
        },
        typed={"completedAt": "string", "name": "string"},
        optional=("name", "completedAt"),
    ),
    Case(
        "deployments_list",
        wire.parse_deployment_page,
        "deployments",
        required={"data.0.id": "string", "data.1.version": "string", "data.1.status": "string"},
        typed={"data.1.deployedAt": "string", "pagination.next": "string"},
        optional=("data.0.deployedAt", "data.1.git", "data.1.error", "data.0.runtime", "pagination"),
    ),
    Case(
        "whoami",
        wire.parse_environment,
        "environment",
        required={"id": "string", "slug": "string", "type": "string"},
        typed={
            "maximumConcurrencyLimit": "integer",
            "concurrencyLimitBurstFactor": "number",
            "paused": "boolean",
        },
        optional=("maximumConcurrencyLimit", "concurrencyLimitBurstFactor", "paused", "apiKey", "project"),
    ),
]

WRONG: dict[str, list[Any]] = {
    "string": [0, 1.5, True, [], {}],
    "integer": ["7", 1.5, True, [], {}],
    "number": ["7", True, [], {}],
    "boolean": ["true", 0, 1.5, [], {}],
    "object": ["x", 1, True, []],
    "array": ["x", 1, True, {}],
}
RAW_SUBTREES = {"metadata", "payload", "output", "properties", "git", "project", "organization"}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IDS = [case.payload for case in CASES]


def label(case: Case, path: Path) -> str:
    text = case.label
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _parent(body: Any, path: Path) -> tuple[Any, str | int] | None:
    node = body
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return (node, path[-1]) if isinstance(node, dict | list) else None


def put(body: Any, path: Path, value: Any) -> None:
    found = _parent(body, path)
    assert found is not None, path
    found[0][found[1]] = value


def remove(body: Any, path: Path) -> None:
    found = _parent(body, path)
    if found is not None and isinstance(found[0], dict):
        found[0].pop(found[1], None)


def test_every_case_path_exists_in_its_example() -> None:
    # Guards the tables above against typos: a path that does not exist would make a test vacuous.
    for case in CASES:
        body = load(case.payload)
        for text in case.required:
            found = _parent(body, p(text))
            assert found is not None, (case.payload, text)
            container, key = found
            present = key in container if isinstance(container, dict) else key < len(container)
            assert present, (case.payload, text)
        for text in [*case.typed, *case.optional]:
            assert _parent(body, p(text)) is not None, (case.payload, text)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_examples_parse(case: Case) -> None:
    case.parse(load(case.payload))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_unknown_fields_are_ignored(case: Case, data: st.DataObject) -> None:
    original = load(case.payload)
    body = copy.deepcopy(original)

    def sprinkle(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in list(node.items()):
                if key not in RAW_SUBTREES:
                    sprinkle(child)
            for name in data.draw(st.lists(st.text(min_size=1, max_size=6), max_size=2)):
                node[f"zz_{name}"] = data.draw(JSON_VALUES)
        elif isinstance(node, list):
            for child in node:
                sprinkle(child)

    sprinkle(body)
    assert case.parse(body) == case.parse(original)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_absent_or_null_optionals_parse(case: Case, data: st.DataObject) -> None:
    body = load(case.payload)
    if not case.optional:
        return
    chosen = data.draw(st.lists(st.sampled_from(case.optional), unique=True))
    nulls = data.draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    for text, as_null in zip(chosen, nulls, strict=True):
        path = p(text)
        if as_null and _parent(body, path) is not None:
            put(body, path, None)
        else:
            remove(body, path)
    case.parse(body)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_wrong_types_raise_naming_the_field(case: Case, data: st.DataObject) -> None:
    body = load(case.payload)
    choices = [(text, kind, True) for text, kind in case.required.items()]
    choices += [(text, kind, False) for text, kind in case.typed.items()]
    text, kind, required = data.draw(st.sampled_from(choices))
    wrong = data.draw(st.sampled_from(WRONG[kind] + ([None, "absent"] if required else [])))
    path = p(text)
    if wrong == "absent":
        remove(body, path)
    else:
        put(body, path, wrong)
    with pytest.raises(InvalidResponse) as caught:
        case.parse(body)
    assert str(caught.value).startswith(label(case, path) + ": "), (str(caught.value), label(case, path))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_listed_field_rejects_every_wrong_type(case: Case) -> None:
    # Exhaustive companion of the hypothesis test above: every path, every wrong value, absent and null.
    attempts = [
        (text, kind, value)
        for text, kind in case.required.items()
        for value in [*WRONG[kind], None, "absent"]
    ]
    attempts += [(text, kind, value) for text, kind in case.typed.items() for value in WRONG[kind]]
    accepted = []
    for text, _kind, value in attempts:
        body = load(case.payload)
        path = p(text)
        if value == "absent":
            remove(body, path)
        else:
            put(body, path, value)
        try:
            case.parse(body)
        except InvalidResponse as error:
            assert str(error).startswith(label(case, path) + ": "), (str(error), label(case, path))
        else:
            accepted.append((text, value))
    assert accepted == []
