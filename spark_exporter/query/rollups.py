"""Cluster rollups for the Command Center: overview, per-node GPU, utilisation history, network.

Every figure is either a reading or ``None`` with a reason in ``missing``: no data never reads 0.
Result field names are the JSON API's (camelCase, the Command Center spec's names kept).

Queries prefer the recording rules from ``rules/`` and fall back per element to the raw series
(``rule or raw``), so they answer on an engine that has no rules loaded and before the first
rule evaluation. Series present under two jobs (dcgm-exporter and spark-exporter, or
node_exporter and spark-exporter on one node) are de-duplicated with ``max`` before summing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..prometheus.inventory import Inventory, valid_node_name
from . import promql
from .client import InstantResult, InvalidParameter, PrometheusClient, Sample, UnknownNodeError
from .promql import Matcher, selector

MIB = 1024 * 1024  # bytes
GIB = 1024**3  # bytes; the spec's memoryUsedGB divides by 1024**3

# Interfaces that are not physical NICs: loopback, containers, bridges, tunnels, VLAN sub-interfaces.
VIRTUAL_INTERFACES = (  # the same list as rules/spark-recording.yml, so rule and fallback agree
    r"lo|veth.*|docker.*|br-.*|virbr.*|vnet.*|cni.*|flannel.*|cali.*|cilium.*|lxc.*|vxlan.*|genev.*|tun.*"
    r"|tap.*|wg.*|tailscale.*|kube-ipvs.*|nodelocaldns|dummy.*|ifb.*"
)
GPU_JOBS = ("spark-exporter", "dcgm-exporter")  # jobs whose target carries a node's GPU telemetry

# duration -> (seconds, step in s): a few hundred points per series.
HISTORY_STEPS: dict[str, tuple[int, int]] = {
    "1h": (3600, 15),  # 240 points
    "6h": (21600, 60),  # 360 points
    "24h": (86400, 300),  # 288 points
    "7d": (604800, 1800),  # 336 points
}

GPU_FIELDS = (
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_MEMORY_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_FB_TOTAL",
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_MEM_CLOCK",
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
    "DCGM_FI_DEV_XID_ERRORS",
    "spark_exporter_gpu_memory_info",
)
_GPU_FIELD_RE = "|".join(GPU_FIELDS)  # constant names only: a regex alternation needs no escaping here


@dataclass
class TargetState:
    job: str
    instance: str
    node: str | None
    up: bool
    stale: bool
    lastScrapeAgeSeconds: float | None  # noqa: N815 - API field name


@dataclass
class Result:
    """Common to every rollup: why a figure is missing, and what the query engine warned about."""

    missing: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    partial: bool = False
    timestamp: int = 0  # ms since epoch, when the figures were read

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClusterOverview(Result):
    cluster: str | None = None
    gpuUtilization: float | None = None  # noqa: N815 - %, average over GPUs
    memoryUsedGB: float | None = None  # noqa: N815 - GiB of GPU memory used (unified-aware)
    memoryTotalGB: float | None = None  # noqa: N815 - GiB
    powerDrawW: float | None = None  # noqa: N815 - W, all GPUs
    activeJobs: int | None = None  # noqa: N815 - Spark jobs running (driver DAGScheduler)
    activeTasks: int | None = None  # noqa: N815 - Spark tasks running (executors)
    maxGpuTemperatureC: float | None = None  # noqa: N815
    nodesUp: int | None = None  # noqa: N815
    nodesTotal: int | None = None  # noqa: N815
    vllmRequestsRunning: float | None = None  # noqa: N815
    vllmRequestsWaiting: float | None = None  # noqa: N815
    vllmGenerationTokensPerSec: float | None = None  # noqa: N815
    firingAlerts: int | None = None  # noqa: N815
    downTargets: list[TargetState] = field(default_factory=list)  # noqa: N815
    staleTargets: list[TargetState] = field(default_factory=list)  # noqa: N815


@dataclass
class GpuMetrics:
    gpu: str
    uuid: str | None
    modelName: str | None  # noqa: N815
    utilization: float | None = None  # %
    temperature: float | None = None  # C
    memoryTemperature: float | None = None  # noqa: N815 - C
    powerDraw: float | None = None  # noqa: N815 - W
    powerLimit: float | None = None  # noqa: N815 - W
    memoryUsedMB: float | None = None  # noqa: N815 - MiB
    memoryFreeMB: float | None = None  # noqa: N815 - MiB
    memoryTotalMB: float | None = None  # noqa: N815 - MiB
    smClockMHz: float | None = None  # noqa: N815
    memClockMHz: float | None = None  # noqa: N815
    throttleReasons: int | None = None  # noqa: N815 - NVML bitmask
    lastXid: int | None = None  # noqa: N815
    memorySource: str | None = None  # noqa: N815 - "unified" (GB10) or "nvml"


@dataclass
class NodeGpuMetrics(Result):
    node: str = ""
    up: bool | None = None
    stale: bool | None = None
    utilization: float | None = None  # %, average over the node's GPUs
    temperature: float | None = None  # C, hottest GPU
    powerDraw: float | None = None  # noqa: N815 - W, sum
    memoryUsedMB: float | None = None  # noqa: N815 - MiB, sum
    memoryFreeMB: float | None = None  # noqa: N815 - MiB
    memoryTotalMB: float | None = None  # noqa: N815 - MiB
    memorySource: str | None = None  # noqa: N815
    gpus: list[GpuMetrics] = field(default_factory=list)
    targets: list[TargetState] = field(default_factory=list)


@dataclass
class NodeSummary:
    node: str
    up: bool | None
    stale: bool | None
    gpuCount: int | None  # noqa: N815
    utilization: float | None
    temperature: float | None
    powerDraw: float | None  # noqa: N815
    memoryUsedMB: float | None  # noqa: N815
    cpuUtilization: float | None  # noqa: N815 - 0..1
    inInventory: bool  # noqa: N815
    missing: dict[str, str] = field(default_factory=dict)


@dataclass
class NodeList(Result):
    cluster: str | None = None
    nodes: list[NodeSummary] = field(default_factory=list)


@dataclass
class HistoryPoint:
    timestamp: int  # ms since epoch
    value: float | None


@dataclass
class HistorySeries:
    metric: dict[str, str]
    values: list[HistoryPoint]


@dataclass
class UtilizationHistory(Result):
    node: str = ""
    duration: str = ""
    step: int = 0  # s
    start: float = 0.0  # s since epoch
    end: float = 0.0
    series: list[HistorySeries] = field(default_factory=list)


@dataclass
class InterfaceStats:
    node: str
    device: str
    rxBytesPerSec: float | None  # noqa: N815
    txBytesPerSec: float | None  # noqa: N815
    up: bool | None


@dataclass
class NodeNetwork:
    node: str
    rxBytesPerSec: float | None  # noqa: N815
    txBytesPerSec: float | None  # noqa: N815


@dataclass
class NetworkStats(Result):
    node: str | None = None
    rxBytesPerSec: float | None = None  # noqa: N815 - B/s, all physical interfaces in scope
    txBytesPerSec: float | None = None  # noqa: N815
    nodes: list[NodeNetwork] = field(default_factory=list)
    interfaces: list[InterfaceStats] = field(default_factory=list)


def _split(res: InstantResult) -> dict[str, list[Sample]]:
    """A bundled query's samples, grouped by their field tag (the tag itself removed)."""
    out: dict[str, list[Sample]] = {}
    for s in res.samples:
        labels = dict(s.labels)
        name = labels.pop(promql.FIELD_LABEL, "")
        out.setdefault(name, []).append(Sample(labels, s.timestamp, s.value))
    return out


