"""The PromQL of every rollup, built from checked names and quoted values (see :mod:`.promql`).

Queries prefer the recording rules from ``rules/`` and fall back to the raw series, so they answer on
an engine that has no rules loaded and before the first rule evaluation. Series present under two
jobs (dcgm-exporter and spark-exporter on one node) are de-duplicated with ``max`` by GPU UUID
before summing.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import promql
from .promql import Matcher, selector

MIB = 1024 * 1024  # bytes

# Interfaces that are not physical NICs: loopback, containers, bridges, tunnels, VLAN sub-interfaces.
VIRTUAL_INTERFACES = (  # the same list as rules/spark-recording.yml, so rule and fallback agree
    r"lo|veth.*|docker.*|br-.*|virbr.*|vnet.*|cni.*|flannel.*|cali.*|cilium.*|lxc.*|vxlan.*|genev.*|tun.*"
    r"|tap.*|wg.*|tailscale.*|kube-ipvs.*|nodelocaldns|dummy.*|ifb.*"
)

# RDMA (InfiniBand/RoCE) ports: direction -> (recording rule in rules/spark-recording.yml, raw byte counter).
RDMA_RATES: dict[str, tuple[str, str]] = {
    "rdma_rx": ("node_port:rdma_receive_bytes:rate1m", "node_infiniband_port_data_received_bytes_total"),
    "rdma_tx": ("node_port:rdma_transmit_bytes:rate1m", "node_infiniband_port_data_transmitted_bytes_total"),
}
# Port gauges read as they are: field tag -> node_infiniband_* family.
RDMA_GAUGES: dict[str, str] = {
    "rdma_state": "node_infiniband_state_id",
    "rdma_physical_state": "node_infiniband_physical_state_id",
    "rdma_link_rate": "node_infiniband_rate_bytes_per_second",
}

GPU_JOBS = ("spark-exporter", "dcgm-exporter")  # jobs whose target carries a node's GPU telemetry

# DCGM field -> GpuMetrics attribute, for the per-GPU answer; the one list of GPU fields read.
GPU_VALUE_FIELDS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "utilization",
    "DCGM_FI_DEV_GPU_TEMP": "temperature",
    "DCGM_FI_DEV_MEMORY_TEMP": "memory_temperature",
    "DCGM_FI_DEV_POWER_USAGE": "power_draw",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": "power_limit",
    "DCGM_FI_DEV_FB_USED": "memory_used_mb",
    "DCGM_FI_DEV_FB_FREE": "memory_free_mb",
    "DCGM_FI_DEV_FB_TOTAL": "memory_total_mb",
    "DCGM_FI_DEV_SM_CLOCK": "sm_clock_mhz",
    "DCGM_FI_DEV_MEM_CLOCK": "mem_clock_mhz",
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": "throttle_reasons",  # NVML bitmask, an integer
    "DCGM_FI_DEV_XID_ERRORS": "last_xid",  # the last XID code, an integer
}
GPU_MEMORY_INFO = "spark_exporter_gpu_memory_info"  # info series; its memory_source label is the value
GPU_FIELDS = (*GPU_VALUE_FIELDS, GPU_MEMORY_INFO)

# Spark and vLLM series as the generated prometheus.yml names them (docs/spark.md, docs/vllm.md).
SPARK_ACTIVE_JOBS = "spark_driver_DAGScheduler_job_activeJobs"
SPARK_ACTIVE_TASKS = "spark_executor_activeTasks"
SPARK_JOBS = ("spark", "spark-executors")  # job names of the generated prometheus.yml
VLLM_RUNNING = "vllm:num_requests_running"
VLLM_WAITING = "vllm:num_requests_waiting"
VLLM_TOKENS = "vllm:generation_tokens_total"


@dataclass(frozen=True)
class OverviewFigure:
    """One cluster figure: its recording rule and the raw aggregation that stands in for it."""

    field: str  # ClusterOverview attribute (scaled from bytes to GiB where the name says GB)
    rule: str  # recording rule in rules/, one series per cluster
    source: str  # the raw metric, named in the reason when the figure is missing


OVERVIEW_GPU_FIGURES = (
    OverviewFigure("gpu_utilization", "cluster:gpu_utilization:avg", "DCGM_FI_DEV_GPU_UTIL"),
    OverviewFigure("memory_used_gb", "cluster:memory_used_bytes:sum", "DCGM_FI_DEV_FB_USED"),
    OverviewFigure("memory_total_gb", "cluster:gpu_memory_total_bytes:sum", "DCGM_FI_DEV_FB_TOTAL"),
    OverviewFigure("power_draw_w", "cluster:power_watts:sum", "DCGM_FI_DEV_POWER_USAGE"),
    OverviewFigure("max_gpu_temperature_c", "cluster:gpu_temperature_celsius:max", "DCGM_FI_DEV_GPU_TEMP"),
)
VLLM_TOKENS_FIGURE = OverviewFigure(
    "vllm_generation_tokens_per_sec", "cluster:vllm_generation_tokens:rate1m", VLLM_TOKENS
)
INFERENCE_TOKENS_FIGURE = OverviewFigure(
    "inference_generation_tokens_per_sec", "cluster:inference_generation_tokens:rate1m",
    "vllm:generation_tokens_total, sglang:generation_tokens_total or llamacpp:tokens_predicted_total",
)
OVERVIEW_RULES = (*OVERVIEW_GPU_FIGURES, VLLM_TOKENS_FIGURE, INFERENCE_TOKENS_FIGURE)


@dataclass(frozen=True)
class HistoryMetric:
    """One per-node GPU history: its DCGM source, the unit of its values and how a node's GPUs combine."""

    source: str  # DCGM field
    unit: str  # of the values in the answer
    combine: str  # PromQL aggregation over the node's GPUs (one value per GPU first: max by UUID)


