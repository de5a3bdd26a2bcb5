"""From Prometheus samples to the response models: grouping, per-GPU rows, sums and reasons.

Nothing here talks to Prometheus; every function takes decoded samples (:mod:`.client`) and fills a
model from :mod:`.models`. A figure without samples stays ``None`` and gets a reason in ``missing``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from typing import cast

from pydantic import BaseModel

from . import promql
from .client import InstantResult, Sample, UpstreamAlert
from .models import (
    Alert,
    ClusterOverview,
    GpuMetrics,
    Inference,
    InferenceEngine,
    InterfaceStats,
    ModelInference,
    NetworkStats,
    NodeGpuMetrics,
    NodeNetwork,
    RdmaPortStats,
    SparkApplication,
    SparkApplications,
    TargetState,
)
from .queries import (
    ENGINE_LACKS,
    ENGINE_RULES,
    FIRING_ALERTS,
    GPU_JOBS,
    GPU_MEMORY_INFO,
    GPU_VALUE_FIELDS,
    INFERENCE_TOKENS_FIGURE,
    NODES_SEEN,
    NODES_UP,
    OVERVIEW_COUNTS,
    OVERVIEW_GPU_FIGURES,
    RDMA_GAUGES,
    RDMA_RATES,
    SPARK_APPLICATION_RULES,
    SPARK_CLUSTER_RULES,
    TARGETS_DOWN,
    TARGETS_LATE,
    VLLM_CLUSTER_RULES,
    VLLM_TOKENS_FIGURE,
    OverviewFigure,
)

GIB = 1024**3  # bytes; the spec's memoryUsedGB divides by 1024**3
_INTEGER_GPU_FIELDS = ("throttle_reasons", "last_xid")
NODE_GPU_FIGURES = ("utilization", "temperature", "power_draw", "memory_used_mb", "memory_free_mb", "memory_total_mb")


def split(res: InstantResult) -> dict[str, list[Sample]]:
    """A bundled query's samples, grouped by their field tag (the tag itself removed)."""
    out: dict[str, list[Sample]] = {}
    for s in res.samples:
        labels = dict(s.labels)
        name = labels.pop(promql.FIELD_LABEL, "")
        out.setdefault(name, []).append(Sample(labels, s.timestamp, s.value))
    return out


def by_name(res: InstantResult) -> dict[str, list[Sample]]:
    """Samples grouped by metric name, or by field tag where the query tagged them."""
    out: dict[str, list[Sample]] = {}
    for s in res.samples:
        key = s.labels.get(promql.FIELD_LABEL) or s.labels.get("__name__", "")
        out.setdefault(key, []).append(s)
    return out


def one(samples: list[Sample] | None) -> float | None:
    """The first sample's value, or None for no samples."""
    return samples[0].value if samples else None


def by_node(samples: list[Sample] | None) -> dict[str, float | None]:
    """Sample values keyed by their ``node`` label (``""`` when missing)."""
    return {s.labels.get("node", ""): s.value for s in samples or []}


def count(value: float) -> float:
    """``value`` as an int where it is finite; a sum that overflowed (1e308 + 1e308) stays a float, for
    ApiModel.enforce_ranges to serve as null with its reason (``int(inf)`` would raise OverflowError)."""
    return int(value) if math.isfinite(value) else value


