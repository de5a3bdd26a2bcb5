"""Query module: a Prometheus HTTP API client, safe PromQL building, and the Command Center rollups.

Typical use::

    async with PrometheusClient("http://prometheus:9090") as client:
        overview = await Rollups(client, load_inventory("inventory.yml")).cluster_overview()
"""

from __future__ import annotations

from .client import (
    BadResponse,
    InstantResult,
    InvalidParameter,
    PrometheusClient,
    PrometheusError,
    PrometheusUnavailable,
    QueryError,
    RangeResult,
    Sample,
    Series,
    UnknownNodeError,
)
from .promql import quote
from .rollups import (
    HISTORY_STEPS,
    VIRTUAL_INTERFACES,
    ClusterOverview,
    NetworkStats,
    NodeGpuMetrics,
    NodeList,
    Rollups,
    UtilizationHistory,
)

__all__ = [
    "BadResponse",
    "ClusterOverview",
    "HISTORY_STEPS",
    "InstantResult",
    "InvalidParameter",
    "NetworkStats",
    "NodeGpuMetrics",
    "NodeList",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusUnavailable",
    "QueryError",
    "RangeResult",
    "Rollups",
    "Sample",
    "Series",
    "UnknownNodeError",
    "UtilizationHistory",
    "VIRTUAL_INTERFACES",
    "quote",
]
