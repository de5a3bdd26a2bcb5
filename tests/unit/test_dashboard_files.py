"""The packaged Grafana dashboards as files: structure, datasources, variables, legends and Grafana's
variable interpolation."""

from __future__ import annotations

import re

import pytest
import yaml

from helpers.cluster import RULES_DIR
from helpers.dashboards import (
    DASHBOARD_DIR,
    DASHBOARDS,
    NO_DATA,
    QUERIES,
    all_panels,
    format_variable,
    interpolate,
    variable_query,
    variables,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


RECORDED_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b")


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