def total(values: Iterable[float | None]) -> float | None:
    """Sum of the readings present; None when there is none (never 0 for no data)."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def highest(values: Iterable[float | None]) -> float | None:
    """The largest value that is not None, or None when there is none."""
    return max((v for v in values if v is not None), default=None)


def targets(up: list[Sample], ages: dict[tuple[str, str], float | None], scrape_interval: float) -> list[TargetState]:
    """One TargetState per ``up`` sample; ``ages`` maps (job, instance) to seconds since its last scrape."""
    out = []
    for s in up:
        job, inst = s.labels.get("job", ""), s.labels.get("instance", "")
        age = ages.get((job, inst))
        out.append(
            # Built from samples the client validated already, with the fields' own types: skipping a second
            # validation saves a fifth of the overview's time at 256 nodes (bench/fleet.py).
            TargetState.model_construct(
                job=job,
                instance=inst,
                node=s.labels.get("node"),
                up=s.value == 1,
                stale=age is not None and age > 2 * scrape_interval,
                last_scrape_age_seconds=None if age is None else round(age, 3),
            )
        )
    return sorted(out, key=lambda t: (t.node or "", t.job, t.instance))


def target_ages(samples: Iterable[Sample]) -> dict[tuple[str, str], float | None]:
    """(job, instance) -> age in s, from ``time() - timestamp(up)`` samples."""
    return {(s.labels.get("job", ""), s.labels.get("instance", "")): s.value for s in samples}


def _target_key(s: Sample) -> tuple[str, str]:
    return s.labels.get("job", ""), s.labels.get("instance", "")


def stamp_ages(samples: Iterable[Sample]) -> dict[tuple[str, str], float | None]:
    """(job, instance) -> age in s, from ``timestamp(up)`` samples read at their evaluation time."""
    return {
        (s.labels.get("job", ""), s.labels.get("instance", "")): None if s.value is None else s.timestamp - s.value
        for s in samples
    }


def node_health(
    targets: list[TargetState], node: str, gpu_jobs: tuple[str, ...] = GPU_JOBS
) -> tuple[bool | None, bool | None]:
    """(up, stale) of a node's GPU-telemetry targets; (None, None) when Prometheus has none."""
    mine = [t for t in targets if t.node == node and t.job in gpu_jobs] or [t for t in targets if t.node == node]
    if not mine:
        return None, None
    return any(t.up and not t.stale for t in mine), all(t.stale for t in mine)


def nodes_health(
    targets: list[TargetState], names: Iterable[str], gpu_jobs: tuple[str, ...] = GPU_JOBS
) -> dict[str, tuple[bool | None, bool | None]]:
    """:func:`node_health` of every node in ``names``, grouping the targets by node once: linear in targets
    plus names, where calling node_health per node costs nodes x targets (256 nodes: 130,000 checks)."""
    by_node: dict[str, list[TargetState]] = {}
    for t in targets:
        if t.node is not None:
            by_node.setdefault(t.node, []).append(t)
    return {n: node_health(by_node.get(n, []), n, gpu_jobs) for n in names}


# -- cluster overview -------------------------------------------------------------------------


def set_overview_figure(ov: ClusterOverview, field: str, value: float | None) -> None:
    """Set ``ov.<field>``; memory figures are converted from bytes to GiB, None stays None."""
    if value is not None and field in ("memory_used_gb", "memory_total_gb"):
        value = value / GIB  # the rule and the raw form are in bytes
    setattr(ov, field, value)


def overview_raw(ov: ClusterOverview, figures: list[OverviewFigure], parts: dict[str, list[Sample]]) -> None:
    """Fill overview figures from the overview query's parts tagged with their field name."""
    for fig in figures:
        set_overview_figure(ov, fig.field, one(parts.get(fig.field)))


def _per_gpu(samples: list[Sample]) -> list[float | None]:
    """One value per GPU, keyed (node, UUID) as the node answers key them: a GPU exported by two jobs counts once."""
    by: dict[tuple[str, str], float | None] = {}
    for s in samples:
        key = (s.labels.get("node", ""), s.labels.get("UUID") or s.labels.get("gpu", ""))
        by[key] = highest([by.get(key), s.value])
    return list(by.values())


