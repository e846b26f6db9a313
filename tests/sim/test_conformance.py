"""Every simulator response validates against the official OpenAPI schemas, with API.md §13's deviations explicit.

Endpoints the OpenAPI file lacks (metrics, span detail, deployments/current, whoami, claims, admin) are checked
against schemas written here from API.md.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from api_schemas import CLAIMS, DEPLOYMENT_CURRENT, METRICS, REPAIR, REPORT, SPAN_DETAIL, WHOAMI
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tui.sim.scenarios import SCENARIOS as SCENARIO_NAMES
from tui.sim.server import DEFAULT_ADMIN_TOKEN, DEFAULT_SECRET_KEY, SimOptions, create_app

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "api" / "trigger-v4-openapi.yaml"
API = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}", "x-trigger-api-version": "2025-07-16"}
LEGACY = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
ADMIN = {"Authorization": f"Bearer {DEFAULT_ADMIN_TOKEN}"}
SCENARIOS = list(SCENARIO_NAMES)

# API.md §13.1: with `x-trigger-api-version: 2025-07-16` the server speaks the SDK's status vocabulary.
SDK_RUN_STATUSES = [
    "PENDING_VERSION",
    "QUEUED",
    "DEQUEUED",
    "EXECUTING",
    "WAITING",
    "COMPLETED",
    "CANCELED",
    "FAILED",
    "CRASHED",
    "SYSTEM_FAILURE",
    "DELAYED",
    "EXPIRED",
    "TIMED_OUT",
]
# API.md §13.1 too: without the header, the legacy set, which the OpenAPI list enum lacks DELAYED/EXPIRED/TIMED_OUT for.
LEGACY_RUN_STATUSES = [
    "PENDING_VERSION",
    "WAITING_FOR_DEPLOY",
    "DELAYED",
    "QUEUED",
    "EXECUTING",
    "REATTEMPTING",
    "FROZEN",
    "COMPLETED",
    "CANCELED",
    "FAILED",
    "CRASHED",
    "INTERRUPTED",
    "SYSTEM_FAILURE",
    "EXPIRED",
    "TIMED_OUT",
]


def _is_run_status_enum(node: dict[str, Any]) -> bool:
    values = node.get("enum")
    return isinstance(values, list) and "EXECUTING" in values and "QUEUED" in values


RUN_HELPERS = ("isQueued", "isExecuting", "isWaiting", "isCompleted", "isSuccess", "isFailed", "isCancelled")


def _error_enum(extra: str, where: str) -> Callable[[dict[str, Any], list[str]], None]:
    """Allow another documented message in an error body's `error` enum."""

    def patch(node: dict[str, Any], statuses: list[str]) -> None:
        error = node.get("properties", {}).get("error")
        if isinstance(error, dict) and where in error.get("enum", []) and extra not in error["enum"]:
            error["enum"] = [*error["enum"], extra]

    return patch


def _nullable(node: dict[str, Any], statuses: list[str]) -> None:
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        if isinstance(node.get("enum"), list):
            node["enum"] = [*node["enum"], None]


def _status_vocabulary(node: dict[str, Any], statuses: list[str]) -> None:
    if _is_run_status_enum(node):
        node["enum"] = statuses


def _extra(*names: str, where: str) -> Callable[[dict[str, Any], list[str]], None]:
    """Allow documented extra keys on the object schema that declares `where`."""

    def patch(node: dict[str, Any], statuses: list[str]) -> None:
        props = node.get("properties")
        if isinstance(props, dict) and where in props:
            for name in names:
                props.setdefault(name, {})

    return patch