# metric (the path segment of /api/v1/nodes/{node}/gpu/{metric}) -> how it is read
HISTORY_METRICS: dict[str, HistoryMetric] = {
    "utilization": HistoryMetric("DCGM_FI_DEV_GPU_UTIL", "%", "avg"),
    "temperature": HistoryMetric("DCGM_FI_DEV_GPU_TEMP", "C", "max"),
    "power": HistoryMetric("DCGM_FI_DEV_POWER_USAGE", "W", "sum"),
    "memory": HistoryMetric("DCGM_FI_DEV_FB_USED", "MiB", "sum"),
}


@dataclass(frozen=True)
class OverviewCount:
    """A cluster figure read from its rule where loaded, else summed from the raw series (same query)."""

    field: str  # ClusterOverview attribute
    rule: str  # recording rule in rules/, one series per cluster
    source: str  # the raw gauge, a few series per node: read as it is and summed in mapping


OVERVIEW_COUNTS = (
    OverviewCount("active_jobs", "cluster:spark_active_jobs:sum", SPARK_ACTIVE_JOBS),
    OverviewCount("active_tasks", "cluster:spark_active_tasks:sum", SPARK_ACTIVE_TASKS),
    OverviewCount("vllm_requests_running", "cluster:vllm_requests_running:sum", VLLM_RUNNING),
    OverviewCount("vllm_requests_waiting", "cluster:vllm_requests_waiting:sum", VLLM_WAITING),
)
# Raw series the small-fleet overview (Queries.overview_samples) reads as they are and aggregates itself:
# a handful per node, and the per-GPU DCGM series of OVERVIEW_GPU_FIGURES.
OVERVIEW_RAW = ("up", "ALERTS", *(c.source for c in OVERVIEW_COUNTS), *(f.source for f in OVERVIEW_GPU_FIGURES))
UP_TIMESTAMP = "up_timestamp"  # field tag of timestamp(up) in the small-fleet overview query
# Above this many nodes the overview lets Prometheus aggregate (Queries.overview): its answer then stays the
# same size as the fleet grows; below, reading the few samples by name costs Prometheus and the API less
# (bench/fleet.py, bench/bench_api.py in docs/benchmarks.md).
OVERVIEW_AGGREGATE_ABOVE = 32
# Tags of the overview's aggregated parts (promql.FIELD_LABEL values; the figures' own tags are their field names).
FIRING_ALERTS = "firing_alerts"  # count of firing ALERTS series
TARGETS_LATE = "targets_late"  # timestamp(up) of the targets silent for longer than stale_after
TARGETS_DOWN = "targets_down"  # timestamp(up) of the targets whose up is 0
NODES_SEEN = "nodes_seen"  # count of node label values on up
NODES_UP = "nodes_up"  # count of nodes whose GPU-telemetry target (else any target) is up and fresh