def overview_gpu(ov: ClusterOverview, parts: dict[str, list[Sample]]) -> None:
    """The overview's GPU figures from the raw per-GPU DCGM samples the small-fleet overview read at its
    instant (Queries.overview_samples): average utilisation, memory used and total (bytes, then GiB), power
    summed, hottest GPU; the same aggregations as Queries.overview runs in Prometheus."""
    util = [s.value for s in parts.get("DCGM_FI_DEV_GPU_UTIL", []) if s.value is not None]
    figures: dict[str, float | None] = {
        "gpu_utilization": sum(util) / len(util) if util else None,  # avg() over every series, as the rule
        "max_gpu_temperature_c": highest(s.value for s in parts.get("DCGM_FI_DEV_GPU_TEMP", [])),
        "power_draw_w": total(_per_gpu(parts.get("DCGM_FI_DEV_POWER_USAGE", []))),
    }
    for field, source in (("memory_used_gb", "DCGM_FI_DEV_FB_USED"), ("memory_total_gb", "DCGM_FI_DEV_FB_TOTAL")):
        mib = total(_per_gpu(parts.get(source, [])))
        figures[field] = None if mib is None else mib * 1024 * 1024  # bytes, as the rule
    for field, value in figures.items():
        set_overview_figure(ov, field, value)


def overview_counts(ov: ClusterOverview, parts: dict[str, list[Sample]]) -> None:
    """Spark, vLLM and alert figures from the samples the overview query read.

    Each count comes from its cluster rule (OVERVIEW_COUNTS) where that has a series, else from the
    raw gauges summed here; with neither it stays None.
    """
    for c in OVERVIEW_COUNTS:
        value = highest(s.value for s in parts.get(c.rule, []))
        if value is None:
            value = total(s.value for s in parts.get(c.source, []))
        if value is not None and c.field in ("active_jobs", "active_tasks"):
            value = count(value)
        setattr(ov, c.field, value)
    # The query ran; no count (no firing ALERTS series) means that nothing is firing.
    if "ALERTS" in parts:  # the small-fleet overview read the ALERTS series themselves
        ov.firing_alerts = sum(1 for s in parts["ALERTS"] if s.labels.get("alertstate") == "firing")
    else:
        firing = highest(s.value for s in parts.get(FIRING_ALERTS, []))
        ov.firing_alerts = 0 if firing is None else int(firing)


def overview_missing(ov: ClusterOverview) -> None:
    """Record in ``ov.missing`` (by JSON name) why each figure still None has no value."""
    scope = f"cluster {ov.cluster}" if ov.cluster else "any cluster"
    for fig in OVERVIEW_GPU_FIGURES:
        if getattr(ov, fig.field) is None:
            ov.missing[json_name(ov, fig.field)] = f"no {fig.source} series for {scope}"
    why = {"active_jobs": "no Spark driver scraped", "active_tasks": "no Spark executors endpoint scraped"}
    for c in OVERVIEW_COUNTS:
        if getattr(ov, c.field) is None:
            ov.missing[json_name(ov, c.field)] = (
                f"no {c.rule} or {c.source} series for {scope} ({why.get(c.field, 'no vLLM target')})"
            )
    fig = VLLM_TOKENS_FIGURE
    if getattr(ov, fig.field) is None:
        ov.missing[json_name(ov, fig.field)] = f"no {fig.rule} or {fig.source} series for {scope} (no vLLM target)"
    fig = INFERENCE_TOKENS_FIGURE
    if getattr(ov, fig.field) is None:
        ov.missing[json_name(ov, fig.field)] = (
            f"no {fig.rule} or {fig.source} series for {scope} (no vLLM, SGLang or llama.cpp target)"
        )


def json_name(model: BaseModel, field: str) -> str:
    """The JSON (camelCase) name of a model attribute, as used for ``missing`` keys."""
    return type(model).model_fields[field].serialization_alias or field


def overview_targets(ov: ClusterOverview, targets: list[TargetState], inventory_names: tuple[str, ...] | None) -> None:
    """Small-fleet overview: set down/stale targets and nodes up/total from every target's state; the node set
    is the inventory's, else the targets'. With no node at all, nodesUp and nodesTotal are recorded as missing.
    """
    ov.down_targets = [t for t in targets if not t.up]
    ov.stale_targets = [t for t in targets if t.stale]
    names = set(inventory_names) if inventory_names is not None else {t.node for t in targets if t.node}
    if not names:
        ov.missing["nodesUp"] = ov.missing["nodesTotal"] = f"no scrape targets with a node label for {ov.cluster}"
        return
    ov.nodes_total = len(names)
    ov.nodes_up = sum(1 for up, _ in nodes_health(targets, names).values() if up)