# The documented disagreements between the OpenAPI file and the real server (API.md §13, §4, §7), one row each.
# Every row is applied to every schema node of a copy of the spec; anything not listed here must match the file,
# and objects are closed (no undocumented keys), see `close_objects`.
DEVIATIONS: tuple[tuple[str, str, Callable[[dict[str, Any], list[str]], None]], ...] = (
    ("OpenAPI 3.0", "`nullable: true` is JSON Schema 2020-12's type union (not a deviation)", _nullable),
    ("§13.1", "run status enums: the vocabulary chosen by x-trigger-api-version", _status_vocabulary),
    (
        "§13.3",
        "queue objects carry releaseConcurrencyOnWaitpoint and concurrencyLimitOverridePercent",
        _extra("releaseConcurrencyOnWaitpoint", "concurrencyLimitOverridePercent", where="concurrency"),
    ),
    ("§13.5", "trace may carry isTruncated", _extra("isTruncated", where="rootSpan")),
    (
        "§13.7",
        "token retrieve has type, userProvidedIdempotencyKey, inactiveIdempotencyKey, completedAfter",
        _extra("type", "userProvidedIdempotencyKey", "inactiveIdempotencyKey", "completedAfter", where="url"),
    ),
    (
        "§4.1",
        "run objects carry the SDK's boolean helpers, depth, taskKind, env and region (not in the file)",
        _extra(*RUN_HELPERS, "depth", "taskKind", "env", "region", where="isTest"),
    ),
    (
        "§4.3",
        "retrieve carries attemptCount and relatedRuns run fields",
        _extra("attemptCount", "triggerFunction", "batchId", where="isTest"),
    ),
)
ERROR_DEVIATIONS: tuple[tuple[str, str, Callable[[dict[str, Any], list[str]], None]], ...] = (
    (
        "§4.3",
        "a missing run is also the route builder's 404 {error: Not found}",
        _error_enum("Not found", "Run not found"),
    ),
    (
        "§1.6",
        "an unknown secret key answers {error: Invalid API key}",
        _error_enum("Invalid API key", "Invalid or Missing API key"),
    ),
)
# Checked and not needed as rows: §13.5 (the file does not require data.properties and lists attemptNumber) and
# §13.8 (the list's deployedAt/git already accept what the simulator sends).


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def close_objects(spec: dict[str, Any]) -> None:
    """Forbid undocumented keys: `unevaluatedProperties: false` on every object schema that is not an allOf part."""
    parts: set[int] = set()
    refs: set[str] = set()

    def find_parts(node: dict[str, Any]) -> None:
        for part in node.get("allOf", []):
            if isinstance(part, dict):
                parts.add(id(part))
                if "$ref" in part:
                    refs.add(part["$ref"].rsplit("/", 1)[-1])

    _walk(spec, find_parts)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in refs:
        if name in schemas:
            parts.add(id(schemas[name]))

    def close(node: dict[str, Any]) -> None:
        if id(node) in parts or "additionalProperties" in node:
            return
        if isinstance(node.get("properties"), dict) or "allOf" in node:
            node.setdefault("unevaluatedProperties", False)

    _walk(spec, close)


def deviate(spec: dict[str, Any], statuses: list[str]) -> dict[str, Any]:
    """A copy of the spec with the DEVIATIONS rows applied and its objects closed."""
    spec = copy.deepcopy(spec)
    for _section, _why, patch in DEVIATIONS + ERROR_DEVIATIONS:
        _walk(spec, lambda node, patch=patch: patch(node, statuses))  # type: ignore[misc]
    close_objects(spec)
    return spec


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"the official OpenAPI file is not at {SPEC_PATH}")
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


def validator_for(spec: dict[str, Any], path: str, method: str, status: str) -> Draft202012Validator:
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:spec", resource)
    pointer = "/".join(
        part.replace("~", "~0").replace("/", "~1")
        for part in ("paths", path, method, "responses", status, "content", "application/json", "schema")
    )
    assert spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return Draft202012Validator({"$ref": f"urn:spec#/{pointer}"}, registry=registry)