def _one(samples: list[Sample] | None) -> float | None:
    return samples[0].value if samples else None


def _by_node(samples: list[Sample] | None) -> dict[str, float | None]:
    return {s.labels.get("node", ""): s.value for s in samples or []}


class Rollups:
    """The four Command Center procedures and a node list, over one :class:`PrometheusClient`."""

    def __init__(
        self,
        client: PrometheusClient,
        inventory: Inventory | None = None,
        scrape_interval: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.inventory = inventory
        self.scrape_interval = scrape_interval  # s; a target silent for 2 intervals is stale
        self.clock = clock
        self._known: tuple[float, tuple[str, ...]] | None = None

    @property
    def cluster(self) -> str | None:
        return self.inventory.cluster if self.inventory else None

    # -- scope and node identity ------------------------------------------------------------

    def _scope(self, node: str | None = None, **extra: str) -> tuple[Matcher, ...]:
        ms = [Matcher("cluster", self.cluster)] if self.cluster else []
        if node is not None:
            ms.append(Matcher("node", node))
        ms.extend(Matcher(k, v) for k, v in extra.items())
        return tuple(ms)

    def _sel(self, metric: str, node: str | None = None, *more: Matcher) -> str:
        return selector(metric, self._scope(node) + more)

    async def known_nodes(self) -> tuple[str, ...]:
        """Nodes from the inventory, or else the ``node`` labels Prometheus has on ``up`` (cached 30 s)."""
        if self.inventory is not None:
            return self.inventory.names
        now = self.clock()
        if self._known is not None and now - self._known[0] < 30:
            return self._known[1]
        res = await self.client.query(f"group {promql.by('node')} ({self._sel('up')})")
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

    # -- targets ----------------------------------------------------------------------------

    def _target_parts(self, node: str | None = None) -> dict[str, str]:
        up = self._sel("up", node)
        return {"up": up, "up_age": f"time() - timestamp({up})"}

    def _targets(self, parts: dict[str, list[Sample]]) -> list[TargetState]:
        ages = {
            (s.labels.get("job", ""), s.labels.get("instance", "")): s.value for s in parts.get("up_age", [])
        }
        out = []
        for s in parts.get("up", []):
            job, inst = s.labels.get("job", ""), s.labels.get("instance", "")
            age = ages.get((job, inst))
            out.append(
                TargetState(
                    job=job,
                    instance=inst,
                    node=s.labels.get("node"),
                    up=s.value == 1,
                    stale=age is not None and age > 2 * self.scrape_interval,
                    lastScrapeAgeSeconds=None if age is None else round(age, 3),
                )
            )
        return sorted(out, key=lambda t: (t.node or "", t.job, t.instance))

    @staticmethod
    def _node_health(targets: list[TargetState], node: str) -> tuple[bool | None, bool | None]:
        """(up, stale) of a node's GPU-telemetry targets; (None, None) when Prometheus has none."""
        mine = [t for t in targets if t.node == node and t.job in GPU_JOBS] or [
            t for t in targets if t.node == node
        ]
        if not mine:
            return None, None
        return any(t.up and not t.stale for t in mine), all(t.stale for t in mine)

    def _stamp(self, result: Result, *responses: InstantResult | Any) -> None:
        result.timestamp = int(self.clock() * 1000)
        for r in responses:
            result.warnings.extend(r.warnings)
            result.partial = result.partial or r.partial

    # -- cluster overview -------------------------------------------------------------------

    def _rule_or(self, rule: str, raw: str) -> str:
        """``max(rule{scope}) or raw``: the rule's value where it exists, else the raw aggregation."""
        if self.cluster is None:  # rules aggregate per cluster; without one only the raw form is right
            return raw
        return f"max({self._sel(rule)}) or {raw}"

    def _dedup(self, metric: str, node: str | None = None, *by: str) -> str:
        """One value per GPU (by UUID), so a GPU exported by two jobs counts once."""
        return f"max {promql.by(*by, 'node', 'UUID')} ({self._sel(metric, node)})"

    def overview_query(self) -> str:
        spark_jobs = selector(
            None,
            (
                Matcher("__name__", "metrics_.*_driver_DAGScheduler_job_activeJobs_Value", "=~"),
                *self._scope(),
            ),
        )
        firing = self._sel("ALERTS", None, Matcher("alertstate", "firing"))
        if self.cluster:  # alerts whose expression aggregated the cluster label away still count
            firing += " or " + selector("ALERTS", (Matcher("alertstate", "firing"), Matcher("cluster", "")))
        parts = {
            "gpuUtilization": self._rule_or(
                "cluster:gpu_utilization:avg", f"avg({self._sel('DCGM_FI_DEV_GPU_UTIL')})"
            ),
            "memoryUsedBytes": self._rule_or(
                "cluster:memory_used_bytes:sum", f"sum({self._dedup('DCGM_FI_DEV_FB_USED')}) * {MIB}"
            ),
            "memoryTotalBytes": self._rule_or(
                "cluster:gpu_memory_total_bytes:sum", f"sum({self._dedup('DCGM_FI_DEV_FB_TOTAL')}) * {MIB}"
            ),
            "powerDrawW": self._rule_or(
                "cluster:power_watts:sum", f"sum({self._dedup('DCGM_FI_DEV_POWER_USAGE')})"
            ),
            "maxGpuTemperatureC": self._rule_or(
                "cluster:gpu_temperature_celsius:max", f"max({self._sel('DCGM_FI_DEV_GPU_TEMP')})"
            ),
            "activeJobs": f"sum({spark_jobs})",
            "activeTasks": f"sum({self._sel('metrics_executor_activeTasks')})",
            "vllmRequestsRunning": f"sum({self._sel('vllm:num_requests_running')})",
            "vllmRequestsWaiting": f"sum({self._sel('vllm:num_requests_waiting')})",
            "vllmGenerationTokensPerSec": self._rule_or(
                "cluster:vllm_generation_tokens:rate1m",
                f"sum(rate({self._sel('vllm:generation_tokens_total')}[1m]))",
            ),
            "firingAlerts": f"count({firing})",
            **self._target_parts(),
        }
        return promql.bundle(parts)

    async def cluster_overview(self) -> ClusterOverview:
        res = await self.client.query(self.overview_query())
        parts = _split(res)
        ov = ClusterOverview(cluster=self.cluster)
        self._stamp(ov, res)
        scope = f"cluster {self.cluster}" if self.cluster else "any cluster"
        ov.gpuUtilization = _one(parts.get("gpuUtilization"))
        used, total = _one(parts.get("memoryUsedBytes")), _one(parts.get("memoryTotalBytes"))
        ov.memoryUsedGB = None if used is None else used / GIB
        ov.memoryTotalGB = None if total is None else total / GIB
        ov.powerDrawW = _one(parts.get("powerDrawW"))
        ov.maxGpuTemperatureC = _one(parts.get("maxGpuTemperatureC"))
        for name, metric in (
            ("gpuUtilization", "DCGM_FI_DEV_GPU_UTIL"),
            ("memoryUsedGB", "DCGM_FI_DEV_FB_USED"),
            ("memoryTotalGB", "DCGM_FI_DEV_FB_TOTAL"),
            ("powerDrawW", "DCGM_FI_DEV_POWER_USAGE"),
            ("maxGpuTemperatureC", "DCGM_FI_DEV_GPU_TEMP"),
        ):
            if getattr(ov, name) is None:
                ov.missing[name] = f"no {metric} series for {scope}"
        jobs, tasks = _one(parts.get("activeJobs")), _one(parts.get("activeTasks"))
        ov.activeJobs = None if jobs is None else int(jobs)
        ov.activeTasks = None if tasks is None else int(tasks)
        if jobs is None:
            ov.missing["activeJobs"] = f"no Spark driver DAGScheduler activeJobs series for {scope}"
        if tasks is None:
            ov.missing["activeTasks"] = f"no Spark metrics_executor_activeTasks series for {scope}"
        for name, metric in (
            ("vllmRequestsRunning", "vllm:num_requests_running"),
            ("vllmRequestsWaiting", "vllm:num_requests_waiting"),
            ("vllmGenerationTokensPerSec", "vllm:generation_tokens_total"),
        ):
            value = _one(parts.get(name))
            setattr(ov, name, value)
            if value is None:
                ov.missing[name] = f"no {metric} series for {scope} (no vLLM target)"
        # The query ran; an empty ALERTS set means that nothing is firing.
        alerts = _one(parts.get("firingAlerts"))
        ov.firingAlerts = 0 if alerts is None else int(alerts)
        self._overview_nodes(ov, self._targets(parts))
        return ov

    def _overview_nodes(self, ov: ClusterOverview, targets: list[TargetState]) -> None:
        ov.downTargets = [t for t in targets if not t.up]
        ov.staleTargets = [t for t in targets if t.stale]
        names = set(self.inventory.names) if self.inventory else {t.node for t in targets if t.node}
        if not names:
            ov.missing["nodesUp"] = ov.missing["nodesTotal"] = (
                f"no scrape targets with a node label for {ov.cluster}"
            )
            return
        ov.nodesTotal = len(names)
        ov.nodesUp = sum(1 for n in names if self._node_health(targets, n)[0])

    # -- nodes ------------------------------------------------------------------------------

    def node_parts(self, node: str | None = None) -> dict[str, str]:
        n = node
        util_rule = f"max by (node) ({self._sel('node:gpu_utilization:avg', n)})"
        power_rule = f"max by (node) ({self._sel('node:gpu_power_watts:sum', n)})"
        used_rule = f"max by (node) ({self._sel('node:gpu_memory_used_bytes:sum', n)}) / {MIB}"
        cpu_rule = f"max by (node) ({self._sel('node:cpu_utilization:ratio', n)})"
        # iowait counts as idle, as in the node:cpu_utilization:ratio rule
        idle = self._sel("node_cpu_seconds_total", n, Matcher("mode", "idle|iowait", "=~"))
        gpus = f"{self._sel('DCGM_FI_DEV_GPU_UTIL', n)} or {self._sel('DCGM_FI_DEV_GPU_TEMP', n)}"
        return {
            "utilization": f"{util_rule} or avg by (node) ({self._sel('DCGM_FI_DEV_GPU_UTIL', n)})",
            "temperature": f"max by (node) ({self._sel('DCGM_FI_DEV_GPU_TEMP', n)})",
            "powerDraw": f"{power_rule} or sum by (node) ({self._dedup('DCGM_FI_DEV_POWER_USAGE', n)})",
            "memoryUsedMB": f"{used_rule} or sum by (node) ({self._dedup('DCGM_FI_DEV_FB_USED', n)})",
            "gpuCount": f"count by (node) (max by (node, UUID) ({gpus}))",
            "cpuUtilization": f"{cpu_rule} or (1 - avg by (node) (sum without (mode) (rate({idle}[1m]))))",
            **self._target_parts(n),
        }

    async def nodes(self) -> NodeList:
        res = await self.client.query(promql.bundle(self.node_parts()))
        parts = _split(res)
        out = NodeList(cluster=self.cluster)
        self._stamp(out, res)
        targets = self._targets(parts)
        inv = set(self.inventory.names) if self.inventory else set()
        names = sorted(inv | {t.node for t in targets if t.node})
        cols = {
            k: _by_node(parts.get(k))
            for k in ("utilization", "temperature", "powerDraw", "memoryUsedMB", "gpuCount", "cpuUtilization")
        }
        for name in names:
            up, stale = self._node_health(targets, name)
            count = cols["gpuCount"].get(name)
            summary = NodeSummary(
                node=name,
                up=up,
                stale=stale,
                gpuCount=None if count is None else int(count),
                utilization=cols["utilization"].get(name),
                temperature=cols["temperature"].get(name),
                powerDraw=cols["powerDraw"].get(name),
                memoryUsedMB=cols["memoryUsedMB"].get(name),
                cpuUtilization=cols["cpuUtilization"].get(name),
                inInventory=name in inv,
            )
            for key in (
                "gpuCount",
                "utilization",
                "temperature",
                "powerDraw",
                "memoryUsedMB",
                "cpuUtilization",
            ):
                if getattr(summary, key) is None:
                    summary.missing[key] = self._why(name, up, key)
            out.nodes.append(summary)
        return out

    @staticmethod
    def _why(node: str, up: bool | None, what: str) -> str:
        if up is None:
            return f"Prometheus has no scrape target for node {node}"
        if not up:
            return f"node {node} is down or stale (see targets)"
        return f"no series for {what} on node {node}"

    async def node_gpu_metrics(self, node: str) -> NodeGpuMetrics:
        node = await self.check_node(node)
        gpu_sel = selector(None, (Matcher("__name__", _GPU_FIELD_RE, "=~"), *self._scope(node)))
        res = await self.client.query(promql.bundle({"gpu": gpu_sel, **self._target_parts(node)}))
        parts = _split(res)
        out = NodeGpuMetrics(node=node)
        self._stamp(out, res)
        out.targets = self._targets(parts)
        out.up, out.stale = self._node_health(out.targets, node)
        out.gpus = _gpus(parts.get("gpu", []))
        _aggregate_node(out)
        for key in (
            "utilization",
            "temperature",
            "powerDraw",
            "memoryUsedMB",
            "memoryFreeMB",
            "memoryTotalMB",
        ):
            if getattr(out, key) is None:
                out.missing[key] = self._why(node, out.up, key)
        return out

    # -- history ----------------------------------------------------------------------------

    async def gpu_utilization_history(self, node: str, duration: str) -> UtilizationHistory:
        if duration not in HISTORY_STEPS:
            raise InvalidParameter(
                f"invalid duration {str(duration)[:20]!r}: use one of {', '.join(HISTORY_STEPS)}"
            )
        node = await self.check_node(node)
        span, step = HISTORY_STEPS[duration]
        end = float(int(self.clock()))  # s; the newest point is the latest reading
        start = end - span
        window = promql.seconds_to_duration(max(step, 60))  # smooth over at least 1m of scrapes
        rule = f"avg_over_time({self._sel('node:gpu_utilization:avg', node)}[{window}])"
        raw = f"avg by (node) (avg_over_time({self._sel('DCGM_FI_DEV_GPU_UTIL', node)}[{window}]))"
        expr = f"max by (node) ({rule}) or {raw}" if self.cluster else raw
        res = await self.client.query_range(expr, start, end, step)
        out = UtilizationHistory(node=node, duration=duration, step=step, start=start, end=end)
        self._stamp(out, res)
        out.series = [
            HistorySeries(metric=s.labels, values=[HistoryPoint(int(t * 1000), v) for t, v in s.points])
            for s in res.series
        ]
        if not out.series:
            out.missing["series"] = f"no DCGM_FI_DEV_GPU_UTIL samples for node {node} in the last {duration}"
        return out

    # -- network ----------------------------------------------------------------------------

    async def network_stats(self, node: str | None = None) -> NetworkStats:
        if node is not None:
            node = await self.check_node(node)
        phys = Matcher("device", VIRTUAL_INTERFACES, "!~")
        parts: dict[str, str] = {}
        for key, direction in (("rx", "receive"), ("tx", "transmit")):
            raw = f"rate({self._sel(f'node_network_{direction}_bytes_total', node, phys)}[1m])"
            expr = f"max by (node, device) ({raw})"
            if self.cluster:
                rule = self._sel(f"node_device:network_{direction}_bytes:rate1m", node, phys)
                expr = f"max by (node, device) ({rule}) or {expr}"
            parts[key] = expr
        parts["link"] = f"max by (node, device) ({self._sel('node_network_up', node, phys)})"
        res = await self.client.query(promql.bundle(parts))
        split = _split(res)
        out = NetworkStats(node=node)
        self._stamp(out, res)
        _fill_network(out, split)
        if not out.interfaces:
            where = f"node {node}" if node else (f"cluster {self.cluster}" if self.cluster else "any node")
            out.missing["rxBytesPerSec"] = out.missing["txBytesPerSec"] = (
                f"no node_network_*_bytes_total series on physical interfaces for {where}"
            )
        return out


def _gpus(samples: list[Sample]) -> list[GpuMetrics]:
    attr = {
        "DCGM_FI_DEV_GPU_UTIL": "utilization",
        "DCGM_FI_DEV_GPU_TEMP": "temperature",
        "DCGM_FI_DEV_MEMORY_TEMP": "memoryTemperature",
        "DCGM_FI_DEV_POWER_USAGE": "powerDraw",
        "DCGM_FI_DEV_POWER_MGMT_LIMIT": "powerLimit",
        "DCGM_FI_DEV_FB_USED": "memoryUsedMB",
        "DCGM_FI_DEV_FB_FREE": "memoryFreeMB",
        "DCGM_FI_DEV_FB_TOTAL": "memoryTotalMB",
        "DCGM_FI_DEV_SM_CLOCK": "smClockMHz",
        "DCGM_FI_DEV_MEM_CLOCK": "memClockMHz",
    }
    gpus: dict[str, GpuMetrics] = {}
    for s in samples:
        key = s.labels.get("UUID") or s.labels.get("gpu", "")
        g = gpus.setdefault(
            key,
            GpuMetrics(
                gpu=s.labels.get("gpu", ""), uuid=s.labels.get("UUID"), modelName=s.labels.get("modelName")
            ),
        )
        name = s.labels.get("__name__", "")
        if name in attr:
            setattr(g, attr[name], s.value)
        elif name == "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS" and s.value is not None:
            g.throttleReasons = int(s.value)
        elif name == "DCGM_FI_DEV_XID_ERRORS" and s.value is not None:
            g.lastXid = int(s.value)
        elif name == "spark_exporter_gpu_memory_info":
            g.memorySource = s.labels.get("memory_source")
    return sorted(gpus.values(), key=lambda g: (len(g.gpu), g.gpu))


def _sum(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _aggregate_node(out: NodeGpuMetrics) -> None:
    gpus = out.gpus
    utils = [g.utilization for g in gpus if g.utilization is not None]
    temps = [g.temperature for g in gpus if g.temperature is not None]
    out.utilization = sum(utils) / len(utils) if utils else None
    out.temperature = max(temps) if temps else None
    out.powerDraw = _sum([g.powerDraw for g in gpus])
    out.memoryUsedMB = _sum([g.memoryUsedMB for g in gpus])
    sources = {g.memorySource for g in gpus if g.memorySource}
    out.memorySource = sources.pop() if len(sources) == 1 else None
    if out.memorySource == "unified":
        # Every GPU on a unified-memory node reports the same host pool: count it once.
        out.memoryFreeMB = max((g.memoryFreeMB for g in gpus if g.memoryFreeMB is not None), default=None)
        out.memoryTotalMB = max((g.memoryTotalMB for g in gpus if g.memoryTotalMB is not None), default=None)
    else:
        out.memoryFreeMB = _sum([g.memoryFreeMB for g in gpus])
        out.memoryTotalMB = _sum([g.memoryTotalMB for g in gpus])


def _fill_network(out: NetworkStats, split: dict[str, list[Sample]]) -> None:
    rx = {(s.labels.get("node", ""), s.labels.get("device", "")): s.value for s in split.get("rx", [])}
    tx = {(s.labels.get("node", ""), s.labels.get("device", "")): s.value for s in split.get("tx", [])}
    link = {(s.labels.get("node", ""), s.labels.get("device", "")): s.value for s in split.get("link", [])}
    for key in sorted(set(rx) | set(tx)):
        up = link.get(key)
        out.interfaces.append(
            InterfaceStats(
                node=key[0],
                device=key[1],
                rxBytesPerSec=rx.get(key),
                txBytesPerSec=tx.get(key),
                up=None if up is None else up == 1,
            )
        )
    for name in sorted({i.node for i in out.interfaces}):
        mine = [i for i in out.interfaces if i.node == name]
        out.nodes.append(
            NodeNetwork(
                node=name,
                rxBytesPerSec=_sum([i.rxBytesPerSec for i in mine]),
                txBytesPerSec=_sum([i.txBytesPerSec for i in mine]),
            )
        )
    out.rxBytesPerSec = _sum([n.rxBytesPerSec for n in out.nodes])
    out.txBytesPerSec = _sum([n.txBytesPerSec for n in out.nodes])