def overview_nodes(
    ov: ClusterOverview,
    parts: dict[str, list[Sample]],
    inventory_names: tuple[str, ...] | None,
    scrape_interval: float,
) -> None:
    """Large-fleet overview: set down/stale targets and nodes up/total from the parts of Queries.overview.

    The targets are the problem ones only (TARGETS_DOWN and TARGETS_LATE parts); nodesUp is Prometheus' count
    (NODES_UP, absent when it counted none), nodesTotal the inventory's size, else the count of node labels
    on ``up`` (NODES_SEEN). With no node at all, nodesUp and nodesTotal are recorded as missing.
    """
    down = parts.get(TARGETS_DOWN, [])
    late = parts.get(TARGETS_LATE, [])
    down_keys = {_target_key(s) for s in down}
    # One TargetState per problem target, from its timestamp(up) sample (the value is its last scrape, s).
    stamps = {_target_key(s): s for s in (*late, *down)}
    ups = [Sample(s.labels, s.timestamp, 0.0 if key in down_keys else 1.0) for key, s in stamps.items()]
    problems = targets(ups, stamp_ages(stamps.values()), scrape_interval)
    ov.down_targets = [t for t in problems if not t.up]
    ov.stale_targets = [t for t in problems if t.stale]
    seen = highest(s.value for s in parts.get(NODES_SEEN, []))
    total_nodes = len(inventory_names) if inventory_names is not None else int(seen or 0)
    if not total_nodes:
        ov.missing["nodesUp"] = ov.missing["nodesTotal"] = f"no scrape targets with a node label for {ov.cluster}"
        return
    ov.nodes_total = total_nodes
    up = highest(s.value for s in parts.get(NODES_UP, []))
    ov.nodes_up = 0 if up is None else int(up)


# -- one node's GPUs --------------------------------------------------------------------------


def gpus(samples: list[Sample]) -> list[GpuMetrics]:
    """One GpuMetrics per GPU (by UUID, else gpu index) from the node's GPU_FIELDS samples."""
    out: dict[str, GpuMetrics] = {}
    for s in samples:
        key = s.labels.get("UUID") or s.labels.get("gpu", "")
        g = out.setdefault(
            key,
            GpuMetrics(gpu=s.labels.get("gpu", ""), uuid=s.labels.get("UUID"), model_name=s.labels.get("modelName")),
        )
        name = s.labels.get("__name__", "")
        field = GPU_VALUE_FIELDS.get(name)
        if field in _INTEGER_GPU_FIELDS:
            if s.value is not None:
                setattr(g, field, int(s.value))
        elif field is not None:
            setattr(g, field, s.value)
        elif name == GPU_MEMORY_INFO:
            g.memory_source = s.labels.get("memory_source")
    return sorted(out.values(), key=lambda g: (len(g.gpu), g.gpu))


def aggregate_node(out: NodeGpuMetrics) -> None:
    """Node figures from its GPUs: mean utilization, highest temperature, summed power and memory (MiB);
    a unified-memory pool shared by every GPU is counted once.
    """
    gs = out.gpus
    utils = [g.utilization for g in gs if g.utilization is not None]
    out.utilization = sum(utils) / len(utils) if utils else None
    out.temperature = highest(g.temperature for g in gs)
    out.power_draw = total(g.power_draw for g in gs)
    out.memory_used_mb = total(g.memory_used_mb for g in gs)
    sources = {g.memory_source for g in gs if g.memory_source}
    out.memory_source = sources.pop() if len(sources) == 1 else None
    if out.memory_source == "unified":
        # Every GPU on a unified-memory node reports the same host pool: count it once.
        out.memory_free_mb = highest(g.memory_free_mb for g in gs)
        out.memory_total_mb = highest(g.memory_total_mb for g in gs)
    else:
        out.memory_free_mb = total(g.memory_free_mb for g in gs)
        out.memory_total_mb = total(g.memory_total_mb for g in gs)