# Spark Engine page: model attribute -> recording rule (rules/spark-workloads-recording.yml).
SPARK_APPLICATION_RULES: dict[str, str] = {
    "active_jobs": "application:spark_active_jobs:sum",
    "executors": "application:spark_executors:count",
    "cores": "application:spark_cores:sum",
    "active_tasks": "application:spark_active_tasks:sum",
    "failed_tasks_5m": "application:spark_failed_tasks:increase5m",
    "memory_used_bytes": "application:spark_memory_used_bytes:sum",
    "memory_max_bytes": "application:spark_memory_max_bytes:sum",
    "shuffle_read_bytes_per_sec": "application:spark_shuffle_read_bytes:rate1m",
    "shuffle_write_bytes_per_sec": "application:spark_shuffle_write_bytes:rate1m",
    "gc_time_ratio": "application:spark_gc_time:ratio_rate1m",
}
SPARK_CLUSTER_RULES: dict[str, str] = {
    "applications": "cluster:spark_applications:count",
    "active_jobs": "cluster:spark_active_jobs:sum",
    "executors": "cluster:spark_executors:count",
    "cores": "cluster:spark_cores:sum",
    "active_tasks": "cluster:spark_active_tasks:sum",
    "failed_tasks_5m": "cluster:spark_failed_tasks:increase5m",
    "memory_used_bytes": "cluster:spark_memory_used_bytes:sum",
    "memory_max_bytes": "cluster:spark_memory_max_bytes:sum",
    "shuffle_read_bytes_per_sec": "cluster:spark_shuffle_read_bytes:rate1m",
    "shuffle_write_bytes_per_sec": "cluster:spark_shuffle_write_bytes:rate1m",
    "gc_time_ratio": "cluster:spark_gc_time:ratio_rate1m",
}
# Inference page: model attribute -> recording rule (rules/spark-workloads-recording.yml, spark-recording.yml).
VLLM_MODEL_RULES: dict[str, str] = {
    "requests_running": "node_model:vllm_requests_running:sum",
    "requests_waiting": "node_model:vllm_requests_waiting:sum",
    "generation_tokens_per_sec": "node_model:vllm_generation_tokens:rate1m",
    "prompt_tokens_per_sec": "node_model:vllm_prompt_tokens:rate1m",
    "time_to_first_token_p50_seconds": "node_model:vllm_time_to_first_token_seconds:p50_rate1m",
    "time_to_first_token_p95_seconds": "node_model:vllm_time_to_first_token_seconds:p95_rate1m",
    "inter_token_latency_p50_seconds": "node_model:vllm_inter_token_latency_seconds:p50_rate1m",
    "inter_token_latency_p95_seconds": "node_model:vllm_inter_token_latency_seconds:p95_rate1m",
    "e2e_request_latency_p95_seconds": "node_model:vllm_e2e_request_latency_seconds:p95_rate1m",
    "kv_cache_usage": "node_model:vllm_kv_cache_usage:ratio_max",
    "preemptions_per_sec": "node_model:vllm_preemptions:rate1m",
}
SGLANG_MODEL_RULES: dict[str, str] = {
    "requests_running": "node_model:sglang_requests_running:sum",
    "requests_waiting": "node_model:sglang_requests_waiting:sum",
    "generation_tokens_per_sec": "node_model:sglang_generation_tokens:rate1m",
    "prompt_tokens_per_sec": "node_model:sglang_prompt_tokens:rate1m",
    "time_to_first_token_p50_seconds": "node_model:sglang_time_to_first_token_seconds:p50_rate1m",
    "time_to_first_token_p95_seconds": "node_model:sglang_time_to_first_token_seconds:p95_rate1m",
    "inter_token_latency_p50_seconds": "node_model:sglang_inter_token_latency_seconds:p50_rate1m",
    "inter_token_latency_p95_seconds": "node_model:sglang_inter_token_latency_seconds:p95_rate1m",
    "e2e_request_latency_p95_seconds": "node_model:sglang_e2e_request_latency_seconds:p95_rate1m",
    "kv_cache_usage": "node_model:sglang_kv_cache_usage:ratio_max",
}
# llama.cpp's server labels nothing with a model: one row per node.
LLAMACPP_NODE_RULES: dict[str, str] = {
    "requests_running": "node:llamacpp_requests_running:sum",
    "requests_waiting": "node:llamacpp_requests_waiting:sum",
    "generation_tokens_per_sec": "node:llamacpp_generation_tokens:rate1m",
    "prompt_tokens_per_sec": "node:llamacpp_prompt_tokens:rate1m",
}
# engine (the inventory key and job name) -> ModelInference attribute -> recording rule.
INFERENCE_ENGINES = ("vllm", "sglang", "llamacpp")
ENGINE_RULES: dict[str, dict[str, str]] = {
    "vllm": VLLM_MODEL_RULES, "sglang": SGLANG_MODEL_RULES, "llamacpp": LLAMACPP_NODE_RULES,
}
# Why a figure is null for every row of an engine: the server does not export it.
ENGINE_LACKS: dict[str, str] = {
    "sglang": "SGLang exports no preemption counter",
    "llamacpp": "llama.cpp's server exports no model name, latency histograms, KV-cache usage or preemptions",
}
VLLM_CLUSTER_RULES: dict[str, str] = {
    "requests_running": "cluster:vllm_requests_running:sum",
    "requests_waiting": "cluster:vllm_requests_waiting:sum",
    "generation_tokens_per_sec": "cluster:vllm_generation_tokens:rate1m",
    "prompt_tokens_per_sec": "cluster:vllm_prompt_tokens:rate1m",
}


