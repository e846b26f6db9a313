"""JSON schemas written from API.md for the endpoints the OpenAPI file does not describe."""

from __future__ import annotations

# Schemas for endpoints the OpenAPI file does not describe (API.md §4.8, §5.7, §9, §6.2, §12, §10).
ISO = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"}
NUM = {"type": "number"}
INT = {"type": "integer"}
METRICS = {
    "type": "object",
    "required": [
        "queue",
        "period",
        "from",
        "to",
        "waitMs",
        "peakQueued",
        "startedCount",
        "startedPerMin",
        "throttledCount",
        "bucketIntervalMs",
        "depthTrend",
    ],
    "properties": {
        "queue": {"type": "string"},
        "period": {"type": "string"},
        "from": ISO,
        "to": ISO,
        "waitMs": {
            "type": "object",
            "required": ["p50", "p95"],
            "properties": {"p50": {"type": ["number", "null"]}, "p95": {"type": ["number", "null"]}},
        },
        "peakQueued": INT,
        "startedCount": INT,
        "startedPerMin": NUM,
        "throttledCount": INT,
        "bucketIntervalMs": INT,
        "depthTrend": {"type": "array", "items": INT, "minItems": 1},
    },
}
SPAN_DETAIL = {
    "type": "object",
    "required": [
        "spanId",
        "parentId",
        "runId",
        "message",
        "isError",
        "isPartial",
        "isCancelled",
        "level",
        "startTime",
        "durationMs",
    ],
    "properties": {
        "spanId": {"type": "string"},
        "parentId": {"type": ["string", "null"]},
        "runId": {"type": "string"},
        "message": {"type": "string"},
        "isError": {"type": "boolean"},
        "isPartial": {"type": "boolean"},
        "isCancelled": {"type": "boolean"},
        "level": {"type": "string"},
        "startTime": ISO,
        "durationMs": NUM,
        "properties": {"type": "object", "minProperties": 1},
        "events": {"type": "array", "minItems": 1},
        "entityType": {"type": "string"},
    },
}
DEPLOYMENT_CURRENT = {
    "type": "object",
    "required": ["id", "createdAt", "shortCode", "version", "runtime", "runtimeVersion", "status"],
    "properties": {
        "id": {"type": "string"},
        "createdAt": ISO,
        "deployedAt": ISO,
        "version": {"type": "string"},
        "status": {"type": "string"},
    },
}
WHOAMI = {
    "type": "object",
    "required": ["id", "slug", "type", "paused", "maximumConcurrencyLimit", "concurrencyLimitBurstFactor"],
    "properties": {"paused": {"type": "boolean"}, "maximumConcurrencyLimit": INT, "concurrencyLimitBurstFactor": NUM},
}
CLAIMS = {
    "type": "object",
    "required": ["sub", "pub"],
    "properties": {"sub": {"type": "string"}, "pub": {"const": True}},
}
REPAIR_RESULT = {
    "type": "object",
    "required": ["runIds", "repairs", "dryRun"],
    "properties": {
        "runIds": {"type": "array", "items": {"type": "string", "not": {"pattern": "^run_"}}},
        "repairs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["action", "runId", "snapshotStatus", "snapshotId"],
                "properties": {
                    "action": {"enum": ["repairSnapshot", "ignore"]},
                    "snapshotStatus": {
                        "enum": [
                            "RUN_CREATED",
                            "DELAYED",
                            "QUEUED",
                            "QUEUED_EXECUTING",
                            "PENDING_EXECUTING",
                            "EXECUTING",
                            "EXECUTING_WITH_WAITPOINTS",
                            "SUSPENDED",
                            "PENDING_CANCEL",
                            "FINISHED",
                        ]
                    },
                },
            },
        },
        "dryRun": {"type": "boolean"},
    },
}
REPAIR = {
    "type": "object",
    "required": ["environment", "queues"],
    "properties": {
        "environment": REPAIR_RESULT,
        "queues": {"type": "array", "items": {"allOf": [REPAIR_RESULT, {"required": ["queue"]}]}},
    },
}
VALUE = {"type": "object", "required": ["value"], "properties": {"value": {"type": ["integer", "null"]}}}
REPORT = {
    "type": "object",
    "required": [
        "concurrencyLimit",
        "concurrencyLimitWithBurstFactor",
        "currentDequeued",
        "currentConcurrency",
        "analysis",
        "queues",
    ],
    "properties": {
        "analysis": {"type": "object", "required": ["canDequeue", "reasons", "metrics"]},
        "queues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "friendlyId",
                    "type",
                    "paused",
                    "dbConcurrencyLimit",
                    "key",
                    "analysis",
                    "concurrencyLimit",
                    "currentConcurrency",
                    "currentDequeued",
                ],
                "properties": {
                    "type": {"enum": ["VIRTUAL", "NAMED"]},
                    "concurrencyLimit": VALUE,
                    "currentConcurrency": VALUE,
                    "currentDequeued": VALUE,
                },
            },
        },
    },
}