def why_missing(node: str, up: bool | None, what: str) -> str:
    """The reason for a missing ``what`` on ``node``: no scrape target (``up`` None), target down, or no series."""
    if up is None:
        return f"Prometheus has no scrape target for node {node}"
    if not up:
        return f"node {node} is down or stale (see targets)"
    return f"no series for {what} on node {node}"


# -- network ----------------------------------------------------------------------------------


_RDMA_TOTALS = ("rdma_rx_bytes_per_sec", "rdma_tx_bytes_per_sec")  # in RDMA_RATES' order


def fill_network(out: NetworkStats, parts: dict[str, list[Sample]]) -> None:
    """Append one InterfaceStats per (node, device) from the rx, tx (bytes/s) and link parts, sorted."""
    def keyed(name: str) -> dict[tuple[str, str], float | None]:
        return {(s.labels.get("node", ""), s.labels.get("device", "")): s.value for s in parts.get(name, [])}

    rx, tx, link = keyed("rx"), keyed("tx"), keyed("link")
    for key in sorted(set(rx) | set(tx)):
        up = link.get(key)
        out.interfaces.append(
            InterfaceStats(
                node=key[0],
                device=key[1],
                rx_bytes_per_sec=rx.get(key),
                tx_bytes_per_sec=tx.get(key),
                up=None if up is None else up == 1,
            )
        )
    out.rdma_ports = rdma_ports(parts)
    for name in sorted({i.node for i in out.interfaces} | {p.node for p in out.rdma_ports}):
        mine = [i for i in out.interfaces if i.node == name]
        ports = [p for p in out.rdma_ports if p.node == name]
        nn = NodeNetwork(
            node=name,
            rx_bytes_per_sec=total(i.rx_bytes_per_sec for i in mine),
            tx_bytes_per_sec=total(i.tx_bytes_per_sec for i in mine),
            rdma_rx_bytes_per_sec=total(p.rx_bytes_per_sec for p in ports),
            rdma_tx_bytes_per_sec=total(p.tx_bytes_per_sec for p in ports),
        )
        for field in ("rx_bytes_per_sec", "tx_bytes_per_sec"):
            if getattr(nn, field) is None:
                nn.missing[json_name(nn, field)] = (
                    f"no node_network_*_bytes_total series on physical interfaces of node {name}"
                )
        for field, (rule, counter) in zip(_RDMA_TOTALS, RDMA_RATES.values(), strict=True):
            if getattr(nn, field) is None:
                nn.missing[json_name(nn, field)] = (
                    f"no {rule} or {counter} series for node {name}"
                    + ("" if ports else " (no RDMA port: no node_infiniband_* series)")
                )
        out.nodes.append(nn)
    # From the rows themselves, not the node sums: a node sum left out as impossible (an overflow) must not
    # turn the total into a null without its reason.
    out.rx_bytes_per_sec = total(i.rx_bytes_per_sec for i in out.interfaces)
    out.tx_bytes_per_sec = total(i.tx_bytes_per_sec for i in out.interfaces)
    out.rdma_rx_bytes_per_sec = total(p.rx_bytes_per_sec for p in out.rdma_ports)
    out.rdma_tx_bytes_per_sec = total(p.tx_bytes_per_sec for p in out.rdma_ports)


def network_rdma_missing(out: NetworkStats, where: str) -> None:
    """Reasons for null RDMA totals: no RDMA port in scope, or none with a rate yet."""
    for field, (rule, counter) in zip(_RDMA_TOTALS, RDMA_RATES.values(), strict=True):
        if getattr(out, field) is None:
            out.missing[json_name(out, field)] = f"no {rule} or {counter} series for {where}" + (
                "" if out.rdma_ports else " (no RDMA port: no node_infiniband_* series)"
            )


# IBA port states (sysfs ``state`` / ``phys_state``, node_infiniband_state_id / _physical_state_id) by number.
RDMA_STATES = {1: "down", 2: "init", 3: "armed", 4: "active", 5: "active_defer"}
RDMA_PHYSICAL_STATES = {
    1: "sleep",
    2: "polling",
    3: "disabled",
    4: "training",
    5: "link_up",
    6: "link_error_recovery",
    7: "phy_test",
}