class Queries:
    """PromQL for one cluster scope (``cluster`` label from the inventory, or none)."""

    def __init__(self, cluster: str | None) -> None:
        self.cluster = cluster
        # built once per (stale_after, nodes): quoting costs more than the rest of a request
        self._overview: dict[tuple[float, tuple[str, ...] | None], str] = {}
        self._overview_samples: str | None = None

    def scope(self, node: str | None = None, **extra: str) -> tuple[Matcher, ...]:
        """Matchers for cluster (when set), then ``node`` (when given), then ``extra`` label=value pairs."""
        ms = [Matcher("cluster", self.cluster)] if self.cluster else []
        if node is not None:
            ms.append(Matcher("node", node))
        ms.extend(Matcher(k, v) for k, v in extra.items())
        return tuple(ms)

    def sel(self, metric: str, node: str | None = None, *more: Matcher) -> str:
        """A PromQL selector for ``metric`` in scope (cluster, ``node``) plus ``more`` matchers, values escaped."""
        return selector(metric, self.scope(node) + more)

    def dedup(self, metric: str, node: str | None = None, *by: str) -> str:
        """One value per GPU (by UUID), so a GPU exported by two jobs counts once."""
        return f"max {promql.by(*by, 'node', 'UUID')} ({self.sel(metric, node)})"

    def known_nodes(self) -> str:
        """PromQL: one series per ``node`` label value of the ``up`` series in scope."""
        return f"group {promql.by('node')} ({self.sel('up')})"

    def targets(self, node: str | None = None) -> dict[str, str]:
        """Bundle parts ``up`` (the up series) and ``up_age`` (seconds since their last sample)."""
        up = self.sel("up", node)
        return {"up": up, "up_age": f"time() - timestamp({up})"}

    # -- cluster overview ---------------------------------------------------------------------

    def overview(self, stale_after: float = 30.0, nodes: tuple[str, ...] | None = None) -> str:
        """The large-fleet overview: one query whose answer does not grow with the fleet, every part evaluated
        at its one instant.

        Prometheus aggregates: the GPU figures from the raw per-GPU DCGM series (as the node answers do, so
        the cards equal the nodes' aggregate at that instant; not the ``cluster:*`` rules, which lag), the
        token rates, the raw Spark/vLLM counts (``sum``, beside their ``cluster:*`` rules read by name), the
        firing alerts (``count``), and the nodes: ``nodes_seen`` (node label values on ``up``) and
        ``nodes_up`` (nodes with a GPU-telemetry target, else any target, that is up and scraped within
        ``stale_after`` s; only the inventory's ``nodes`` when given). Target by target it returns only the
        problem ones, as their ``timestamp(up)``: TARGETS_DOWN (up is 0) and TARGETS_LATE (silent for more
        than ``stale_after`` s). Built once per argument pair; ``nodes`` enter as an escaped literal regex,
        ``stale_after`` as a number literal.
        """
        key = (stale_after, nodes)
        if key not in self._overview:
            self._overview[key] = self._build_overview(stale_after, nodes)
        return self._overview[key]

    def overview_samples(self) -> str:
        """The small-fleet overview, one cheap query: the cluster count rules and the raw series read as they
        are, by name (the per-GPU DCGM series of the GPU figures among them), ``timestamp(up)`` for target
        ages (tag UP_TIMESTAMP), alerts whose rule aggregated the cluster label away, and the vLLM and
        all-engines token rates (tagged with their field names). The samples are summed, counted and compared
        in :mod:`.mapping` at the query's instant, so the GPU figures agree with the node answers for it. Its
        answer grows with the fleet (about 8 samples per node): Queries.overview above
        OVERVIEW_AGGREGATE_ABOVE nodes.
        """
        if self._overview_samples is None:
            names = [c.rule for c in OVERVIEW_COUNTS] if self.cluster else []
            names += OVERVIEW_RAW
            # Constant names and one constant regex: nothing here comes from a caller.
            everything = selector(None, (Matcher("__name__", "|".join(names), "=~"), *self.scope()))
            stamps = promql.tag(UP_TIMESTAMP, f"timestamp({self.sel('up')})")
            expr = f"{everything} or {stamps}"
            if self.cluster:  # alerts whose expression aggregated the cluster label away still count
                expr += " or " + selector("ALERTS", (Matcher("alertstate", "firing"), Matcher("cluster", "")))
            # The token rates need rate(): the one aggregation Prometheus runs here.
            tokens = self.overview_raw((VLLM_TOKENS_FIGURE, INFERENCE_TOKENS_FIGURE))
            self._overview_samples = f"{expr} or {tokens}"
        return self._overview_samples

    def _build_overview(self, stale_after: float, nodes: tuple[str, ...] | None) -> str:
        parts = {
            **self._overview_figures(),
            **{c.source: f"sum({self.sel(c.source)})" for c in OVERVIEW_COUNTS},
            FIRING_ALERTS: f"count({self._firing_alerts()})",
            **self._overview_targets(promql.number(stale_after), nodes),
        }
        expr = promql.bundle(parts)
        if self.cluster:  # the cluster rules of the counts, one series each, read by name
            expr = f"{self.rules(*(c.rule for c in OVERVIEW_COUNTS))} or {expr}"
        return expr

    def _firing_alerts(self) -> str:
        firing = Matcher("alertstate", "firing")
        alerts = self.sel("ALERTS", None, firing)
        if self.cluster:  # alerts whose expression aggregated the cluster label away still count
            alerts += " or " + selector("ALERTS", (firing, Matcher("cluster", "")))
        return alerts

    def _overview_targets(self, stale: str, nodes: tuple[str, ...] | None) -> dict[str, str]:
        # Each selector costs Prometheus a pass over every target's up series, so as few as serve.
        up = self.sel("up")
        gpu_up = self.sel("up", None, Matcher("job", "|".join(GPU_JOBS), "=~"))

        def healthy(sel: str) -> str:
            return f"group by (node) (({sel} == 1) and timestamp({sel}) >= time() - {stale})"

        # A node is up when one of its GPU-telemetry targets is; a node without one, when any target is.
        up_nodes = f"{healthy(gpu_up)} or ({healthy(up)} unless on (node) group by (node) ({gpu_up}))"
        named = self.sel("up", None, Matcher("node", "", "!="))
        if nodes:  # only the inventory's nodes count (one regex selector: each costs a pass over the targets)
            inventory = self.sel("up", None, Matcher("node", promql.literal_alternation(nodes), "=~"))
            up_nodes = f"({up_nodes}) and on (node) group by (node) ({inventory})"
        return {
            TARGETS_LATE: f"timestamp({up}) < time() - {stale}",
            TARGETS_DOWN: f"timestamp({up}) and {up} == 0",
            NODES_SEEN: f"count(group by (node) ({named}))",
            NODES_UP: f"count({up_nodes})",
        }

    def _overview_figures(self) -> dict[str, str]:
        """OverviewFigure.field -> its aggregation of the raw series in scope (GPUs de-duplicated by UUID)."""
        return {
            "gpu_utilization": f"avg({self.sel('DCGM_FI_DEV_GPU_UTIL')})",
            "memory_used_gb": f"sum({self.dedup('DCGM_FI_DEV_FB_USED')}) * {MIB}",
            "memory_total_gb": f"sum({self.dedup('DCGM_FI_DEV_FB_TOTAL')}) * {MIB}",
            "power_draw_w": f"sum({self.dedup('DCGM_FI_DEV_POWER_USAGE')})",
            "max_gpu_temperature_c": f"max({self.sel('DCGM_FI_DEV_GPU_TEMP')})",
            "vllm_generation_tokens_per_sec": f"sum(rate({self.sel(VLLM_TOKENS)}[1m]))",
            "inference_generation_tokens_per_sec": (
                f"sum(rate({self.sel(VLLM_TOKENS)}[1m]) or rate({self.sel('sglang:generation_tokens_total')}[1m])"
                f" or rate({self.sel('llamacpp:tokens_predicted_total')}[1m]))"
            ),
        }

    def overview_raw(self, figures: tuple[OverviewFigure, ...]) -> str:
        """The raw aggregations of ``figures``, bundled (each tagged with its field name)."""
        raw = self._overview_figures()
        return promql.bundle({f.field: raw[f.field] for f in figures})

    # -- workloads ----------------------------------------------------------------------------

    def rules(self, *names: str) -> str:
        """The recorded series of ``names`` (constants above) in scope, read as they are: one selector."""
        return selector(None, (Matcher("__name__", "|".join(names), "=~"), *self.scope()))

    def jobs_up(self, *jobs: str) -> str:
        """The ``up`` series of ``jobs`` (constant job names) in scope."""
        return self.sel("up", None, Matcher("job", "|".join(jobs), "=~"))

    def spark(self) -> str:
        """The Spark application and cluster recording rules in scope, and the up series of the Spark jobs
        (to say why a node with a Spark target has no application)."""
        rules = self.rules(*SPARK_APPLICATION_RULES.values(), *SPARK_CLUSTER_RULES.values())
        return f"{rules} or {self.jobs_up(*SPARK_JOBS)}"

    def inference(self) -> str:
        """Every engine's row rules and the vLLM cluster rules in scope, and the up series of the inference
        jobs (to say why a node with an inference target has no row)."""
        names = [rule for rules in ENGINE_RULES.values() for rule in rules.values()]
        return f"{self.rules(*names, *VLLM_CLUSTER_RULES.values())} or {self.jobs_up(*INFERENCE_ENGINES)}"

    # -- nodes --------------------------------------------------------------------------------

    def node_parts(self, node: str | None = None) -> dict[str, str]:
        """Bundle parts of per-node GPU and CPU figures (utilization, temperature, power in W, memory in MiB,
        GPU count ...). The GPU figures aggregate the raw DCGM series at the query's instant, so they equal the
        node's own answer (:meth:`node_gpus`) and the overview at that instant (a ``node:*`` rule lags its
        sources by up to an evaluation interval); CPU prefers its recording rule, else the raw rate.
        """
        n = node
        cpu_rule = f"max by (node) ({self.sel('node:cpu_utilization:ratio', n)})"
        # iowait counts as idle, as in the node:cpu_utilization:ratio rule
        idle = self.sel("node_cpu_seconds_total", n, Matcher("mode", "idle|iowait", "=~"))
        gpus = f"{self.sel('DCGM_FI_DEV_GPU_UTIL', n)} or {self.sel('DCGM_FI_DEV_GPU_TEMP', n)}"
        return {
            "utilization": f"avg by (node) ({self.sel('DCGM_FI_DEV_GPU_UTIL', n)})",
            "temperature": f"max by (node) ({self.sel('DCGM_FI_DEV_GPU_TEMP', n)})",
            "power_draw": f"sum by (node) ({self.dedup('DCGM_FI_DEV_POWER_USAGE', n)})",
            "memory_used_mb": f"sum by (node) ({self.dedup('DCGM_FI_DEV_FB_USED', n)})",
            "gpu_count": f"count by (node) (max by (node, UUID) ({gpus}))",
            "cpu_utilization": f"{cpu_rule} or (1 - avg by (node) (sum without (mode) (rate({idle}[1m]))))",
            **self.targets(n),
        }

    def node_gpus(self, node: str) -> str:
        """One bundled query: every GPU_FIELDS series of ``node`` plus its targets' up and up_age."""
        gpu_sel = selector(None, (Matcher("__name__", "|".join(GPU_FIELDS), "=~"), *self.scope(node)))
        return promql.bundle({"gpu": gpu_sel, **self.targets(node)})

    # -- history and network ------------------------------------------------------------------

    def utilization_history(self, node: str, step: int) -> str:
        """PromQL for the node's GPU utilization (%) averaged over max(step, 60) seconds; the recording
        rule where it has a series (with a cluster set), else the raw DCGM_FI_DEV_GPU_UTIL average.
        """
        window = promql.seconds_to_duration(max(step, 60))  # smooth over at least 1m of scrapes
        rule = f"avg_over_time({self.sel('node:gpu_utilization:avg', node)}[{window}])"
        raw = f"avg by (node) (avg_over_time({self.sel('DCGM_FI_DEV_GPU_UTIL', node)}[{window}]))"
        return f"max by (node) ({rule}) or {raw}" if self.cluster else raw

    def history(self, metric: str, node: str, step: int) -> str:
        """PromQL for one HISTORY_METRICS figure of ``node`` averaged over max(step, 60) seconds; utilisation
        keeps its recording rule (see utilization_history), the others read the raw DCGM series, one value
        per GPU (by UUID) combined over the node's GPUs."""
        if metric == "utilization":
            return self.utilization_history(node, step)
        spec = HISTORY_METRICS[metric]
        window = promql.seconds_to_duration(max(step, 60))
        per_gpu = f"max {promql.by('node', 'UUID')} (avg_over_time({self.sel(spec.source, node)}[{window}]))"
        return f"{spec.combine} {promql.by('node')} ({per_gpu})"

    def network(self, node: str | None) -> str:
        """One bundled query: rx/tx bytes per second and link state per (node, device), virtual interfaces
        excluded, plus the RDMA parts; ``node`` None means every node.
        """
        phys = Matcher("device", VIRTUAL_INTERFACES, "!~")
        parts: dict[str, str] = {}
        for key, direction in (("rx", "receive"), ("tx", "transmit")):
            raw = f"rate({self.sel(f'node_network_{direction}_bytes_total', node, phys)}[1m])"
            expr = f"max by (node, device) ({raw})"
            if self.cluster:
                rule = self.sel(f"node_device:network_{direction}_bytes:rate1m", node, phys)
                expr = f"max by (node, device) ({rule}) or {expr}"
            parts[key] = expr
        parts["link"] = f"max by (node, device) ({self.sel('node_network_up', node, phys)})"
        parts.update(self.rdma(node))
        return promql.bundle(parts)

    def rdma(self, node: str | None) -> dict[str, str]:
        """RDMA port parts of the network bundle, one value per (node, device, port): the rate rules where
        they have a series, else ``rate()`` of the byte counters; the state and link-rate gauges.

        ``max`` folds a port exported by both spark-exporter and node_exporter into one, as the rules do.
        """
        per_port = promql.by("node", "device", "port")
        parts: dict[str, str] = {}
        for key, (rule, counter) in RDMA_RATES.items():
            expr = f"max {per_port} (rate({self.sel(counter, node)}[1m]))"
            if self.cluster:  # the rules keep the cluster label: they apply only in a cluster scope
                expr = f"max {per_port} ({self.sel(rule, node)}) or {expr}"
            parts[key] = expr
        for key, family in RDMA_GAUGES.items():
            parts[key] = f"max {per_port} ({self.sel(family, node)})"
        return parts
