"""Cluster rollups for the Command Center: overview, node list, per-node GPU, utilisation history, network,
Spark applications and inference (vLLM, SGLang, llama.cpp).

:class:`Rollups` runs the queries of :mod:`.queries` through a :class:`PrometheusClient` and fills the
models of :mod:`.models` with :mod:`.mapping`. Every figure is either a reading or ``None`` with a
reason in ``missing``: no data never reads 0. Each rollup runs under one overall deadline
(``deadline``, default 5 s) covering all its queries; past it the rollup raises
:class:`PrometheusUnavailable` and nothing is retried.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..prometheus.inventory import Inventory, valid_node_name
from . import mapping, promql
from .client import (
    InvalidParameter,
    Meta,
    PrometheusClient,
    PrometheusUnavailable,
    Sample,
    UnknownNodeError,
)
from .models import (
    MAX_TEMPERATURE_C,
    MIN_TEMPERATURE_C,
    Alert,
    Alerts,
    ClusterOverview,
    GpuMetrics,
    HistoryPoint,
    HistorySeries,
    Inference,
    InterfaceStats,
    ModelInference,
    NetworkStats,
    NodeGpuMetrics,
    NodeList,
    NodeNetwork,
    NodeSummary,
    RdmaPortStats,
    Result,
    SparkApplication,
    SparkApplications,
    Stale,
    TargetState,
    UtilizationHistory,
)
from .queries import (
    GPU_FIELDS,
    GPU_JOBS,
    HISTORY_METRICS,
    INFERENCE_TOKENS_FIGURE,
    OVERVIEW_AGGREGATE_ABOVE,
    OVERVIEW_RULES,
    UP_TIMESTAMP,
    VIRTUAL_INTERFACES,
    VLLM_TOKENS_FIGURE,
    Queries,
)

__all__ = [
    "GPU_FIELDS",
    "GPU_JOBS",
    "HISTORY_METRICS",
    "HISTORY_STEPS",
    "MAX_ALERTS",
    "VIRTUAL_INTERFACES",
    "Alert",
    "Alerts",
    "ClusterOverview",
    "GpuMetrics",
    "HistoryPoint",
    "HistorySeries",
    "Inference",
    "InterfaceStats",
    "ModelInference",
    "NetworkStats",
    "NodeGpuMetrics",
    "NodeList",
    "NodeNetwork",
    "NodeSummary",
    "RdmaPortStats",
    "Result",
    "Rollups",
    "SparkApplication",
    "SparkApplications",
    "Stale",
    "TargetState",
    "UtilizationHistory",
]

# duration -> (seconds, step in s): a few hundred points per series.
HISTORY_STEPS: dict[str, tuple[int, int]] = {
    "1h": (3600, 15),  # 240 points
    "6h": (21600, 60),  # 360 points
    "24h": (86400, 300),  # 288 points
    "7d": (604800, 1800),  # 336 points
}
#: The physical range of each HISTORY_METRICS figure in its unit; a point outside it is served as null.
HISTORY_RANGES: dict[str, tuple[float, float]] = {
    "utilization": (0.0, 100.0),  # %
    "temperature": (MIN_TEMPERATURE_C, MAX_TEMPERATURE_C),  # degrees C
    "power": (0.0, math.inf),  # W
    "memory": (0.0, math.inf),  # MiB
}
DEFAULT_DEADLINE = 5.0  # s, for all the queries of one rollup together
# s an instant rollup looks back by default: a scrape's samples carry its start time but land when it ends,
# so an instant this far back no longer changes while the node answers for it are asked.
DEFAULT_SETTLE = 2.0
MAX_ALERTS = 500  # alerts listed by /api/v1/alerts; the counts cover all of them

T = TypeVar("T")


class Rollups:
    """The four Command Center procedures, a node list and the Spark and inference pages, over one
    :class:`PrometheusClient`.

    Raises PrometheusUnavailable (unreachable, or past ``deadline``), QueryError, BadResponse,
    InvalidParameter (malformed node or duration) and UnknownNodeError.
    """

    def __init__(
        self,
        client: PrometheusClient,
        inventory: Inventory | None = None,
        scrape_interval: float = 15.0,
        clock: Callable[[], float] = time.time,
        deadline: float = DEFAULT_DEADLINE,
        settle: float = DEFAULT_SETTLE,
    ) -> None:
        self.client = client
        self.inventory = inventory
        self.scrape_interval = scrape_interval  # s; a target silent for 2 intervals is stale
        # Nodes above which the overview lets Prometheus aggregate (the inventory's size, else the last answer's).
        self.aggregate_above = OVERVIEW_AGGREGATE_ABOVE
        self._fleet_seen = 0
        self.clock = clock
        self.deadline = deadline  # s per rollup
        self.settle = settle  # s the default instant lies behind the clock
        self.q = Queries(inventory.cluster if inventory else None)
        self._known: tuple[float, tuple[str, ...]] | None = None

    @property
    def cluster(self) -> str | None:
        """The inventory's cluster name, or None without an inventory."""
        return self.inventory.cluster if self.inventory else None

    async def _within(self, work: Awaitable[T]) -> T:
        """``work`` under the rollup deadline, its answers held in the client's memory budget until it is done;
        a timeout is PrometheusUnavailable, never retried."""
        try:
            # The answers this rollup reads stay counted against the budget until it is mapped.
            async with self.client.budget.scope(), asyncio.timeout(self.deadline):
                return await work
        except TimeoutError:
            raise PrometheusUnavailable(
                f"Prometheus at {self.client.shown_url} did not answer within the {self.deadline:g}s deadline"
            ) from None

    def instant(self, at: float | None) -> float:
        """The evaluation instant of a rollup: ``at`` (s since epoch) if given, else ``settle`` s before now (so
        the figures at it are final and the same for every rollup asked for it); ms resolution."""
        return round(self.clock() - self.settle if at is None else at, 3)

    def _stamp(self, result: Result, *responses: Meta, at: float | None = None) -> None:
        result.timestamp = int(self.clock() * 1000)
        result.evaluated_at = at
        for r in responses:
            result.warnings.extend(r.warnings)
            result.partial = result.partial or r.partial

    # -- node identity ------------------------------------------------------------------------

    async def known_nodes(self) -> tuple[str, ...]:
        """Nodes from the inventory, or else the ``node`` labels Prometheus has on ``up`` (cached 30 s)."""
        if self.inventory is not None:
            return self.inventory.names
        now = self.clock()
        if self._known is not None and now - self._known[0] < 30:
            return self._known[1]
        res = await self._within(self.client.query(self.q.known_nodes()))
        names = tuple(sorted({s.labels["node"] for s in res.samples if s.labels.get("node")}))
        self._known = (now, names)
        return names

    async def check_node(self, node: object) -> str:
        """Return a well-formed, known ``node``; else raise InvalidParameter or UnknownNodeError."""
        if not valid_node_name(node):
            raise InvalidParameter(
                f"invalid node name {str(node)[:80]!r}: letters, digits, '.', '_', '-'; "
                "at most 63, starting with a letter or digit"
            )
        assert isinstance(node, str)
        known = await self.known_nodes()
        if node not in known:
            raise UnknownNodeError(node, known)
        return node

    def _targets(self, parts: dict[str, list[Sample]]) -> list[TargetState]:
        return mapping.targets(parts.get("up", []), mapping.target_ages(parts.get("up_age", [])), self.scrape_interval)

    # -- cluster overview ---------------------------------------------------------------------

    async def cluster_overview(self, at: float | None = None) -> ClusterOverview:
        """The cluster figures at ``at`` (s since epoch; default ``settle`` s ago), from one query at that instant.

        The GPU figures and the vLLM token rate are aggregated from the raw series at that instant, not read
        from the ``cluster:*`` rules, so they equal the aggregate of the node answers asked for the same
        instant (a rule lags its sources by up to one evaluation interval). The Spark and vLLM counts prefer
        their rules where they have a series. Up to ``aggregate_above`` nodes (the inventory's, else the last
        answer's nodesTotal) the query reads every target's and GPU's samples by name and aggregates them here
        (Queries.overview_samples); above, Prometheus aggregates and returns only the problem targets
        (Queries.overview), so the answer does not grow with the fleet. Both give the same figures.
        """
        return await self._within(self._cluster_overview(self.instant(at)))

    async def _cluster_overview(self, at: float) -> ClusterOverview:
        ov = ClusterOverview(cluster=self.cluster)
        names = self.inventory.names if self.inventory else None
        fleet = len(names) if names is not None else self._fleet_seen
        if fleet > self.aggregate_above:  # Prometheus aggregates: an answer of the same size at any fleet size
            res = await self.client.query(self.q.overview(2 * self.scrape_interval, names), at)
            parts = mapping.by_name(res)
            mapping.overview_raw(ov, list(OVERVIEW_RULES), parts)
        else:  # a few samples per node, read by name and aggregated here: cheaper for a small fleet
            res = await self.client.query(self.q.overview_samples(), at)
            parts = mapping.by_name(res)
            mapping.overview_gpu(ov, parts)
            mapping.overview_raw(ov, [VLLM_TOKENS_FIGURE, INFERENCE_TOKENS_FIGURE], parts)
        self._stamp(ov, res, at=at)
        mapping.overview_counts(ov, parts)
        mapping.overview_missing(ov)
        if fleet > self.aggregate_above:
            mapping.overview_nodes(ov, parts, names, self.scrape_interval)
        else:
            ages = mapping.stamp_ages(parts.get(UP_TIMESTAMP, []))
            mapping.overview_targets(ov, mapping.targets(parts.get("up", []), ages, self.scrape_interval), names)
        self._fleet_seen = ov.nodes_total or 0
        return ov

    # -- workloads ----------------------------------------------------------------------------

    async def spark_applications(self) -> SparkApplications:
        """The Spark Engine page: running applications and cluster totals, from the ``application:spark_*``
        and ``cluster:spark_*`` rules in one query. Without those series: empty, with the reason."""
        res = await self._within(self.client.query(self.q.spark()))
        out = SparkApplications(cluster=self.cluster)
        self._stamp(out, res)
        mapping.fill_spark(out, mapping.by_name(res))
        return out

    async def inference(self) -> Inference:
        """One row per inference engine, node and model, and cluster totals, from the ``node_model:vllm_*``,
        ``node_model:sglang_*``, ``node:llamacpp_*`` and ``cluster:vllm_*`` rules and the engines' ``up`` in one
        query (vLLM 0.9 to 0.34 names roll up alike). A node whose target has no row is in ``missing`` with the
        reason; without any series: empty, with the reason."""
        res = await self._within(self.client.query(self.q.inference()))
        out = Inference(cluster=self.cluster)
        self._stamp(out, res)
        mapping.fill_inference(out, mapping.by_name(res))
        return out

    # -- nodes --------------------------------------------------------------------------------

    async def nodes(self, at: float | None = None) -> NodeList:
        """Every node in the inventory or on ``up``, with health, GPU and CPU summary, at ``at`` (s; default now)."""
        at = self.instant(at)
        res = await self._within(self.client.query(promql.bundle(self.q.node_parts()), at))
        parts = mapping.split(res)
        out = NodeList(cluster=self.cluster)
        self._stamp(out, res, at=at)
        targets = self._targets(parts)
        inv = set(self.inventory.names) if self.inventory else set()
        names = sorted(inv | {t.node for t in targets if t.node})
        cols = {
            k: mapping.by_node(parts.get(k))
            for k in ("utilization", "temperature", "power_draw", "memory_used_mb", "gpu_count", "cpu_utilization")
        }
        health = mapping.nodes_health(targets, names)
        for name in names:
            up, stale = health[name]
            count = cols["gpu_count"].get(name)
            summary = NodeSummary(
                node=name,
                up=up,
                stale=stale,
                gpu_count=None if count is None else int(count),
                utilization=cols["utilization"].get(name),
                temperature=cols["temperature"].get(name),
                power_draw=cols["power_draw"].get(name),
                memory_used_mb=cols["memory_used_mb"].get(name),
                cpu_utilization=cols["cpu_utilization"].get(name),
                in_inventory=name in inv,
            )
            if summary.cpu_utilization is not None:
                summary.cpu_utilization_percent = summary.cpu_utilization * 100
            for field in cols:
                if getattr(summary, field) is None:
                    key = mapping.json_name(summary, field)
                    summary.missing[key] = mapping.why_missing(name, up, key)
                    if field == "cpu_utilization":
                        summary.missing["cpuUtilizationPercent"] = summary.missing[key]
            out.nodes.append(summary)
        return out

    async def node_gpu_metrics(self, node: str, at: float | None = None) -> NodeGpuMetrics:
        """One node's GPUs (GPU_FIELDS) and their aggregate; its scrape targets; at ``at`` (s; default now)."""
        return await self._within(self._node_gpu_metrics(node, self.instant(at)))

    async def _node_gpu_metrics(self, node: str, at: float) -> NodeGpuMetrics:
        node = await self.check_node(node)
        res = await self.client.query(self.q.node_gpus(node), at)
        parts = mapping.split(res)
        out = NodeGpuMetrics(node=node)
        self._stamp(out, res, at=at)
        out.targets = self._targets(parts)
        out.up, out.stale = mapping.node_health(out.targets, node)
        out.gpus = mapping.gpus(parts.get("gpu", []))
        mapping.aggregate_node(out)
        for field in mapping.NODE_GPU_FIGURES:
            if getattr(out, field) is None:
                key = mapping.json_name(out, field)
                out.missing[key] = mapping.why_missing(node, out.up, key)
        return out

    # -- history ------------------------------------------------------------------------------

    async def gpu_utilization_history(self, node: str, duration: str) -> UtilizationHistory:
        """GPU utilisation of one node over ``duration`` (a HISTORY_STEPS key), % per step."""
        return await self.gpu_history(node, "utilization", duration)

    async def gpu_history(self, node: str, metric: str, duration: str) -> UtilizationHistory:
        """One HISTORY_METRICS figure of one node (utilization %, temperature C, power W, memory MiB) over
        ``duration`` (a HISTORY_STEPS key), one point per step. InvalidParameter for another metric or duration."""
        if duration not in HISTORY_STEPS:
            raise InvalidParameter(f"invalid duration {str(duration)[:20]!r}: use one of {', '.join(HISTORY_STEPS)}")
        if metric not in HISTORY_METRICS:
            raise InvalidParameter(
                f"invalid history metric {str(metric)[:20]!r}: use one of {', '.join(HISTORY_METRICS)}"
            )
        return await self._within(self._history(node, metric, duration))

    async def _history(self, node: str, metric: str, duration: str) -> UtilizationHistory:
        node = await self.check_node(node)
        span, step = HISTORY_STEPS[duration]
        end = float(int(self.clock()))  # s; the newest point is the latest reading
        start = end - span
        res = await self.client.query_range(self.q.history(metric, node, step), start, end, step)
        spec = HISTORY_METRICS[metric]
        out = UtilizationHistory(node=node, metric=metric, unit=spec.unit, duration=duration, step=step,
                                 start=start, end=end)
        self._stamp(out, res)
        low, high = HISTORY_RANGES[metric]
        out.series = []
        for i, s in enumerate(res.series):
            points = []
            for j, (t, v) in enumerate(s.points):
                if v is not None and not low <= v <= high:  # cannot be true: null with a reason
                    out.missing[f"series[{i}].values[{j}].value"] = (
                        f"{v:g} {spec.unit} lies outside the physical range {low:g}..{high:g}")
                    v = None
                points.append(HistoryPoint(timestamp=int(t * 1000), value=v))
            out.series.append(HistorySeries(metric=s.labels, values=points))
        if not out.series:
            out.missing["series"] = f"no {spec.source} samples for node {node} in the last {duration}"
        return out

    # -- alerts -------------------------------------------------------------------------------

    async def alerts(self) -> Alerts:
        """Firing and pending alerts from the engine's ``/api/v1/alerts``, in scope (the inventory's cluster,
        when its alerts carry a cluster label), most severe first; at most MAX_ALERTS listed."""
        res = await self._within(self.client.alerts())
        out = Alerts()
        self._stamp(out, res)
        found = [a for a in (mapping.alert(u) for u in res.alerts) if a is not None]
        if self.cluster is not None:
            found = [a for a in found if a.labels.get("cluster", self.cluster) == self.cluster]
        found.sort(key=mapping.alert_order)
        out.firing = sum(1 for a in found if a.state == "firing")
        out.pending = sum(1 for a in found if a.state == "pending")
        out.truncated = len(found) > MAX_ALERTS
        out.alerts = found[:MAX_ALERTS]
        return out

    # -- network ------------------------------------------------------------------------------

    async def network_stats(self, node: str | None = None, at: float | None = None) -> NetworkStats:
        """Throughput of physical interfaces (not VIRTUAL_INTERFACES) and of RDMA ports, B/s over 1m, in scope;
        the RDMA ports' states and link rates, at ``at`` (s; default now). One query (Queries.network)."""
        return await self._within(self._network(node, self.instant(at)))

    async def _network(self, node: str | None, at: float) -> NetworkStats:
        if node is not None:
            node = await self.check_node(node)
        res = await self.client.query(self.q.network(node), at)
        out = NetworkStats(node=node)
        self._stamp(out, res, at=at)
        mapping.fill_network(out, mapping.split(res))
        if not out.interfaces:
            where = self._where(node)
            out.missing["rxBytesPerSec"] = out.missing["txBytesPerSec"] = (
                f"no node_network_*_bytes_total series on physical interfaces for {where}"
            )
        mapping.network_rdma_missing(out, self._where(node))
        return out

    def _where(self, node: str | None) -> str:
        return f"node {node}" if node else (f"cluster {self.cluster}" if self.cluster else "any node")