# RdmaPortStats attribute -> the node_infiniband_* gauge it comes from (for reasons).
_RDMA_GAUGE_FIELDS = {
    "state_id": RDMA_GAUGES["rdma_state"],
    "physical_state_id": RDMA_GAUGES["rdma_physical_state"],
    "link_rate_bytes_per_sec": RDMA_GAUGES["rdma_link_rate"],
}


def rdma_ports(parts: dict[str, list[Sample]]) -> list[RdmaPortStats]:
    """One RdmaPortStats per (node, device, port) seen in any RDMA part of the network bundle (Queries.rdma)."""

    def keyed(name: str) -> dict[tuple[str, str, str], float | None]:
        return {
            (s.labels.get("node", ""), s.labels.get("device", ""), s.labels.get("port", "")): s.value
            for s in parts.get(name, [])
        }

    cols = {name: keyed(name) for name in (*RDMA_RATES, *RDMA_GAUGES)}
    out = []
    for key in sorted(set().union(*cols.values())):
        node, device, port = key
        state = _as_int(cols["rdma_state"].get(key))
        phys = _as_int(cols["rdma_physical_state"].get(key))
        p = RdmaPortStats(
            node=node,
            device=device,
            port=port,
            rx_bytes_per_sec=cols["rdma_rx"].get(key),
            tx_bytes_per_sec=cols["rdma_tx"].get(key),
            state_id=state,
            state=None if state is None else RDMA_STATES.get(state),
            physical_state_id=phys,
            physical_state=None if phys is None else RDMA_PHYSICAL_STATES.get(phys),
            link_rate_bytes_per_sec=cols["rdma_link_rate"].get(key),
        )
        where = f"port {port} of {device} on node {node}"
        for field, (rule, counter) in zip(("rx_bytes_per_sec", "tx_bytes_per_sec"), RDMA_RATES.values(), strict=True):
            if getattr(p, field) is None:
                p.missing[json_name(p, field)] = (
                    f"no {rule} or {counter} series for {where} (counter not exposed, or fewer than two scrapes)"
                )
        for field, family in _RDMA_GAUGE_FIELDS.items():
            if getattr(p, field) is None:
                p.missing[json_name(p, field)] = f"no {family} series for {where}"
        for field, number in (("state", state), ("physical_state", phys)):
            if getattr(p, field) is None:
                p.missing[json_name(p, field)] = (
                    f"no {_RDMA_GAUGE_FIELDS[field + '_id']} series for {where}"
                    if number is None
                    else f"state number {number} has no IBA name"
                )
        out.append(p)
    return out


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(value)


# -- workloads: Spark and vLLM ----------------------------------------------------------------

_INTEGER_COUNTS = ("applications", "active_jobs", "executors", "cores", "active_tasks")


def _set(model: BaseModel, field: str, value: float | None) -> None:
    if value is not None and field in _INTEGER_COUNTS:
        value = count(value)
    setattr(model, field, value)


def _cluster_totals(
    model: BaseModel, rules: dict[str, str], parts: dict[str, list[Sample]], missing: dict[str, str], scope: str
) -> None:
    """Fill ``model`` from cluster rules: one series per cluster (several only without an inventory)."""
    for field, rule in rules.items():
        samples = parts.get(rule, [])
        if field.endswith("_ratio"):
            value = samples[0].value if len(samples) == 1 else None  # a ratio does not add up over clusters
        else:
            value = total(s.value for s in samples)
        _set(model, field, value)
        if value is None:
            reason = f"no {rule} series for {scope}"
            if field.endswith("_ratio") and samples:
                reason = f"{len(samples)} clusters: a ratio is per cluster"
            missing["totals." + json_name(model, field)] = reason


def _scope(cluster: str | None) -> str:
    return f"cluster {cluster}" if cluster else "any cluster"


