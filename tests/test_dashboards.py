"""Grafana dashboards in dashboards/: their structure, and every query run against a real Prometheus.

The query tests start a simulated cluster (two spark-exporters with simulated GPUs, scraped by Prometheus
with the generated prometheus.yml and every rule file), resolve the template variables the way Grafana
does (``label_values`` against Prometheus, "All" as an escaped regex alternation), and run each panel
query: Prometheus must accept it and it must return finite data, unless it is on the short NO_DATA list.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster import RULES_DIR, SimulatedCluster, simulated_cluster
from procs import REPO, http_get, wait_for
from workload_cluster import VLLM_MODELS, WorkloadCluster

DASHBOARD_DIR = REPO / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's built-in variables, with the values the brief fixes for the test (a 15s scrape interval).
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_]\w*)\s*\)\s*$")
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
RECORDED_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
PROFILES = ("gb10", "h100x2")
QUERY_RANGE_S = 60  # seconds of history a range query asks for; the cluster runs longer than that


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


DASHBOARDS = load_dashboards()


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, with the panels inside collapsed rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard.get("templating", {}).get("list", []))


def variable_query(var: dict[str, Any]) -> str:
    """A query variable's query: a string, or ``{"query": ...}`` in newer schema versions."""
    query = var.get("query")
    return str(query["query"] if isinstance(query, dict) else query)


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str
    legend: str
    instant: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dashboard, self.panel, self.ref)

    @property
    def id(self) -> str:
        return f"{self.dashboard.removesuffix('.json')}/{self.panel}/{self.ref}"


def panel_queries() -> list[Query]:
    return [Query(name, panel["title"], target["refId"], target["expr"], target.get("legendFormat", ""),
                  bool(target.get("instant")) and not target.get("range", False))
            for name, dashboard in DASHBOARDS.items()
            for panel in all_panels(dashboard["panels"])
            for target in panel.get("targets", [])]


QUERIES = panel_queries()
# Dashboards of the workloads (Spark, vLLM): their queries run against the real Spark application and the
# simulated vLLM servers of the ``workloads`` fixture, the others against the simulated GPU cluster.
WORKLOAD_DASHBOARDS = frozenset({"spark-jobs.json", "inference.json"})
CLUSTER_QUERIES = [q for q in QUERIES if q.dashboard not in WORKLOAD_DASHBOARDS]
WORKLOAD_QUERIES = [q for q in QUERIES if q.dashboard in WORKLOAD_DASHBOARDS]


@dataclass(frozen=True)
class NoData:
    """Why a query may return nothing on a healthy simulated cluster, and what is checked instead."""

    why: str
    profiles: frozenset[str] = frozenset(PROFILES)  # where the query has no data
    empty: bool = False  # the result must be empty there (a field the GPU does not report is left out)
    witness: str | None = None  # a query on the series the panel is built on, which must have data
    rule: str | None = None  # a recording rule that must be loaded


GB10 = frozenset({"gb10"})
NOT_ON_GB10 = "GB10 does not report it; a value there would be an invented one"
NO_DATA: dict[tuple[str, str, str], NoData] = {
    ("spark-cluster.json", "Firing alerts", "A"): NoData("no alert need fire on a healthy cluster"),
    ("spark-cluster.json", "Collector failures", "A"): NoData(
        "lists failing collectors only", witness='spark_exporter_collector_success{cluster="$cluster"}'),
    ("spark-cluster.json", "Generated tokens", "A"): NoData(
        "no vLLM server in the test cluster", rule="node:vllm_generation_tokens:rate1m"),
    ("spark-cluster.json", "Generated tokens", "B"): NoData(
        "no vLLM server in the test cluster", rule="cluster:vllm_generation_tokens:rate1m"),
    ("spark-cluster.json", "Requests running", "A"): NoData(
        "no vLLM server in the test cluster", rule="node:vllm_requests_running:sum"),
    ("spark-cluster.json", "Requests waiting", "A"): NoData(
        "no vLLM server in the test cluster", rule="node:vllm_requests_waiting:sum"),
    ("spark-node.json", "XID errors", "A"): NoData(
        "the XID counter appears with the first XID event",
        witness='DCGM_FI_DEV_XID_ERRORS{cluster="$cluster", node="$node"}'),
    ("spark-node.json", "Temperature", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "Power and limit", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "Clocks", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "PCIe throughput", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "PCIe throughput", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "NVLink bandwidth", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "PCIe replays", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "ECC errors", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "ECC errors", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "Remapped rows", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "Remapped rows", "B"): NoData(NOT_ON_GB10, GB10, empty=True),
    ("spark-node.json", "Row remap failure", "A"): NoData(NOT_ON_GB10, GB10, empty=True),
    # The workloads fixture's slow job holds the only task; task times count when a task ends.
    ("spark-jobs.json", "GC time share", "A"): NoData(
        "no task finished in the last minute", rule="application:spark_gc_time:ratio_rate1m",
        witness='spark_executor_totalGCTime_seconds_total{cluster="$cluster", application_id=~"$application"}'),
}


