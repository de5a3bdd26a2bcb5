"""The JSON API's response models: one pydantic model per answer, the single source of its OpenAPI schema.

Attributes are snake_case; the JSON names are camelCase aliases (the Command Center spec's names kept,
including the unit suffixes ``GB``, ``MB``, ``MHz``, ``W`` and ``C``). Every figure is a reading or
``None`` with a reason under ``missing``: no data never reads 0. Units are in each field's description.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Self

import annotated_types
from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)
from pydantic.alias_generators import to_camel

#: Physical ranges stated in the OpenAPI document (minimum/maximum) and enforced on every answer by
#: ApiModel.enforce_ranges: a value outside its range cannot be true and is left out with a reason.
#: Utilisation is 0..100 %; temperatures -40..150 degrees C (below or above any chip that still reports);
#: timestamps 0..MAX_TIMESTAMP_MS.
MIN_TEMPERATURE_C = -40
MAX_TEMPERATURE_C = 150
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
#: The largest integer every JSON parser reads exactly (IEEE 754 doubles, RFC 8259 section 6): a larger
#: integer (int(1e308) has 309 digits) cannot be a count, an id or a bitmask read from a sample.
MAX_SAFE_INTEGER = 2**53 - 1


class ApiModel(BaseModel):
    """Base of every response model: built by attribute name, written with camelCase JSON names."""

    # extra="forbid" makes the schema say additionalProperties: false, so a field missing from a model
    # cannot reach a response unnoticed (the OpenAPI test validates live answers against it); every
    # field is always written, so the serialization schema lists all of them as required.
    model_config = ConfigDict(
        alias_generator=AliasGenerator(serialization_alias=to_camel),
        extra="forbid",
        json_schema_serialization_defaults_required=True,
    )

    # Reasons found while building (a field given an impossible value is built as null), moved to the
    # answer's ``missing`` by enforce_ranges; _drop: a required number was impossible.
    _pending: dict[str, str] = PrivateAttr(default_factory=dict)
    _drop: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _impossible_becomes_null(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Build with every impossible number (see enforce_ranges) as null instead of failing validation."""
        if not isinstance(data, dict):
            return handler(data)
        pending: dict[str, str] = {}
        drop = False
        clean = dict(data)
        for name, info in cls.model_fields.items():
            value = clean.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            why = _reason(value, info)
            if why is None:
                continue
            pending[info.serialization_alias or name] = why
            if _nullable(info):
                clean[name] = None
            else:  # a valid stand-in; the item is left out of its answer (enforce_ranges)
                drop = True
                clean[name] = next((c.ge for c in info.metadata if isinstance(c, annotated_types.Ge)), 0)
        model = handler(clean)
        model._pending, model._drop = pending, drop
        return model

    def enforce_ranges(self) -> None:
        """Replace every number that JSON cannot carry (NaN, +-Infinity, e.g. from 1e308 + 1e308) or that lies
        outside its field's stated range with null, and say why under the nearest ``missing`` (this
        model's, else the enclosing one's, keyed by the JSON path). A list item whose required number is
        out of range (a history point past the year 9999) is left out of its list, with a reason.

        Called on every answer before it is written (Result.to_json), so no figure leaves the API
        unchecked however it was computed. Idempotent; changes the model in place.
        """
        _enforce(self, None, "")


def _reason(number: float, info: Any) -> str | None:
    """Why ``number`` cannot be served in the field ``info``; None when it can."""
    if isinstance(number, int) and abs(number) > MAX_SAFE_INTEGER:
        return f"an integer of {len(str(abs(number)))} digits, more than JSON parsers read exactly"
    value = float(number)
    if not math.isfinite(value):
        return f"not a finite number ({value}), e.g. upstream values too large to add up"
    for c in info.metadata:
        if isinstance(c, annotated_types.Ge) and not value >= c.ge:  # type: ignore[operator]
            return f"{value:g} is below the physical minimum {c.ge}"
        if isinstance(c, annotated_types.Le) and not value <= c.le:  # type: ignore[operator]
            return f"{value:g} is above the physical maximum {c.le}"
    return None