def fill_spark(out: SparkApplications, parts: dict[str, list[Sample]]) -> None:
    """Applications joined on application_id from SPARK_APPLICATION_RULES; totals from SPARK_CLUSTER_RULES."""
    apps: dict[str, SparkApplication] = {}
    for field, rule in SPARK_APPLICATION_RULES.items():
        for s in parts.get(rule, []):
            app_id = s.labels.get("application_id")
            if not app_id:
                continue
            app = apps.setdefault(
                app_id, SparkApplication(application_id=app_id, application_name=None, node=None)
            )
            app.application_name = app.application_name or s.labels.get("application_name")
            app.node = app.node or s.labels.get("node")
            _set(app, field, s.value)
    for app in apps.values():
        for field, rule in SPARK_APPLICATION_RULES.items():
            if getattr(app, field) is None:
                reason = f"no {rule} series for application {app.application_id}"
                if field == "gc_time_ratio":
                    reason += " (no task ran in the last minute)"
                elif field == "active_jobs":
                    reason += " (its driver's /metrics/prometheus is not scraped)"
                else:
                    reason += " (its /metrics/executors/prometheus is not scraped)"
                app.missing[json_name(app, field)] = reason
    out.applications = sorted(apps.values(), key=lambda a: (a.node or "", a.application_id))
    scope = _scope(out.cluster)
    _cluster_totals(out.totals, SPARK_CLUSTER_RULES, parts, out.missing, scope)
    with_rows = {a.node for a in apps.values()}
    for s in parts.get("up", []):
        node = s.labels.get("node", "")
        if node not in with_rows and f"applications[{node}]" not in out.missing:
            out.missing[f"applications[{node}]"] = _no_row_reason(s, "no application:spark_* series")
    if not apps:
        out.missing["applications"] = (
            f"no application:spark_* series for {scope}: no Spark application scraped "
            "(inventory 'spark' targets), or rules/spark-workloads-recording.yml not loaded"
        )


_QUANTILE_WHY = {
    "time_to_first_token": "no request got its first token in the last minute",
    "inter_token_latency": "no token was generated in the last minute",
    "e2e_request_latency": "no request finished in the last minute",
}


def fill_inference(out: Inference, parts: dict[str, list[Sample]]) -> None:
    """One ModelInference per (engine, node, model_name) from ENGINE_RULES; totals the sums of the rows (else
    VLLM_CLUSTER_RULES); a node whose inference target (``up``) has no row is named in ``missing``."""
    models: dict[tuple[str, str, str | None], ModelInference] = {}
    for engine, rules in ENGINE_RULES.items():
        for field, rule in rules.items():
            for s in parts.get(rule, []):
                model = s.labels.get("model_name") if engine != "llamacpp" else None
                key = (engine, s.labels.get("node", ""), model)
                m = models.setdefault(key, ModelInference(engine=cast(InferenceEngine, engine), node=key[1],
                                                          model_name=model))
                setattr(m, field, s.value)
    for m in models.values():
        rules = ENGINE_RULES[m.engine]
        for field in ModelInference.model_fields:
            if field in ("engine", "node", "model_name", "missing") or getattr(m, field) is not None:
                continue
            if field not in rules:
                m.missing[json_name(m, field)] = ENGINE_LACKS.get(m.engine, f"{m.engine} exports no such figure")
                continue
            reason = f"no {rules[field]} series for {_row_name(m)}"
            why = next((w for prefix, w in _QUANTILE_WHY.items() if field.startswith(prefix)), None)
            m.missing[json_name(m, field)] = f"{reason} ({why})" if why else reason
        if m.model_name is None:
            m.missing["modelName"] = ENGINE_LACKS["llamacpp"]
    out.models = sorted(models.values(), key=lambda m: (m.node, m.engine, m.model_name or ""))
    scope = _scope(out.cluster)
    _cluster_totals(out.totals, VLLM_CLUSTER_RULES, parts, out.missing, scope)
    # With rows present, totals are their sums: the cluster rules live in another rule group, evaluated
    # at another moment, and one answer whose total differs from the sum of its rows reads as an error.
    for field in VLLM_CLUSTER_RULES:
        summed = total(getattr(m, field) for m in out.models)
        if summed is not None:
            setattr(out.totals, field, summed)
            out.missing.pop("totals." + json_name(out.totals, field), None)
    out.totals.preemptions_per_sec = total(m.preemptions_per_sec for m in out.models)
    if out.totals.preemptions_per_sec is None:
        out.missing["totals.preemptionsPerSec"] = f"no node_model:vllm_preemptions:rate1m series for {scope}"
    with_rows = {(m.node, m.engine) for m in out.models}
    for s in parts.get("up", []):
        node, job = s.labels.get("node", ""), s.labels.get("job", "")
        if (node, job) not in with_rows:
            out.missing[f"models[{node}/{job}]"] = _no_row_reason(s, f"no node_model:{job}_* or node:{job}_* series")
    if not models:
        out.missing["models"] = (
            f"no inference rule series for {scope}: no vLLM, SGLang or llama.cpp target scraped (inventory keys "
            "vllm, sglang, llamacpp), or rules/spark-workloads-recording.yml not loaded"
        )