# ---------------------------------------------------------------------------------------------------------
# Grafana's variable interpolation for the Prometheus data source


def regex_escape(value: str) -> str:
    """Escape regex metacharacters inside a PromQL string, as Grafana does (two backslashes)."""
    return re.sub(r"[\\^$*+?.()|\[\]{}]", lambda m: "\\\\" + m.group(0), value)


def format_variable(var: dict[str, Any], values: list[str]) -> str:
    """A multi-value or All variable is regex-escaped, several values as ``(a|b)``; a single-value one is
    inserted as it is."""
    if var.get("multi") or var.get("includeAll"):
        escaped = [regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return values[0]


def interpolate(text: str, values: dict[str, str]) -> str:
    """Replace ``$var``, ``${var}`` and ``[[var]]``; an undefined variable raises KeyError."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"undefined variable ${name} in {text!r}")
        return values[name]
    return VARIABLE_REF.sub(sub, text)


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


def sysfs_with_hwmon(root: Path) -> Path:
    """This host's /sys, with class/hwmon replaced by one fixture chip and class/infiniband by the GB10 fixture's
    ConnectX-7 RDMA ports (the test host may have neither)."""
    sysfs = root / "sys"
    (sysfs / "class").mkdir(parents=True)
    for entry in os.listdir("/sys"):
        if entry != "class":
            (sysfs / entry).symlink_to(Path("/sys") / entry)
    for entry in os.listdir("/sys/class"):
        if entry not in ("hwmon", "infiniband"):
            (sysfs / "class" / entry).symlink_to(Path("/sys/class") / entry)
    shutil.copytree(REPO / "tests/fixtures/host/sys/class/infiniband", sysfs / "class" / "infiniband")
    chip = sysfs / "class" / "hwmon" / "hwmon0"
    chip.mkdir(parents=True)
    (chip / "name").write_text("acpitz\n")
    (chip / "temp1_input").write_text("45000\n")  # millidegrees Celsius
    (chip / "temp2_input").write_text("51000\n")
    return sysfs


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


class TestDashboardFiles:
    def test_files_are_grafana_dashboards(self) -> None:
        """Both dashboards exist and carry a uid, title, tags, time range, refresh and a recent schema."""
        assert set(DASHBOARDS) >= {"spark-cluster.json", "spark-node.json"}
        for name, d in DASHBOARDS.items():
            assert d["uid"] and d["title"] and d["tags"], name
            assert d["time"]["from"] and d["time"]["to"] and d["refresh"], name
            assert 36 <= d["schemaVersion"] <= 41, name
        assert len({d["uid"] for d in DASHBOARDS.values()}) == len(DASHBOARDS)

    def test_panel_ids_are_unique(self) -> None:
        """No two panels of a dashboard share an id."""
        for name, d in DASHBOARDS.items():
            ids = [p["id"] for p in all_panels(d["panels"])]
            assert len(ids) == len(set(ids)), name

    def test_panel_titles_are_unique(self) -> None:
        """No two panels of a dashboard share a title, so a title names one panel (and NO_DATA entries)."""
        for name, d in DASHBOARDS.items():
            titles = [p["title"] for p in all_panels(d["panels"])]
            assert len(titles) == len(set(titles)), name

    def test_every_query_uses_the_datasource_variable(self) -> None:
        """Every panel but rows, and every target, points at the ${datasource} variable."""
        for name, d in DASHBOARDS.items():
            for panel in all_panels(d["panels"]):
                if panel["type"] == "row":
                    assert not panel.get("targets"), (name, panel["title"])
                    continue
                assert panel["datasource"] == DATASOURCE, (name, panel["title"])
                assert panel["targets"], (name, panel["title"])
                for target in panel["targets"]:
                    assert target["datasource"] == DATASOURCE, (name, panel["title"], target["refId"])

    def test_target_ref_ids_are_unique_per_panel(self) -> None:
        """Within a panel every target has its own refId."""
        for name, d in DASHBOARDS.items():
            for panel in all_panels(d["panels"]):
                refs = [t["refId"] for t in panel.get("targets", [])]
                assert len(refs) == len(set(refs)), (name, panel["title"])

    def test_datasource_variable_selects_prometheus(self) -> None:
        """The first variable is a data source picker limited to Prometheus data sources."""
        for name, d in DASHBOARDS.items():
            first = variables(d)[0]
            picked = (first["name"], first["type"], first["query"])
            assert picked == ("datasource", "datasource", "prometheus"), name

    def test_value_panels_have_units(self) -> None:
        """Every time series, stat, gauge and bar gauge panel sets a unit."""
        for name, d in DASHBOARDS.items():
            for panel in all_panels(d["panels"]):
                if panel["type"] in {"timeseries", "stat", "gauge", "bargauge"}:
                    assert panel["fieldConfig"]["defaults"].get("unit"), (name, panel["title"])

    def test_grid_positions_do_not_overlap(self) -> None:
        """Panels fit the 24-column grid and no two overlap (inside each collapsed row, too)."""
        for name, d in DASHBOARDS.items():
            collapsed = [p["panels"] for p in d["panels"] if p["type"] == "row" and p["collapsed"]]
            groups = [d["panels"], *collapsed]
            for group in groups:
                cells: dict[tuple[int, int], str] = {}
                for panel in group:
                    g = panel["gridPos"]
                    assert g["x"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, panel["title"]
                    for x in range(g["x"], g["x"] + g["w"]):
                        for y in range(g["y"], g["y"] + g["h"]):
                            assert (x, y) not in cells, f"{name}: {panel['title']} overlaps {cells[(x, y)]}"
                            cells[(x, y)] = panel["title"]

    def test_no_interface_name_literals(self) -> None:
        """No query names an interface such as eth0: physical interfaces are chosen by pattern."""
        for name in DASHBOARDS:
            assert "eth0" not in (DASHBOARD_DIR / name).read_text(), name

    def test_no_data_is_not_filled_with_zero(self) -> None:
        """No query turns a missing series into 0 with `or vector(0)` (or `or on() vector(0)`)."""
        zero_fill = re.compile(r"\bor\b(\s+on\s*\([^)]*\))?\s*vector\s*\(")
        for q in QUERIES:
            assert not zero_fill.search(q.expr), q.id

    def test_recorded_names_are_defined_by_the_rules(self) -> None:
        """Every level:metric:operation name a query uses is recorded by a rule in rules/*.yml."""
        defined = {rule["record"] for path in RULES_DIR.glob("*.yml")
                   for group in yaml.safe_load(path.read_text())["groups"]
                   for rule in group["rules"] if "record" in rule}
        used = {name for q in QUERIES for name in RECORDED_NAME.findall(q.expr)}
        assert used, "the dashboards use no recording rules"
        assert used <= defined, sorted(used - defined)

    def test_cluster_overview_is_built_on_the_cluster_rules(self) -> None:
        """The cluster overview shows every cluster-level and per-node recording rule of the contract."""
        exprs = " ".join(q.expr for q in QUERIES if q.dashboard == "spark-cluster.json")
        for rule in ("cluster:nodes_up:count", "cluster:nodes:count", "cluster:gpu_utilization:avg",
                     "cluster:memory_used_bytes:sum", "cluster:gpu_memory_total_bytes:sum",
                     "cluster:power_watts:sum", "cluster:gpu_temperature_celsius:max",
                     "node:gpu_utilization:avg", "node:gpu_memory_used_bytes:sum",
                     "node:gpu_memory_total_bytes:sum", "node:cpu_utilization:ratio",
                     "node_device:network_receive_bytes:rate1m", "node_device:network_transmit_bytes:rate1m"):
            assert re.search(rf"{re.escape(rule)}\{{", exprs), rule

    def test_cluster_variables(self) -> None:
        """The overview offers cluster (from spark-exporter targets) and a multi-select node with All."""
        by_name = {v["name"]: v for v in variables(DASHBOARDS["spark-cluster.json"])}
        assert variable_query(by_name["cluster"]) == 'label_values(up{job="spark-exporter"}, cluster)'
        assert by_name["node"]["multi"] and by_name["node"]["includeAll"]
        assert "$cluster" in variable_query(by_name["node"])

    def test_links_point_at_dashboards_here(self) -> None:
        """Every /d/UID link in a panel targets one of these dashboards and passes its variables."""
        uids = {d["uid"] for d in DASHBOARDS.values()}
        links = [link for d in DASHBOARDS.values() for p in all_panels(d["panels"]) if p["type"] != "row"
                 for link in p["fieldConfig"]["defaults"].get("links", [])]
        assert links, "no panel links to the node dashboard"
        for link in links:
            uid = re.match(r"^/d/([\w-]+)", link["url"])
            assert uid is not None and uid.group(1) in uids, link["url"]
            assert "var-node=${__field.labels.node}" in link["url"], link["url"]

    def test_no_data_entries_name_existing_queries(self) -> None:
        """Every NO_DATA entry names a query that exists, so the list cannot go stale."""
        keys = {q.key for q in QUERIES}
        assert set(NO_DATA) <= keys, sorted(set(NO_DATA) - keys)


class TestInterpolation:
    def test_all_becomes_an_escaped_alternation(self) -> None:
        """A multi-value variable set to All is inserted as (a|b) with regex metacharacters escaped."""
        var = {"multi": True, "includeAll": True}
        assert format_variable(var, ["spark-01", "spark-02"]) == "(spark-01|spark-02)"
        assert format_variable(var, ["a.b", "c"]) == "(a\\\\.b|c)"

    def test_one_selected_value_is_escaped_without_parentheses(self) -> None:
        """A multi-value variable with one value selected is inserted as that value, regex-escaped."""
        assert format_variable({"multi": True, "includeAll": True}, ["spark-01"]) == "spark-01"
        assert format_variable({"multi": False}, ["spark.01"]) == "spark.01"

    def test_undefined_variable_is_an_error(self) -> None:
        """A query that uses a variable the dashboard does not define fails instead of passing through."""
        with pytest.raises(KeyError, match="undefined variable"):
            interpolate('up{node="$nod"}', {"node": "spark-01"})


@pytest.mark.integration
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


@pytest.mark.integration
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