def _enforce(model: ApiModel, sink: dict[str, str] | None, prefix: str) -> bool:
    """See ApiModel.enforce_ranges; False when a required number is out of range (drop the model)."""
    own = getattr(model, "missing", None)
    if isinstance(own, dict):
        sink, prefix = own, ""
    keep = not model._drop
    if sink is not None:
        sink.update({prefix + k: v for k, v in model._pending.items()})
    model._pending = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = prefix + (info.serialization_alias or name)
        if isinstance(value, ApiModel):
            _enforce(value, sink, key + ".")
        elif isinstance(value, list):
            kept = []
            for i, item in enumerate(value):
                if not isinstance(item, ApiModel) or _enforce(item, sink, f"{key}[{i}]."):
                    kept.append(item)
                elif sink is not None:
                    sink[f"{key}[{i}]"] = "left out: a required figure is impossible (see the other reasons)"
            if len(kept) != len(value):
                setattr(model, name, kept)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            why = _reason(value, info)
            if why is None:
                continue
            if sink is not None:
                sink[key] = why
            if info.is_required() and not _nullable(info):
                keep = False
            else:
                setattr(model, name, None)
    return keep


def _nullable(info: Any) -> bool:
    return type(None) in getattr(info.annotation, "__args__", ())


def _num(description: str, alias: str | None = None, **bounds: Any) -> Any:
    return Field(default=None, description=description, serialization_alias=alias, **bounds)


class Stale(ApiModel):
    """Present when Prometheus failed and the last good answer is served instead (header X-Cache: stale)."""

    since: int = Field(description="When the served figures were read, ms since epoch.", ge=0, le=MAX_TIMESTAMP_MS)
    reason: str = Field(description="Why Prometheus could not answer now.")


class Result(ApiModel):
    """Common to every rollup: why a figure is missing, and what the query engine warned about."""

    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why it is missing.")
    warnings: list[str] = Field(default_factory=list, description="Warnings and infos from the query engine.")
    partial: bool = Field(default=False, description="The engine answered from part of its data.")
    timestamp: int = Field(default=0, description="When the figures were read, ms since epoch.",
                           ge=0, le=MAX_TIMESTAMP_MS)
    evaluated_at: float | None = Field(
        default=None,
        description="The instant Prometheus evaluated the figures at, s since epoch (ms resolution): the "
        "request's ``time`` parameter, else the API's clock when it asked. Answers with the same evaluatedAt "
        "show one snapshot. Null on answers that are not instant queries.",
        ge=0, le=MAX_TIMESTAMP_MS / 1000,
    )
    served_stale: Stale | None = Field(
        default=None,
        serialization_alias="stale",
        description="Present only on an earlier answer served because Prometheus failed (X-Cache: stale).",
    )

    def marked_stale(self, reason: str) -> Self:
        """A copy of this answer marked as served after Prometheus failed with ``reason``."""
        return self.model_copy(update={"served_stale": Stale(since=self.timestamp, reason=reason)})

    def to_json(self) -> dict[str, Any]:
        """The API's JSON object (camelCase names); ``stale`` appears only on a stale answer. Every number
        is finite and within its stated range first (enforce_ranges)."""
        self.enforce_ranges()
        exclude = {"served_stale"} if self.served_stale is None else None
        return self.model_dump(by_alias=True, mode="json", exclude=exclude)


class TargetState(ApiModel):
    """One scrape target from Prometheus' ``up`` series."""

    job: str
    instance: str
    node: str | None = Field(description="The target's node label; null when it has none.")
    up: bool = Field(description="up == 1 at the last scrape.")
    stale: bool = Field(description="The last scrape is older than two scrape intervals.")
    last_scrape_age_seconds: float | None = Field(description="s since the last scrape (timestamp(up)).", ge=0)


