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
from .models import (
    ClusterOverview,
    Inference,
    NetworkStats,
    NodeGpuMetrics,
    NodeList,
    Result,
    SparkApplications,
    Stale,
    UtilizationHistory,
)
from .promql import quote
from .queries import VIRTUAL_INTERFACES
from .rollups import HISTORY_STEPS, Rollups

__all__ = [
    "BadResponse",
    "ClusterOverview",
    "HISTORY_STEPS",
    "Inference",
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
    "Result",
    "Rollups",
    "Sample",
    "Series",
    "SparkApplications",
    "Stale",
    "UnknownNodeError",
    "UtilizationHistory",
    "VIRTUAL_INTERFACES",
    "quote",
]
