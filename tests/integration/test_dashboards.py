"""Grafana dashboards in dashboards/: their structure, and every query run against a real Prometheus.

The query tests start a simulated cluster (two spark-exporters with simulated GPUs, scraped by Prometheus
with the generated prometheus.yml and every rule file), resolve the template variables the way Grafana
does (``label_values`` against Prometheus, "All" as an escaped regex alternation), and run each panel
query: Prometheus must accept it and it must return finite data, unless it is on the short NO_DATA list.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from helpers.cluster import SimulatedCluster, simulated_cluster
from helpers.dashboards import (
    DASHBOARDS,
    NO_DATA,
    PROFILES,
    QUERIES,
    NoData,
    Query,
    format_variable,
    interpolate,
    variable_query,
    variables,
)
from helpers.host import sysfs_with_hwmon
from helpers.procs import http_get, wait_for
from helpers.workload_cluster import VLLM_MODELS, WorkloadCluster

# Grafana's built-in variables, with the values the brief fixes for the test (a 15s scrape interval).
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_]\w*)\s*\)\s*$")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
QUERY_RANGE_S = 60  # seconds of history a range query asks for; the cluster runs longer than that


# Dashboards of the workloads (Spark, vLLM): their queries run against the real Spark application and the
# simulated vLLM servers of the ``workloads`` fixture, the others against the simulated GPU cluster.
WORKLOAD_DASHBOARDS = frozenset({"spark-jobs.json", "inference.json"})
CLUSTER_QUERIES = [q for q in QUERIES if q.dashboard not in WORKLOAD_DASHBOARDS]
WORKLOAD_QUERIES = [q for q in QUERIES if q.dashboard in WORKLOAD_DASHBOARDS]


# ---------------------------------------------------------------------------------------------------------
# Grafana's variable interpolation for the Prometheus data source


# ---------------------------------------------------------------------------------------------------------
# Prometheus HTTP API


def api(base_url: str, path: str, params: dict[str, str]) -> Any:
    """GET an API path; raises with Prometheus' error text when it refuses the request."""
    status, body, _ = http_get(f"{base_url}{path}?{urllib.parse.urlencode(params)}", timeout=15)
    data = json.loads(body)
    if status != 200 or data.get("status") != "success":
        raise AssertionError(f"Prometheus refused {params}: {data.get('errorType')}: {data.get('error')}")
    return data["data"]


def run_query(base_url: str, expr: str, instant: bool) -> list[dict[str, Any]]:
    """Run ``expr`` as Grafana would: an instant query, or a range query over the last minute."""
    if instant:
        return list(api(base_url, "/api/v1/query", {"query": expr})["result"])
    end = time.time()
    params = {"query": expr, "start": str(end - QUERY_RANGE_S), "end": str(end), "step": "5"}
    return list(api(base_url, "/api/v1/query_range", params)["result"])


def finite_values(series: dict[str, Any]) -> list[float]:
    samples = series.get("values") or [series["value"]]
    return [float(v) for _, v in samples if math.isfinite(float(v))]


def has_data(result: list[dict[str, Any]]) -> bool:
    return any(finite_values(series) for series in result)


def label_values(base_url: str, selector: str, label: str) -> list[str]:
    return sorted(api(base_url, f"/api/v1/label/{label}/values", {"match[]": selector}))


def recording_rules(base_url: str) -> set[str]:
    groups = api(base_url, "/api/v1/rules", {"type": "record"})["groups"]
    return {rule["name"] for group in groups for rule in group["rules"]}


# ---------------------------------------------------------------------------------------------------------
# The simulated cluster


def nodes_in(result: list[dict[str, Any]]) -> set[str]:
    return {series["metric"].get("node", "") for series in result if finite_values(series)}


def wait_for_rates(cluster: SimulatedCluster) -> None:
    """Wait (bounded) until rate()-based recording rules and queries have two samples to work with."""
    nodes = len(cluster.inventory.nodes)
    checks = ["node:cpu_utilization:ratio", "node_device:network_receive_bytes:rate1m",
              "node_port:rdma_receive_bytes:rate1m",
              "rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[5m])", "rate(node_disk_read_bytes_total[1m])",
              "node:gpu_sm_active:avg", "node:gpu_tensor_active:avg"]  # GPM: from each exporter's second scrape
    for expr in checks:
        wait_for(lambda e=expr: len(nodes_in(run_query(cluster.prometheus_url, e, True))) >= nodes,
                 timeout=60, what=f"{expr} for every node")