def _row_name(m: ModelInference) -> str:
    return f"{m.engine} on node {m.node}" + (f" (model {m.model_name})" if m.model_name else "")


def _no_row_reason(up: Sample, what: str) -> str:
    """Why the target behind ``up`` has no row: down, or up while its rules record nothing."""
    job, instance = up.labels.get("job", ""), up.labels.get("instance", "")
    if up.value is None or up.value < 1:
        return f"the {job} target {instance} is down (up 0)"
    return (f"the {job} target {instance} is up, but {what}: none of the series its rules read arrive "
            "(see the SparkTargetSilent alert), or the rule files are not loaded")


# -- alerts -------------------------------------------------------------------------------------

SEVERITY_ORDER = ("critical", "error", "warning", "info")  # most severe first; any other severity after them
_MAX_TEXT = 500  # characters kept of an annotation or label value


def _text(value: str | None) -> str | None:
    if not value:
        return None
    return "".join(c if c.isprintable() or c == "\n" else " " for c in value[:_MAX_TEXT])


def _since(active_at: str | None) -> float | None:
    """RFC 3339 (Prometheus' activeAt, up to nanoseconds) to s since epoch; None for an unset or odd value."""
    if not active_at or active_at.startswith("0001-01-01"):
        return None
    try:
        return datetime.datetime.fromisoformat(active_at).timestamp()
    except ValueError:
        return None


def _runbook(url: str | None) -> str | None:
    """The runbook_url annotation when it is a web address or a relative path; never javascript: or data:."""
    if not url:
        return None
    url = url.strip()[:_MAX_TEXT]
    if url.startswith(("https://", "http://", "/")) or ":" not in url.split("/", 1)[0]:
        return url
    return None


def alert(u: UpstreamAlert) -> Alert | None:
    """One firing or pending alert of the engine's answer as the API writes it; None for any other state."""
    if u.state not in ("firing", "pending"):
        return None
    ann = u.annotations
    description = _text(ann.get("description"))
    summary = _text(ann.get("summary")) or (description.split("\n", 1)[0] if description else None)
    try:
        value = float(u.value) if u.value is not None else None
    except ValueError:
        value = None
    return Alert(
        name=_text(u.labels.get("alertname")) or "(unnamed)",
        state=u.state,  # type: ignore[arg-type]  # checked above
        severity=_text(u.labels.get("severity")),
        node=_text(u.labels.get("node")),
        gpu=_text(u.labels.get("gpu")),
        since=_since(u.active_at),
        summary=summary,
        description=description,
        runbook_url=_runbook(ann.get("runbook_url")),
        value=value if value is not None and math.isfinite(value) else None,
        labels={k[:_MAX_TEXT]: v[:_MAX_TEXT] for k, v in u.labels.items()},
    )


def alert_order(a: Alert) -> tuple[int, int, float, str, str, str]:
    """Sort key: severity (SEVERITY_ORDER, then others), firing before pending, oldest first, then name, node, gpu."""
    sev = (a.severity or "").lower()
    rank = SEVERITY_ORDER.index(sev) if sev in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return (rank, 0 if a.state == "firing" else 1, a.since if a.since is not None else math.inf,
            a.name, a.node or "", a.gpu or "")
