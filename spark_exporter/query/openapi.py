"""The OpenAPI 3.1 description of the JSON API, served at ``/api/v1/openapi.json``.

The schemas are generated from the response models in :mod:`.models` (pydantic's JSON Schema, which
is OpenAPI 3.1's schema dialect), so the document cannot drift from what the handlers send; this
module adds only the paths, their parameters and the error responses.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from .models import (
    Alerts,
    ClusterOverview,
    Error,
    HistorySeries,
    Inference,
    NetworkStats,
    NodeGpuMetrics,
    NodeList,
    SparkApplications,
    UtilizationHistory,
)
from .rollups import HISTORY_METRICS, HISTORY_STEPS

_MODELS = (
    Error,
    ClusterOverview,
    NodeList,
    NodeGpuMetrics,
    HistorySeries,
    UtilizationHistory,
    NetworkStats,
    SparkApplications,
    Inference,
    Alerts,
)
_REF = "#/components/schemas/{model}"
# Written only on an answer served stale (see Result.to_json), so never required.
_OPTIONAL = ("stale", "staleAnswer")


@functools.cache
def schemas() -> dict[str, Any]:
    """``components.schemas``: one JSON Schema per response model, as the API writes it (camelCase)."""
    _, top = models_json_schema([(m, "serialization") for m in _MODELS], ref_template=_REF)
    defs: dict[str, Any] = top["$defs"]
    for schema in defs.values():
        if "required" in schema:
            schema["required"] = [k for k in schema["required"] if k not in _OPTIONAL]
    return defs


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


_ERROR_TEXT = {
    400: "Bad parameter",
    401: "Missing or wrong credentials",
    404: "Unknown node",
    429: "Rate limited (see Retry-After)",
    502: "Query rejected by Prometheus, or an answer that is not a Prometheus API response "
    "(malformed, too large, authentication refused)",
    503: "Prometheus unavailable or past the rollup deadline, with no answer younger than 60 s to serve stale",
}
_X_CACHE = {
    "X-Cache": {
        "description": "hit, miss, or stale (Prometheus failed; an answer at most 60 s old is served, "
        "marked in the body)",
        "schema": {"type": "string", "enum": ["hit", "miss", "stale"]},
    }
}


def _errors(*codes: int) -> dict[str, Any]:
    body = {"application/json": {"schema": _ref("Error")}}
    return {str(c): {"description": _ERROR_TEXT[c], "content": body} for c in sorted(codes)}


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]], *codes: int) -> dict[str, Any]:
    ok = {"description": "OK", "headers": _X_CACHE, "content": {"application/json": {"schema": schema}}}
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
_HISTORY_PARAMS = [
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
]


_TIME = {
    "name": "time",
    "in": "query",
    "required": False,
    "description": "Evaluate at this instant, s since epoch (at most 60 s ahead); default now. The answer's "
    "evaluatedAt echoes it, so answers asked for one instant form one snapshot.",
    "schema": {"type": "number", "exclusiveMinimum": 0},
}


def _history_paths(history: dict[str, Any]) -> dict[str, Any]:
    units = {"utilization": "GPU utilisation (%)", "temperature": "hottest GPU temperature (degrees C)",
             "power": "GPU power (W)", "memory": "GPU memory used (MiB)"}
    return {
        f"/api/v1/nodes/{{node}}/gpu/{metric}": _get(
            f"History of one node's {units[metric]}: a bare list of series, or with envelope=true "
            "the UtilizationHistory object",
            history,
            _HISTORY_PARAMS,
            400,
            404,
        )
        for metric in HISTORY_METRICS
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document for API ``version``; schemas from :func:`schemas`."""
    history = {"oneOf": [{"type": "array", "items": _ref("HistorySeries")}, _ref("UtilizationHistory")]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "spark-exporter telemetry API",
            "version": version,
            "description": "DGX Spark cluster telemetry from Prometheus. Missing figures are null, "
            "with the reason under 'missing'.",
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/cluster/overview": _get("Cluster overview", _ref("ClusterOverview"), [_TIME], 400),
            "/api/v1/nodes": _get("Nodes with health and GPU summary", _ref("NodeList"), [_TIME], 400),
            "/api/v1/nodes/{node}/gpu": _get(
                "GPU metrics of one node", _ref("NodeGpuMetrics"), [_NODE, _TIME], 400, 404
            ),
            **_history_paths(history),
            "/api/v1/network": _get(
                "Network throughput per node and physical interface",
                _ref("NetworkStats"),
                [{"name": "node", "in": "query", "required": False, "schema": _NODE["schema"]}, _TIME],
                400,
                404,
            ),
            "/api/v1/alerts": _get(
                "Firing and pending alerts, most severe first, with node, GPU, since when, summary and runbook",
                _ref("Alerts"),
                [],
            ),
            "/api/v1/spark": _get(
                "Spark applications running (the Spark Engine page) and the cluster's Spark totals",
                _ref("SparkApplications"),
                [],
            ),
            "/api/v1/inference": _get(
                "Inference per engine (vLLM, SGLang, llama.cpp), node and model, and the cluster's totals",
                _ref("Inference"), [],
            ),
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    # behind the same token and rate limit as the data paths
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}, **_errors(401, 429)},
                }
            },
        },
    }
