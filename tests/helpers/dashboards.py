"""The packaged Grafana dashboards (dashboards/): panels, queries, variables, the no-data exceptions, and
Grafana's interpolation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from helpers.procs import REPO

DASHBOARD_DIR = REPO / "dashboards"


VARIABLE_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


PROFILES = ("gb10", "h100x2")


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