@dataclass
class Resolved:
    """A running cluster with every dashboard's variables resolved against it."""

    profile: str
    cluster: SimulatedCluster
    values: dict[str, dict[str, list[str]]]  # dashboard -> variable -> values
    formatted: dict[str, dict[str, str]]  # dashboard -> variable -> text inserted into queries


def resolve(cluster: SimulatedCluster, dashboard: dict[str, Any],
            pick_last: bool = False) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Resolve the query variables in order: "All" where offered, else the first value (Grafana's default);
    with ``pick_last``, the last value of each variable alone (a concrete selection)."""
    values: dict[str, list[str]] = {}
    formatted = dict(BUILTINS)
    for var in variables(dashboard):
        if var["type"] != "query":
            continue
        m = LABEL_VALUES.match(variable_query(var))
        assert m is not None, f"variable {var['name']} is not a label_values() query"
        found = label_values(cluster.prometheus_url, interpolate(m["selector"], formatted), m["label"])
        values[var["name"]] = found
        if found:
            chosen = found[-1:] if pick_last else found if var.get("includeAll") else found[:1]
            formatted[var["name"]] = format_variable(var, chosen)
    return values, formatted


@pytest.fixture(scope="module", params=PROFILES)
def resolved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Resolved]:
    sysfs = sysfs_with_hwmon(tmp_path_factory.mktemp("sysfs"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_EXPORTER_PATH_SYSFS", str(sysfs))  # read by the exporters simulated_cluster starts
        with simulated_cluster(n_nodes=2, profile=request.param, interval="1s") as cluster:
            wait_for_rates(cluster)
            values, formatted = {}, {}
            for name, dashboard in DASHBOARDS.items():
                if name not in WORKLOAD_DASHBOARDS:
                    values[name], formatted[name] = resolve(cluster, dashboard)
            yield Resolved(request.param, cluster, values, formatted)


# ---------------------------------------------------------------------------------------------------------


class TestDashboardQueries:
    def test_variables_resolve_to_the_cluster(self, resolved: Resolved) -> None:
        """cluster and node resolve to the inventory's cluster and nodes; every other variable has values."""
        nodes = [node.name for node in resolved.cluster.inventory.nodes]
        for name, values in resolved.values.items():
            assert values["cluster"] == ["test"], name
            assert values["node"] == nodes, name
            assert all(values.values()), (name, values)

    @pytest.mark.parametrize("dashboard", sorted(set(DASHBOARDS) - WORKLOAD_DASHBOARDS))
    def test_queries_follow_a_concrete_selection(self, resolved: Resolved, dashboard: str) -> None:
        """With one node (and one GPU) selected, every query has data and no series of another node or GPU."""
        assert selection_errors(resolved, dashboard) == []

    @pytest.mark.parametrize("query", CLUSTER_QUERIES, ids=[q.id for q in CLUSTER_QUERIES])
    def test_query(self, resolved: Resolved, query: Query) -> None:
        """Prometheus accepts the query and it returns finite data whose series carry the legend's labels."""
        url = resolved.cluster.prometheus_url
        expr = interpolate(query.expr, resolved.formatted[query.dashboard])
        exception = NO_DATA.get(query.key)
        if exception is not None and resolved.profile in exception.profiles:
            check_no_data(resolved, query, expr, exception)
            return
        result = run_query(url, expr, query.instant)  # raises if Prometheus refuses the query
        if not has_data(result):
            # A rule evaluation may lag the readiness check by an interval: retry briefly.
            result = wait_for(lambda: (r := run_query(url, expr, query.instant)) and has_data(r) and r,
                              timeout=10, what=f"finite data for {expr}")
        wanted = set(LEGEND_LABEL.findall(query.legend))
        for series in result:
            assert wanted <= set(series["metric"]), f"{query.id}: {series['metric']} lacks {wanted}"


def selection_errors(resolved: Resolved, dashboard: str) -> list[str]:
    """Run a dashboard's queries with the last node and GPU selected: what lacks data or leaks other nodes."""
    values, formatted = resolve(resolved.cluster, DASHBOARDS[dashboard], pick_last=True)
    chosen = {name: found[-1] for name, found in values.items() if found and name in {"node", "gpu"}}
    errors = []
    for query in QUERIES:
        exception = NO_DATA.get(query.key)
        if query.dashboard != dashboard or (exception and resolved.profile in exception.profiles):
            continue
        result = run_query(resolved.cluster.prometheus_url, interpolate(query.expr, formatted), query.instant)
        if not has_data(result):
            errors.append(f"{query.id}: no data for {chosen}")
        for series in result:
            leaked = {k: v for k, v in chosen.items() if series["metric"].get(k, v) != v}
            if leaked:
                errors.append(f"{query.id}: selected {chosen}, got {series['metric']}")
    return errors


def check_no_data(resolved: Resolved, query: Query, expr: str, exception: NoData) -> None:
    """The allowed no-data case: the query is valid, and the named witness or rule is there."""
    url = resolved.cluster.prometheus_url
    result = run_query(url, expr, query.instant)  # raises if Prometheus refuses the query
    if exception.empty:
        assert result == [], f"{query.id}: expected no series ({exception.why}), got {result[:2]}"
    if exception.witness is not None:
        witness = interpolate(exception.witness, resolved.formatted[query.dashboard])
        assert has_data(run_query(url, witness, True)), f"{query.id}: no data for witness {witness}"
    if exception.rule is not None:
        assert exception.rule in recording_rules(url), f"{query.id}: rule {exception.rule} is not loaded"


# ---------------------------------------------------------------------------------------------------------
# Workload dashboards against a real Spark application and simulated vLLM 0.9 and 0.12


@pytest.fixture(scope="module")
def workload_resolved(workloads: WorkloadCluster) -> dict[str, tuple[dict[str, list[str]], dict[str, str]]]:
    """Each workload dashboard's variables resolved against the workloads' Prometheus (All where offered)."""
    wait_for(lambda: run_query(workloads.prometheus_url, "node_model:vllm_inter_token_latency_seconds:p95_rate1m",
                               True), timeout=60, what="vLLM latency rules")
    return {name: resolve(workloads, DASHBOARDS[name]) for name in sorted(WORKLOAD_DASHBOARDS)}  # type: ignore[arg-type]


class TestWorkloadDashboardQueries:
    def test_variables_resolve_to_the_workloads(self, workloads: WorkloadCluster,
                                                workload_resolved: dict[str, Any]) -> None:
        """cluster is the test cluster; application is the Spark application; node and model the vLLM servers."""
        spark_values, _ = workload_resolved["spark-jobs.json"]
        assert spark_values == {"cluster": ["test"], "application": [workloads.spark.app_id]}
        inference_values, _ = workload_resolved["inference.json"]
        assert inference_values["cluster"] == ["test"]
        assert inference_values["node"] == sorted(VLLM_MODELS)
        assert inference_values["model_name"] == sorted(VLLM_MODELS.values())

    @pytest.mark.parametrize("query", WORKLOAD_QUERIES, ids=[q.id for q in WORKLOAD_QUERIES])
    def test_query(self, workloads: WorkloadCluster, workload_resolved: dict[str, Any], query: Query) -> None:
        """Prometheus accepts the query and it returns finite data whose series carry the legend's labels."""
        url = workloads.prometheus_url
        formatted = workload_resolved[query.dashboard][1]
        expr = interpolate(query.expr, formatted)
        exception = NO_DATA.get(query.key)
        result = run_query(url, expr, query.instant)  # raises if Prometheus refuses the query
        if exception is not None:
            if exception.witness is not None:
                witness = interpolate(exception.witness, formatted)
                assert has_data(run_query(url, witness, True)), f"{query.id}: no data for witness {witness}"
            if exception.rule is not None:
                assert exception.rule in recording_rules(url), f"{query.id}: rule {exception.rule} is not loaded"
            return
        if not has_data(result):
            result = wait_for(lambda: (r := run_query(url, expr, query.instant)) and has_data(r) and r,
                              timeout=30, what=f"finite data for {expr}")
        wanted = set(LEGEND_LABEL.findall(query.legend))
        for series in result:
            assert wanted <= set(series["metric"]), f"{query.id}: {series['metric']} lacks {wanted}"

    def test_inference_follows_one_node(self, workloads: WorkloadCluster) -> None:
        """With the last vLLM node and its model selected, every inference query has data from that node only."""
        values, formatted = resolve(workloads, DASHBOARDS["inference.json"], pick_last=True)  # type: ignore[arg-type]
        node = values["node"][-1]
        errors = []
        for query in WORKLOAD_QUERIES:
            if query.dashboard != "inference.json":
                continue
            result = run_query(workloads.prometheus_url, interpolate(query.expr, formatted), query.instant)
            if not has_data(result):
                errors.append(f"{query.id}: no data for {node}")
            errors += [f"{query.id}: {s['metric']}" for s in result if s["metric"].get("node", node) != node]
        assert errors == []