def check(validator: Draft202012Validator, body: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{where}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


class Documents:
    """The spec as the simulator answers each vocabulary (`deviate`), and one validator per response schema.

    Deviating the spec (a deep copy walked once per row) and resolving a schema's references cost more than the
    validation itself; the documents are only read, so every probe in the module shares them.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.v2 = deviate(spec, SDK_RUN_STATUSES)
        self.v1 = deviate(spec, LEGACY_RUN_STATUSES)
        self._validators: dict[tuple[bool, str, str, str], Draft202012Validator] = {}

    def validator(self, legacy: bool, path: str, method: str, status: str) -> Draft202012Validator:
        key = (legacy, path, method, status)
        if key not in self._validators:
            self._validators[key] = validator_for(self.v1 if legacy else self.v2, path, method, status)
        return self._validators[key]


@pytest.fixture(scope="module")
def documents(spec: dict[str, Any]) -> Documents:
    return Documents(spec)


class Probe:
    """Drives one scenario and validates every answer."""

    def __init__(self, scenario: str, documents: Documents) -> None:
        self.app = create_app(SimOptions(scenario=scenario, speed=0))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1")
        self.documents = documents

    async def call(
        self,
        method: str,
        url: str,
        spec_path: str | None,
        *,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] = API,
        schema: dict[str, Any] | None = None,
    ) -> Any:
        response = await self.http.request(method, url, json=body, headers=headers)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text[:200]}"
        data = response.json()
        if spec_path is not None:
            validator = self.documents.validator(headers is LEGACY, spec_path, method.lower(), str(status))
            check(validator, data, f"{method} {url}")
        if schema is not None:
            check(Draft202012Validator(schema), data, f"{method} {url}")
        return data


@pytest.fixture(params=SCENARIOS)
async def probe(request: pytest.FixtureRequest, documents: Documents) -> AsyncIterator[Probe]:
    probing = Probe(request.param, documents)
    yield probing
    await probing.http.aclose()


async def test_every_endpoint_conforms(probe: Probe) -> None:
    engine = probe.app.state.sim.engine
    runs_path, run_path = "/api/v1/runs", "/api/v3/runs/{runId}"
    page = await probe.call("GET", "/api/v1/runs?page[size]=100", runs_path)
    assert page["data"] and "next" in page["pagination"]
    await probe.call("GET", f"/api/v1/runs?page[size]=100&page[after]={page['pagination']['next']}", runs_path)
    await probe.call("GET", "/api/v1/runs?page[size]=100", runs_path, headers=LEGACY)
    await probe.call("GET", "/api/v1/runs?filter[createdAt][period]=2d&page[size]=100", runs_path)
    active = await probe.call("GET", "/api/v1/runs?filter[status]=QUEUED,DEQUEUED,EXECUTING,WAITING", runs_path)
    for run in [*page["data"][:15], *active["data"][:10]]:
        await probe.call("GET", f"/api/v3/runs/{run['id']}", run_path)
        await probe.call("GET", f"/api/v3/runs/{run['id']}", run_path, headers=LEGACY)
        await probe.call("GET", f"/api/v1/runs/{run['id']}/events", "/api/v1/runs/{runId}/events")
        trace = await probe.call("GET", f"/api/v1/runs/{run['id']}/trace", "/api/v1/runs/{runId}/trace")
        span = trace["trace"]["rootSpan"]
        while span["children"]:
            span = span["children"][-1]
        await probe.call("GET", f"/api/v1/runs/{run['id']}/spans/{span['id']}", None, schema=SPAN_DETAIL)
    queues = await probe.call("GET", "/api/v1/queues?perPage=3", "/api/v1/queues")
    assert queues["pagination"]["totalPages"] >= 2
    for queue in (await probe.call("GET", "/api/v1/queues?perPage=100", "/api/v1/queues"))["data"]:
        q = "/api/v1/queues/{queueParam}"
        await probe.call("GET", f"/api/v1/queues/{queue['id']}", q)
        await probe.call("GET", f"/api/v1/queues/{queue['name']}?type={queue['type']}", q)
        await probe.call(
            "GET", f"/api/v1/queues/{queue['name']}/metrics?type={queue['type']}&period=1h", None, schema=METRICS
        )
        body = {"type": "id", "action": "pause" if not queue["paused"] else "resume"}
        await probe.call("POST", f"/api/v1/queues/{queue['id']}/pause", q + "/pause", body=body)
        await probe.call(
            "POST",
            f"/api/v1/queues/{queue['id']}/concurrency/override",
            q + "/concurrency/override",
            body={"concurrencyLimit": 2},
        )
        await probe.call("POST", f"/api/v1/queues/{queue['id']}/concurrency/reset", q + "/concurrency/reset", body={})
    await probe.call("GET", "/api/v1/queues/nope/metrics", None, schema=METRICS)
    tokens_path = "/api/v1/waitpoints/tokens"
    tokens = await probe.call("GET", "/api/v1/waitpoints/tokens?page[size]=100", tokens_path)
    created = await probe.call("POST", tokens_path, tokens_path, body={"timeout": "1h", "tags": ["conformance"]})
    for token in [*tokens["data"][:5], created]:
        await probe.call("GET", f"{tokens_path}/{token['id']}", tokens_path + "/{waitpointId}")
    await probe.call(
        "POST",
        f"{tokens_path}/{created['id']}/complete",
        tokens_path + "/{waitpointId}/complete",
        body={"data": {"ok": True}},
    )
    await probe.call("GET", f"{tokens_path}/{created['id']}", tokens_path + "/{waitpointId}")
    other = await probe.call("POST", tokens_path, tokens_path, body={})
    callback = "/api/v1/waitpoints/tokens/{waitpointId}/callback/{callbackHash}"
    await probe.call("POST", httpx.URL(other["url"]).path, callback, body={"approved": True}, headers={})
    detail = await probe.call("GET", f"{tokens_path}/{other['id']}", tokens_path + "/{waitpointId}")
    assert detail["status"] == "COMPLETED" and detail["output"] == '{"approved":true}'
    triggered = await probe.call(
        "POST",
        "/api/v1/tasks/send-email/trigger",
        "/api/v1/tasks/{taskIdentifier}/trigger",
        body={"payload": {"to": "ops@example.com"}, "options": {"tags": ["t"]}},
    )
    await probe.call("POST", f"/api/v2/runs/{triggered['id']}/cancel", "/api/v2/runs/{runId}/cancel")
    await probe.call("POST", f"/api/v1/runs/{triggered['id']}/replay", "/api/v1/runs/{runId}/replay")
    bulk = await probe.call(
        "POST",
        "/api/v1/bulk-actions",
        "/api/v1/bulk-actions",
        status=202,
        body={"action": "cancel", "runIds": [triggered["id"]]},
    )
    await probe.call("GET", f"/api/v1/bulk-actions/{bulk['id']}", "/api/v1/bulk-actions/{bulkActionId}")
    await probe.call("GET", "/api/v1/bulk-actions", "/api/v1/bulk-actions")
    await probe.call("POST", f"/api/v1/bulk-actions/{bulk['id']}/abort", "/api/v1/bulk-actions/{bulkActionId}/abort")
    await probe.call("GET", "/api/v1/deployments", "/api/v1/deployments")
    await probe.call("GET", "/api/v1/deployments/current", None, schema=DEPLOYMENT_CURRENT)
    await probe.call("GET", "/api/v1/whoami", None, schema=WHOAMI)
    await probe.call("POST", "/api/v1/auth/jwt/claims", None, schema=CLAIMS)
    admin = f"/admin/api/v1/environments/{engine.env.id}"
    await probe.call("POST", f"{admin}/engine/repair-queues", None, headers=ADMIN, body={"dryRun": True}, schema=REPAIR)
    await probe.call("GET", f"{admin}/engine/report", None, headers=ADMIN, schema=REPORT)
    verbose = await probe.call("GET", f"{admin}/engine/report?verbose=1", None, headers=ADMIN, schema=REPORT)
    assert "key" in verbose["concurrencyLimit"] and "key" in verbose["queues"][0]["currentConcurrency"]


async def test_error_bodies_conform(documents: Documents) -> None:
    probing = Probe("incident", documents)
    bad_key = {**API, "Authorization": "Bearer tr_dev_000000000000000000000000"}
    run = "/api/v3/runs/{runId}"
    for method, url, path in (
        ("GET", "/api/v3/runs/run_nope", run),
        ("GET", "/api/v1/runs/run_nope/trace", "/api/v1/runs/{runId}/trace"),
        ("GET", "/api/v1/runs/run_nope/events", "/api/v1/runs/{runId}/events"),
        ("POST", "/api/v2/runs/run_nope/cancel", "/api/v2/runs/{runId}/cancel"),
        ("POST", "/api/v1/runs/run_nope/replay", "/api/v1/runs/{runId}/replay"),
    ):
        await probing.call(method, url, path, status=404)
        await probing.call(method, url, path, status=401, headers=bad_key)
    await probing.call("GET", "/api/v1/runs?filter[status]=NOPE", "/api/v1/runs", status=400)
    await probing.call("POST", "/api/v1/bulk-actions", "/api/v1/bulk-actions", status=400, body={"action": "x"})
    trigger = "/api/v1/tasks/{taskIdentifier}/trigger"
    await probing.call("POST", "/api/v1/tasks/send-email/trigger", trigger, status=401, body={}, headers=bad_key)
    await probing.call("POST", "/api/v1/tasks/send-email/trigger", trigger, status=400, body=[])
    await probing.http.aclose()


def test_the_deviation_table_is_needed(spec: dict[str, Any]) -> None:
    """Without the §13.1 row, a DEQUEUED run (SDK vocabulary) fails the file's own run-list schema."""
    bare = copy.deepcopy(spec)
    _walk(bare, lambda node: _nullable(node, []))
    close_objects(bare)
    run = {"status": "DEQUEUED"}
    status_schema = bare["components"]["schemas"]
    enums = [n for n in _collect(status_schema) if _is_run_status_enum(n)]
    assert enums and all("DEQUEUED" not in n["enum"] for n in enums), run
    fixed = deviate(spec, SDK_RUN_STATUSES)
    assert all("DEQUEUED" in n["enum"] for n in _collect(fixed["components"]["schemas"]) if _is_run_status_enum(n))


def _collect(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    _walk(node, found.append)
    return found


async def test_optional_fields_are_absent_not_null(documents: Documents) -> None:
    probing = Probe("incident", documents)
    page = await probing.call("GET", "/api/v1/runs?page[size]=100", "/api/v1/runs")
    nullable = {
        "concurrencyLimit",
        "current",
        "base",
        "override",
        "overriddenAt",
        "overriddenBy",
        "concurrencyLimitOverridePercent",
        "p50",
        "p95",
        "parentId",
    }

    def no_nulls(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                assert value is not None or key in nullable, f"{where}.{key} is null"
                no_nulls(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                no_nulls(item, where)

    no_nulls(page, "runs")
    for run in page["data"][:20]:
        no_nulls(await probing.call("GET", f"/api/v3/runs/{run['id']}", "/api/v3/runs/{runId}"), run["id"])
    await probing.http.aclose()


async def test_promote_and_its_refusals_conform(documents: Documents) -> None:
    probing = Probe("healthy", documents)
    path = "/api/v1/deployments/{version}/promote"
    previous = probing.app.state.sim.engine.deployments[-2].version
    await probing.call("POST", f"/api/v1/deployments/{previous}/promote?allowRollbacks=true", path)
    await probing.call("POST", f"/api/v1/deployments/{previous}/promote", path, status=400)
    missing = await probing.http.post("/api/v1/deployments/20200101.1/promote", headers=API)
    assert (missing.status_code, missing.json()) == (404, {"error": "Deployment not found"})
    await probing.http.aclose()
