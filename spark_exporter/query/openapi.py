"""The OpenAPI 3.0 description of the JSON API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from .rollups import HISTORY_STEPS

_NUM = {"type": "number", "nullable": True}
_INT = {"type": "integer", "nullable": True}
_BOOL = {"type": "boolean", "nullable": True}
_STR = {"type": "string", "nullable": True}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


_COMMON = {
    "missing": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "For each null figure, why it is missing.",
    },
    "warnings": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Warnings from the query engine.",
    },
    "partial": {"type": "boolean", "description": "The engine answered from part of its data."},
    "timestamp": {"type": "integer", "description": "When the figures were read, ms since epoch."},
}
_TARGET = _obj(
    {
        "job": {"type": "string"},
        "instance": {"type": "string"},
        "node": _STR,
        "up": {"type": "boolean"},
        "stale": {"type": "boolean"},
        "lastScrapeAgeSeconds": _NUM,
    }
)

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "status": {"type": "string", "enum": ["error"]},
            "errorType": {"type": "string"},
            "error": {"type": "string"},
        },
        ["status", "errorType", "error"],
    ),
    "Target": _TARGET,
    "ClusterOverview": _obj(
        {
            **_COMMON,
            "cluster": _STR,
            "gpuUtilization": {**_NUM, "description": "Average GPU utilisation, %."},
            "memoryUsedGB": {**_NUM, "description": "GPU memory used (unified-aware), GiB."},
            "memoryTotalGB": {**_NUM, "description": "GPU memory total, GiB."},
            "powerDrawW": {**_NUM, "description": "Total GPU power, W."},
            "activeJobs": {**_INT, "description": "Spark jobs running (driver DAGScheduler)."},
            "activeTasks": {**_INT, "description": "Spark tasks running (executors)."},
            "maxGpuTemperatureC": _NUM,
            "nodesUp": _INT,
            "nodesTotal": _INT,
            "vllmRequestsRunning": _NUM,
            "vllmRequestsWaiting": _NUM,
            "vllmGenerationTokensPerSec": _NUM,
            "firingAlerts": _INT,
            "downTargets": {"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
            "staleTargets": {"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
        },
        ["gpuUtilization", "memoryUsedGB", "powerDrawW", "activeJobs", "missing"],
    ),
    "NodeList": _obj(
        {
            **_COMMON,
            "cluster": _STR,
            "nodes": {
                "type": "array",
                "items": _obj(
                    {
                        "node": {"type": "string"},
                        "up": _BOOL,
                        "stale": _BOOL,
                        "gpuCount": _INT,
                        "utilization": _NUM,
                        "temperature": _NUM,
                        "powerDraw": _NUM,
                        "memoryUsedMB": _NUM,
                        "cpuUtilization": _NUM,
                        "inInventory": {"type": "boolean"},
                        "missing": _COMMON["missing"],
                    }
                ),
            },
        }
    ),
    "NodeGpuMetrics": _obj(
        {
            **_COMMON,
            "node": {"type": "string"},
            "up": _BOOL,
            "stale": _BOOL,
            "utilization": {**_NUM, "description": "Average over the node's GPUs, %."},
            "temperature": {**_NUM, "description": "Hottest GPU, degrees C."},
            "powerDraw": {**_NUM, "description": "W."},
            "memoryUsedMB": _NUM,
            "memoryFreeMB": _NUM,
            "memoryTotalMB": _NUM,
            "memorySource": _STR,
            "gpus": {"type": "array", "items": {"type": "object"}},
            "targets": {"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
        },
        ["utilization", "temperature", "powerDraw", "memoryUsedMB", "memoryFreeMB", "missing"],
    ),
    "History": {
        "type": "array",
        "items": _obj(
            {
                "metric": {"type": "object", "additionalProperties": {"type": "string"}},
                "values": {
                    "type": "array",
                    "items": _obj({"timestamp": {"type": "integer", "description": "ms"}, "value": _NUM}),
                },
            },
            ["metric", "values"],
        ),
    },
    "NetworkStats": _obj(
        {
            **_COMMON,
            "node": _STR,
            "rxBytesPerSec": _NUM,
            "txBytesPerSec": _NUM,
            "nodes": {
                "type": "array",
                "items": _obj({"node": {"type": "string"}, "rxBytesPerSec": _NUM, "txBytesPerSec": _NUM}),
            },
            "interfaces": {
                "type": "array",
                "items": _obj(
                    {
                        "node": {"type": "string"},
                        "device": {"type": "string"},
                        "rxBytesPerSec": _NUM,
                        "txBytesPerSec": _NUM,
                        "up": _BOOL,
                    }
                ),
            },
        },
        ["rxBytesPerSec", "txBytesPerSec", "missing"],
    ),
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad parameter",
        401: "Missing or wrong bearer token",
        404: "Unknown node",
        429: "Rate limited (see Retry-After)",
        502: "Query rejected by Prometheus",
        503: "Prometheus unavailable",
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(c): {"description": text[c], "content": ref} for c in codes}


def _get(summary: str, schema: str, params: list[dict[str, Any]], *codes: int) -> dict[str, Any]:
    ok = {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {"200": ok, **_errors(401, 429, 502, 503, *codes)},
        }
    }


_NODE = {
    "name": "node",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "spark-exporter telemetry API",
            "version": version,
            "description": "DGX Spark cluster telemetry from Prometheus. Missing figures are null, "
            "with the reason under 'missing'.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/cluster/overview": _get("Cluster overview", "ClusterOverview", []),
            "/api/v1/nodes": _get("Nodes with health and GPU summary", "NodeList", []),
            "/api/v1/nodes/{node}/gpu": _get("GPU metrics of one node", "NodeGpuMetrics", [_NODE], 400, 404),
            "/api/v1/nodes/{node}/gpu/utilization": _get(
                "GPU utilisation history of one node",
                "History",
                [
                    _NODE,
                    {
                        "name": "duration",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(HISTORY_STEPS), "default": "1h"},
                    },
                    {
                        "name": "envelope",
                        "in": "query",
                        "required": False,
                        "description": "true: return an object with series, step, missing and warnings",
                        "schema": {"type": "boolean"},
                    },
                ],
                400,
                404,
            ),
            "/api/v1/network": _get(
                "Network throughput per node and physical interface",
                "NetworkStats",
                [{"name": "node", "in": "query", "required": False, "schema": _NODE["schema"]}],
                400,
                404,
            ),
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.0 document"}},
                }
            },
        },
    }