class ClusterOverview(Result):
    """``/api/v1/cluster/overview``: the cluster's GPU, Spark, vLLM, alert and target figures."""

    cluster: str | None = _num("The inventory's cluster name; null without an inventory.")
    gpu_utilization: float | None = _num("Average GPU utilisation over all GPUs, % (DCGM_FI_DEV_GPU_UTIL).",
                                         ge=0, le=100)
    memory_used_gb: float | None = _num(
        "GPU memory used, GiB (unified-aware; DCGM_FI_DEV_FB_USED).", "memoryUsedGB", ge=0)
    memory_total_gb: float | None = _num("GPU memory total, GiB (DCGM_FI_DEV_FB_TOTAL).", "memoryTotalGB", ge=0)
    power_draw_w: float | None = _num("Power of all GPUs, W (DCGM_FI_DEV_POWER_USAGE).", "powerDrawW", ge=0)
    active_jobs: int | None = _num(
        "Spark jobs running: cluster:spark_active_jobs:sum, else the sum of spark_driver_DAGScheduler_job_activeJobs."
    , ge=0)
    active_tasks: int | None = _num(
        "Spark tasks running: cluster:spark_active_tasks:sum, else the sum of spark_executor_activeTasks."
    , ge=0)
    max_gpu_temperature_c: float | None = _num("Hottest GPU, degrees C (DCGM_FI_DEV_GPU_TEMP).", "maxGpuTemperatureC",
                                               ge=MIN_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    nodes_up: int | None = _num("Nodes whose GPU telemetry target is up and not stale.", ge=0)
    nodes_total: int | None = _num("Nodes in the inventory (or with a node label on up).", ge=0)
    vllm_requests_running: float | None = _num(
        "vLLM requests running: cluster:vllm_requests_running:sum, else the sum of vllm:num_requests_running."
    , ge=0)
    vllm_requests_waiting: float | None = _num(
        "vLLM requests waiting: cluster:vllm_requests_waiting:sum, else the sum of vllm:num_requests_waiting."
    , ge=0)
    vllm_generation_tokens_per_sec: float | None = _num(
        "vLLM generated tokens/s over 1m: cluster:vllm_generation_tokens:rate1m, else from "
        "vllm:generation_tokens_total."
    , ge=0)
    inference_generation_tokens_per_sec: float | None = _num(
        "Generated tokens/s over 1m of every inference engine (vLLM, SGLang, llama.cpp): "
        "cluster:inference_generation_tokens:rate1m, else from vllm:generation_tokens_total, "
        "sglang:generation_tokens_total and llamacpp:tokens_predicted_total."
    , ge=0)
    firing_alerts: int | None = _num('Alerts firing (ALERTS{alertstate="firing"}); 0 when none.', ge=0)
    down_targets: list[TargetState] = Field(default_factory=list, description="Targets with up == 0.")
    stale_targets: list[TargetState] = Field(default_factory=list, description="Targets not scraped lately.")


class GpuMetrics(ApiModel):
    """One GPU of a node, keyed by UUID (else the gpu index label)."""

    gpu: str = Field(description="The gpu label (NVML index).")
    uuid: str | None = Field(description="The UUID label.")
    model_name: str | None = Field(description="The modelName label.")
    utilization: float | None = _num("%, DCGM_FI_DEV_GPU_UTIL.", ge=0, le=100)
    temperature: float | None = _num("Degrees C, DCGM_FI_DEV_GPU_TEMP.", ge=MIN_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    memory_temperature: float | None = _num("Degrees C, DCGM_FI_DEV_MEMORY_TEMP.",
                                            ge=MIN_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    power_draw: float | None = _num("W, DCGM_FI_DEV_POWER_USAGE.", ge=0)
    power_limit: float | None = _num("W, DCGM_FI_DEV_POWER_MGMT_LIMIT.", ge=0)
    memory_used_mb: float | None = _num("MiB, DCGM_FI_DEV_FB_USED.", "memoryUsedMB", ge=0)
    memory_free_mb: float | None = _num("MiB, DCGM_FI_DEV_FB_FREE.", "memoryFreeMB", ge=0)
    memory_total_mb: float | None = _num("MiB, DCGM_FI_DEV_FB_TOTAL.", "memoryTotalMB", ge=0)
    sm_clock_mhz: float | None = _num("MHz, DCGM_FI_DEV_SM_CLOCK.", "smClockMHz", ge=0)
    mem_clock_mhz: float | None = _num("MHz, DCGM_FI_DEV_MEM_CLOCK.", "memClockMHz", ge=0)
    throttle_reasons: int | None = _num(
        "NVML clock throttle reasons bitmask, DCGM_FI_DEV_CLOCK_THROTTLE_REASONS.", ge=0)
    last_xid: int | None = _num("Last XID error code, DCGM_FI_DEV_XID_ERRORS.", ge=0)
    memory_source: str | None = _num('"unified" (GB10, host memory) or "nvml" (spark_exporter_gpu_memory_info).')


class NodeGpuMetrics(Result):
    """``/api/v1/nodes/{node}/gpu``: one node's GPUs and their aggregate."""

    node: str = ""
    up: bool | None = _num("The node's GPU telemetry target is up; null when Prometheus has none.")
    stale: bool | None = _num("Every GPU telemetry target of the node is stale.")
    # "stale" is this answer's node health, so a stale answer is marked under another name here.
    served_stale: Stale | None = Field(
        default=None,
        serialization_alias="staleAnswer",
        description="Present only on an earlier answer served because Prometheus failed (X-Cache: stale).",
    )
    utilization: float | None = _num("Average over the node's GPUs, %.", ge=0, le=100)
    temperature: float | None = _num("Hottest GPU, degrees C.", ge=MIN_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    power_draw: float | None = _num("Sum over the node's GPUs, W.", ge=0)
    memory_used_mb: float | None = _num("Sum over the node's GPUs, MiB.", "memoryUsedMB", ge=0)
    memory_free_mb: float | None = _num("MiB; a unified pool counts once.", "memoryFreeMB", ge=0)
    memory_total_mb: float | None = _num("MiB; a unified pool counts once.", "memoryTotalMB", ge=0)
    memory_source: str | None = _num('"unified" or "nvml" when all GPUs agree, else null.')
    gpus: list[GpuMetrics] = Field(default_factory=list)
    targets: list[TargetState] = Field(default_factory=list)


class NodeSummary(ApiModel):
    """One node of ``/api/v1/nodes``."""

    node: str
    up: bool | None
    stale: bool | None
    gpu_count: int | None = Field(description="GPUs with a DCGM_FI_DEV_GPU_UTIL or _GPU_TEMP series.", ge=0)
    utilization: float | None = Field(description="Average GPU utilisation, %.", ge=0, le=100)
    temperature: float | None = Field(description="Hottest GPU, degrees C.", ge=MIN_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    power_draw: float | None = Field(description="GPU power, W.", ge=0)
    memory_used_mb: float | None = Field(serialization_alias="memoryUsedMB", description="GPU memory used, MiB.", ge=0)
    cpu_utilization: float | None = Field(description="CPU busy ratio over 1m, 0..1 (iowait counts as idle).",
                                          ge=0)
    cpu_utilization_percent: float | None = Field(
        default=None, description="The same CPU busy share in %, 0..100 (cpuUtilization x 100), as every "
        "other utilisation figure of the API.", ge=0,
    )
    in_inventory: bool
    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why.")


class NodeList(Result):
    """``/api/v1/nodes``: every known node with its health and GPU summary."""

    cluster: str | None = None
    nodes: list[NodeSummary] = Field(default_factory=list)


class HistoryPoint(ApiModel):
    """One history point: timestamp in ms since epoch and value in the answer's unit (null where unknown)."""

    timestamp: int = Field(description="ms since epoch.", ge=0, le=MAX_TIMESTAMP_MS)
    # The physical range depends on the answer's metric, so it is checked where the points are built
    # (rollups.HISTORY_RANGES); here only finiteness (enforce_ranges).
    value: float | None = Field(
        description="In the answer's unit (utilization 0..100 %, temperature -40..150 degrees C, power >= 0 W, "
        "memory >= 0 MiB); null where the engine had no value or the value lies outside that range."
    )


class HistorySeries(ApiModel):
    """One history series: its labels and points."""

    metric: dict[str, str] = Field(description="The series' labels.")
    values: list[HistoryPoint]


class UtilizationHistory(Result):
    """``/api/v1/nodes/{node}/gpu/{metric}?envelope=true`` for metric utilization, temperature, power or memory;
    without envelope only ``series`` is sent. (Named for the first of them; every metric has this shape.)"""

    node: str = ""
    metric: str = Field(default="utilization", description="utilization, temperature, power or memory.")
    unit: str = Field(default="%", description='The values\' unit: "%", "C" (degrees), "W" or "MiB".')
    duration: str = ""
    step: int = Field(default=0, description="s between points.", ge=0)
    start: float = Field(default=0.0, description="s since epoch.", ge=0)
    end: float = Field(default=0.0, description="s since epoch.", ge=0)
    series: list[HistorySeries] = Field(default_factory=list)


class InterfaceStats(ApiModel):
    """One interface's rx/tx rates (B/s over 1m) and link state."""

    node: str
    device: str
    rx_bytes_per_sec: float | None = Field(description="B/s received over 1m.", ge=0)
    tx_bytes_per_sec: float | None = Field(description="B/s transmitted over 1m.", ge=0)
    up: bool | None = Field(description="node_network_up; null when not reported.")


class RdmaPortStats(ApiModel):
    """One RDMA (InfiniBand or RoCE) port of a node, from the infiniband collector's ``node_infiniband_*`` series.

    On a DGX Spark these are the ConnectX-7 ports: NCCL traffic between two Sparks moves here, not
    through the Ethernet counters of ``interfaces``.
    """

    node: str
    device: str = Field(description="The RDMA device (device label), e.g. rocep1s0f0.")
    port: str = Field(description="The port number on the device (port label).")
    rx_bytes_per_sec: float | None = Field(
        description="B/s received over 1m: node_port:rdma_receive_bytes:rate1m, else "
        "rate(node_infiniband_port_data_received_bytes_total[1m])."
    , ge=0)
    tx_bytes_per_sec: float | None = Field(
        description="B/s transmitted over 1m: node_port:rdma_transmit_bytes:rate1m, else "
        "rate(node_infiniband_port_data_transmitted_bytes_total[1m])."
    , ge=0)
    state_id: int | None = Field(
        description="Logical port state, node_infiniband_state_id: 1 down, 2 init, 3 armed, 4 active, 5 active defer."
    , ge=0)
    state: str | None = Field(description='The name of state_id ("down", "init", "armed", "active", "active_defer").')
    physical_state_id: int | None = Field(
        description="Physical link state, node_infiniband_physical_state_id (5 = link up, 3 = disabled)."
    , ge=0)
    physical_state: str | None = Field(
        description='The name of physical_state_id ("sleep", "polling", "disabled", "training", "link_up", '
        '"link_error_recovery", "phy_test").'
    )
    link_rate_bytes_per_sec: float | None = Field(
        description="Signalling rate of the link, B/s (node_infiniband_rate_bytes_per_second)."
    , ge=0)
    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why.")


class NodeNetwork(ApiModel):
    """A node's traffic (B/s) summed over physical interfaces and RDMA ports, with reasons for nulls."""

    node: str
    rx_bytes_per_sec: float | None = Field(description="B/s, sum of the node's physical interfaces.", ge=0)
    tx_bytes_per_sec: float | None = Field(description="B/s, sum of the node's physical interfaces.", ge=0)
    rdma_rx_bytes_per_sec: float | None = Field(
        default=None, description="B/s, sum of the node's RDMA ports; null when it has none."
    , ge=0)
    rdma_tx_bytes_per_sec: float | None = Field(
        default=None, description="B/s, sum of the node's RDMA ports; null when it has none."
    , ge=0)
    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why.")


class NetworkStats(Result):
    """``/api/v1/network[?node=]``: throughput of physical interfaces and RDMA ports, per interface or port,
    per node and in total."""

    node: str | None = None
    rx_bytes_per_sec: float | None = _num("B/s, all physical interfaces in scope.", ge=0)
    tx_bytes_per_sec: float | None = _num("B/s, all physical interfaces in scope.", ge=0)
    rdma_rx_bytes_per_sec: float | None = _num("B/s, all RDMA ports in scope; null when there is none.", ge=0)
    rdma_tx_bytes_per_sec: float | None = _num("B/s, all RDMA ports in scope; null when there is none.", ge=0)
    nodes: list[NodeNetwork] = Field(default_factory=list)
    interfaces: list[InterfaceStats] = Field(default_factory=list)
    rdma_ports: list[RdmaPortStats] = Field(
        default_factory=list, description="RDMA ports in scope, by node, device and port; empty when none."
    )


class SparkApplication(ApiModel):
    """One Spark application whose driver or executors endpoint is scraped (``application:spark_*`` rules).

    Rules from the driver's metrics carry ``application_id``; those from the executors endpoint also
    ``application_name``: they are joined on ``application_id``.
    """

    application_id: str = Field(description="Spark's application id (application_id label).")
    application_name: str | None = Field(description="spark.app.name (application_name label of executor series).")
    node: str | None = Field(description="The inventory node whose Spark UI is scraped.")
    active_jobs: int | None = _num("Jobs running, application:spark_active_jobs:sum (DAGScheduler activeJobs).", ge=0)
    executors: int | None = _num(
        "Executors with cores (the driver in local mode), application:spark_executors:count.", ge=0)
    cores: int | None = _num("Cores of those executors, application:spark_cores:sum.", ge=0)
    active_tasks: int | None = _num("Tasks running, application:spark_active_tasks:sum.", ge=0)
    failed_tasks_5m: float | None = _num(
        "Tasks failed in the last 5 min, application:spark_failed_tasks:increase5m.", "failedTasks5m"
    , ge=0)
    memory_used_bytes: float | None = _num("Storage memory used, B, application:spark_memory_used_bytes:sum.", ge=0)
    memory_max_bytes: float | None = _num("Storage memory available, B, application:spark_memory_max_bytes:sum.", ge=0)
    shuffle_read_bytes_per_sec: float | None = _num("B/s over 1m, application:spark_shuffle_read_bytes:rate1m.", ge=0)
    shuffle_write_bytes_per_sec: float | None = _num("B/s over 1m, application:spark_shuffle_write_bytes:rate1m.", ge=0)
    gc_time_ratio: float | None = _num(
        "JVM GC time over task time, 0..1 over 1m, application:spark_gc_time:ratio_rate1m; null while no task ran."
    , ge=0)
    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why.")


class SparkTotals(ApiModel):
    """The cluster's Spark figures, from the ``cluster:spark_*`` rules."""

    applications: int | None = _num("Applications whose driver is scraped, cluster:spark_applications:count.", ge=0)
    active_jobs: int | None = _num("cluster:spark_active_jobs:sum.", ge=0)
    executors: int | None = _num("cluster:spark_executors:count.", ge=0)
    cores: int | None = _num("cluster:spark_cores:sum.", ge=0)
    active_tasks: int | None = _num("cluster:spark_active_tasks:sum.", ge=0)
    failed_tasks_5m: float | None = _num("cluster:spark_failed_tasks:increase5m.", "failedTasks5m", ge=0)
    memory_used_bytes: float | None = _num("B, cluster:spark_memory_used_bytes:sum.", ge=0)
    memory_max_bytes: float | None = _num("B, cluster:spark_memory_max_bytes:sum.", ge=0)
    shuffle_read_bytes_per_sec: float | None = _num("B/s, cluster:spark_shuffle_read_bytes:rate1m.", ge=0)
    shuffle_write_bytes_per_sec: float | None = _num("B/s, cluster:spark_shuffle_write_bytes:rate1m.", ge=0)
    gc_time_ratio: float | None = _num("0..1, cluster:spark_gc_time:ratio_rate1m.", ge=0)


class SparkApplications(Result):
    """``/api/v1/spark``: the Spark Engine page, running applications and the cluster's totals.

    A node whose Spark target has no application is named in ``missing`` under ``applications[NODE]``,
    with the reason (target down, or up while none of Spark's series arrive, or rules not loaded).
    """

    cluster: str | None = None
    totals: SparkTotals = Field(default_factory=SparkTotals)
    applications: list[SparkApplication] = Field(default_factory=list)


InferenceEngine = Literal["vllm", "sglang", "llamacpp"]


class ModelInference(ApiModel):
    """One model served by one inference engine on one node.

    vLLM: ``node_model:vllm_*`` rules (vLLM 0.9 to 0.34 names); SGLang: ``node_model:sglang_*``; llama.cpp:
    ``node:llamacpp_*`` (one row per node, no model name). A figure the engine does not export is null,
    with the reason in ``missing``.
    """

    engine: InferenceEngine = Field(
        description="The inference server: vllm, sglang or llamacpp (the inventory key and job name; not "
        "vLLM's own engine label, which is its engine-core index)."
    )
    node: str = Field(description="The inventory node of the target.")
    model_name: str | None = Field(description="The model_name label; null for llama.cpp, which names none.")
    requests_running: float | None = _num(
        "node_model:vllm_requests_running:sum (vllm:num_requests_running), node_model:sglang_requests_running:sum "
        "(sglang:num_running_reqs), node:llamacpp_requests_running:sum (llamacpp:requests_processing)."
    , ge=0)
    requests_waiting: float | None = _num(
        "node_model:vllm_requests_waiting:sum (vllm:num_requests_waiting), node_model:sglang_requests_waiting:sum "
        "(sglang:num_queue_reqs), node:llamacpp_requests_waiting:sum (llamacpp:requests_deferred)."
    , ge=0)
    generation_tokens_per_sec: float | None = _num(
        "Tokens/s over 1m, node_model:vllm_generation_tokens:rate1m, node_model:sglang_generation_tokens:rate1m, "
        "node:llamacpp_generation_tokens:rate1m."
    , ge=0)
    prompt_tokens_per_sec: float | None = _num(
        "Tokens/s over 1m, node_model:vllm_prompt_tokens:rate1m, node_model:sglang_prompt_tokens:rate1m, "
        "node:llamacpp_prompt_tokens:rate1m."
    , ge=0)
    time_to_first_token_p50_seconds: float | None = _num(
        "s over 1m, node_model:vllm_time_to_first_token_seconds:p50_rate1m (sglang_ for SGLang); null while no "
        "request started."
    , ge=0)
    time_to_first_token_p95_seconds: float | None = _num(
        "s over 1m, node_model:vllm_time_to_first_token_seconds:p95_rate1m."
    , ge=0)
    inter_token_latency_p50_seconds: float | None = _num(
        "s over 1m, node_model:vllm_inter_token_latency_seconds:p50_rate1m (also from "
        "vllm:time_per_output_token_seconds)."
    , ge=0)
    inter_token_latency_p95_seconds: float | None = _num(
        "s over 1m, node_model:vllm_inter_token_latency_seconds:p95_rate1m."
    , ge=0)
    e2e_request_latency_p95_seconds: float | None = _num(
        "s over 1m, node_model:vllm_e2e_request_latency_seconds:p95_rate1m; null while no request finished.",
        "e2eRequestLatencyP95Seconds", ge=0,
    )
    kv_cache_usage: float | None = _num(
        "0..1, fullest engine, node_model:vllm_kv_cache_usage:ratio_max (vllm:kv_cache_usage_perc or "
        "vllm:gpu_cache_usage_perc); SGLang: node_model:sglang_kv_cache_usage:ratio_max (sglang:token_usage)."
    , ge=0)
    preemptions_per_sec: float | None = _num("Over 1m, node_model:vllm_preemptions:rate1m.", ge=0)
    missing: dict[str, str] = Field(default_factory=dict, description="For each null figure, why.")


class InferenceTotals(ApiModel):
    """The cluster's inference figures: the sums of the rows of every engine; without rows, the
    ``cluster:vllm_*`` rules."""

    requests_running: float | None = _num("Sum of the rows, else cluster:vllm_requests_running:sum.", ge=0)
    requests_waiting: float | None = _num("Sum of the rows, else cluster:vllm_requests_waiting:sum.", ge=0)
    generation_tokens_per_sec: float | None = _num(
        "Tokens/s, sum of the rows, else cluster:vllm_generation_tokens:rate1m."
    , ge=0)
    prompt_tokens_per_sec: float | None = _num(
        "Tokens/s, sum of the rows, else cluster:vllm_prompt_tokens:rate1m.", ge=0)
    preemptions_per_sec: float | None = _num("Sum of the vLLM rows' preemptions/s.", ge=0)


class Inference(Result):
    """``/api/v1/inference``: one row per (engine, node, model), and the cluster's totals.

    A node whose inference target has no row is named in ``missing`` under ``models[NODE/ENGINE]``, with
    the reason (target down, or up while none of the engine's series arrive, or rules not loaded).
    """

    cluster: str | None = None
    totals: InferenceTotals = Field(default_factory=InferenceTotals)
    models: list[ModelInference] = Field(default_factory=list)


class Alert(ApiModel):
    """One alert Prometheus' rules hold, firing or pending (``/api/v1/alerts`` of Prometheus)."""

    name: str = Field(description="The alertname label.")
    state: Literal["firing", "pending"] = Field(description="firing, or pending while its for: has not passed.")
    severity: str | None = Field(description="The severity label (critical, warning, info, ...); null without one.")
    node: str | None = Field(description="The node label; null for a cluster-wide alert.")
    gpu: str | None = Field(description="The gpu label (NVML index); null when the alert is not about one GPU.")
    since: float | None = Field(description="When the alert became active (pending), s since epoch.", ge=0)
    summary: str | None = Field(description="The summary annotation, else the description's first line.")
    description: str | None = Field(description="The description annotation.")
    runbook_url: str | None = Field(
        description="The runbook_url annotation (http, https or a relative path)."
    )
    value: float | None = Field(description="The value of the alert expression when it last fired, if numeric.")
    labels: dict[str, str] = Field(description="Every label of the alert.")


class Alerts(Result):
    """``/api/v1/alerts``: firing and pending alerts, most severe first (critical, warning, info, others),
    firing before pending, then oldest first."""

    firing: int = Field(default=0, description="Alerts firing.", ge=0)
    pending: int = Field(default=0, description="Alerts pending.", ge=0)
    truncated: bool = Field(default=False, description="More alerts than the API lists (MAX_ALERTS) were active.")
    alerts: list[Alert] = Field(default_factory=list)


class Error(ApiModel):
    """Every error answer: ``{"status": "error", "errorType": ..., "error": ...}``."""

    status: Literal["error"] = "error"
    error_type: str = Field(
        description="The kind of failure, e.g. bad_parameter, unknown_node, query_failed, "
        "bad_upstream_response, prometheus_unavailable, busy (the memory budget for Prometheus answers is spent; "
        "see Retry-After)."
    )
    error: str = Field(description="One line for a person.")
