"""Debian's Prometheus with the generated configuration and rules/, scraping two simulated GB10 exporters.

One cluster is started for the whole class (it takes seconds); the test that stops an exporter runs last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from helpers.cluster import SimulatedCluster, simulated_cluster
from helpers.procs import http_get, prom_query, wait_for

NODES = ("spark-01", "spark-02")
MIB = 1048576  # bytes
# Per-node recording rules the query module and dashboards read.
NODE_RULES = (
    "node:gpu_utilization:avg", "node:gpu_memory_used_bytes:sum", "node:gpu_memory_total_bytes:sum",
    "node:gpu_power_watts:sum", "node:gpu_temperature_celsius:max", "node:cpu_utilization:ratio",
)
CLUSTER_RULES = (
    "cluster:gpu_utilization:avg", "cluster:memory_used_bytes:sum", "cluster:gpu_memory_total_bytes:sum",
    "cluster:power_watts:sum", "cluster:gpu_temperature_celsius:max", "cluster:nodes_up:count",
    "cluster:nodes:count",
)


def by_node(url: str, expr: str, at: float | None = None) -> dict[str, float]:
    return {r["metric"]["node"]: float(r["value"][1]) for r in prom_query(url, expr, at)}


def scalar(url: str, expr: str, at: float | None = None) -> float | None:
    result = prom_query(url, expr, at)
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def rule_groups(url: str) -> list[dict]:
    status, body, _ = http_get(f"{url}/api/v1/rules", timeout=10)
    assert status == 200
    return list(json.loads(body)["data"]["groups"])


@pytest.fixture(scope="class")
def cluster(gb10_cluster: SimulatedCluster) -> Iterator[SimulatedCluster]:
    c = gb10_cluster  # shared per session (conftest.py): these tests only read from it
    # rate() over [1m] needs two samples; wait until every node rule has both nodes.
    for rule in NODE_RULES:
        wait_for(lambda rule=rule: set(by_node(c.prometheus_url, rule)) == set(NODES), 60,
                 what=f"{rule} for both nodes")
    yield c


class TestRecordingRulesOnRealPrometheus:
    def test_every_rule_evaluates_without_error(self, cluster: SimulatedCluster) -> None:
        """Prometheus loads all rule groups and reports every rule healthy once evaluated."""
        def all_evaluated() -> list[dict]:
            rules = [r for g in rule_groups(cluster.prometheus_url) for r in g["rules"]]
            return rules if all(r["health"] != "unknown" for r in rules) else []

        rules = wait_for(all_evaluated, 30, what="every rule evaluated")
        unhealthy = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
        assert not unhealthy
        names = {g["name"] for g in rule_groups(cluster.prometheus_url)}
        assert {"spark-gpu", "spark-nodes", "spark-vllm", "spark-availability", "spark-host"} <= names

    @pytest.mark.parametrize("rule", NODE_RULES)
    def test_node_rules_have_both_nodes(self, cluster: SimulatedCluster, rule: str) -> None:
        """Each per-node rule has one series per inventory node, labelled cluster="test" and node."""
        result = prom_query(cluster.prometheus_url, rule)
        assert sorted(r["metric"]["node"] for r in result) == list(NODES)
        assert {r["metric"]["cluster"] for r in result} == {"test"}
        assert all(set(r["metric"]) == {"__name__", "cluster", "node"} for r in result)

    @pytest.mark.parametrize("rule", CLUSTER_RULES)
    def test_cluster_rules_have_one_series(self, cluster: SimulatedCluster, rule: str) -> None:
        """Each cluster rule has exactly one series, labelled only by cluster."""
        result = prom_query(cluster.prometheus_url, rule)
        assert [r["metric"] for r in result] == [{"__name__": rule, "cluster": "test"}]

    def test_nodes_counted(self, cluster: SimulatedCluster) -> None:
        """Both nodes are counted up, out of two."""
        assert scalar(cluster.prometheus_url, "cluster:nodes_up:count") == 2
        assert scalar(cluster.prometheus_url, "cluster:nodes:count") == 2

    def test_values_are_in_range(self, cluster: SimulatedCluster) -> None:
        """Utilisation is a percentage, CPU a ratio, power and temperature positive."""
        url = cluster.prometheus_url
        assert all(0 <= v <= 100 for v in by_node(url, "node:gpu_utilization:avg").values())
        assert all(0 <= v <= 1 for v in by_node(url, "node:cpu_utilization:ratio").values())
        assert all(v > 0 for v in by_node(url, "node:gpu_power_watts:sum").values())
        assert all(v > 0 for v in by_node(url, "node:gpu_temperature_celsius:max").values())

    def test_unified_memory_total_is_the_host_memory(self, cluster: SimulatedCluster) -> None:
        """On simulated GB10 nodes the GPU memory total is the host's MemTotal, counted once per node."""
        url = cluster.prometheus_url
        totals = by_node(url, "node:gpu_memory_total_bytes:sum")
        host = by_node(url, "max by (node) (node_memory_MemTotal_bytes)")
        for node in NODES:
            assert abs(totals[node] - host[node]) < MIB  # FB_TOTAL is whole MiB
        used = by_node(url, "node:gpu_memory_used_bytes:sum")
        assert all(0 < used[n] <= totals[n] for n in NODES)

    def test_cluster_rules_add_up_the_nodes(self, cluster: SimulatedCluster) -> None:
        """At one evaluation, the cluster memory and power are the sums of the node rules."""
        url = cluster.prometheus_url
        wait_for(lambda: (scalar(url, "count_over_time(cluster:power_watts:sum[1m])") or 0) >= 5, 30,
                 what="a few evaluations")
        at = time.time() - 2  # a completed evaluation: every rule of the group is written
        pairs = (("cluster:memory_used_bytes:sum", "node:gpu_memory_used_bytes:sum"),
                 ("cluster:power_watts:sum", "node:gpu_power_watts:sum"),
                 ("cluster:gpu_memory_total_bytes:sum", "node:gpu_memory_total_bytes:sum"))
        for cluster_rule, node_rule in pairs:
            total = scalar(url, cluster_rule, at)
            parts = by_node(url, node_rule, at)
            assert total is not None and total == pytest.approx(sum(parts.values()), rel=1e-9)

    def test_network_rules_skip_loopback(self, cluster: SimulatedCluster) -> None:
        """Network rates exist for each node's interfaces and never for lo."""
        url = cluster.prometheus_url
        for rule in ("node_device:network_receive_bytes:rate1m", "node_device:network_transmit_bytes:rate1m"):
            series = [r["metric"] for r in prom_query(url, rule)]
            assert {m["node"] for m in series} == set(NODES)
            assert "lo" not in {m["device"] for m in series}
            assert all(set(m) == {"__name__", "cluster", "node", "device"} for m in series)

    def test_no_alerts_while_healthy(self, cluster: SimulatedCluster) -> None:
        """With both exporters up, neither the target-down nor the missing-GPU alert is active."""
        selector = 'ALERTS{alertname=~"SparkExporterDown|SparkGPUMetricsMissing|SparkCollectorFailing"}'
        active = prom_query(cluster.prometheus_url, selector)
        assert active == []


class TestTargetDown:
    def test_stopping_an_exporter_raises_the_target_down_alert(self) -> None:
        """After spark-02's exporter stops, SparkExporterDown for spark-02 goes pending, and only for it."""
        with simulated_cluster(n_nodes=2, profile="gb10", interval="1s") as c:
            url = c.prometheus_url
            wait_for(lambda: scalar(url, "cluster:nodes_up:count") == 2, 60, what="both nodes up")
            c.exporters["spark-02"].stop()

            def alert() -> list[dict]:
                return prom_query(url, 'ALERTS{alertname="SparkExporterDown"}')

            active = wait_for(alert, 60, what="SparkExporterDown")
            assert len(active) == 1
            labels = active[0]["metric"]
            assert labels["node"] == "spark-02" and labels["cluster"] == "test"
            assert labels["alertstate"] in ("pending", "firing")
            assert labels["severity"] == "critical"
            wait_for(lambda: scalar(url, "cluster:nodes_up:count") == 1, 30, what="one node up")
            assert scalar(url, "cluster:nodes:count") == 2
            # Three evaluations of the group after the exporter went down, and the vanished GPU series
            # were never taken for a lost GPU: SparkGPUMetricsMissing shares the group.
            evaluations = 'count_over_time(ALERTS{alertname="SparkExporterDown"}[1m])'
            wait_for(lambda: (scalar(url, evaluations) or 0) >= 3, 30, what="three evaluations, node down")
            assert prom_query(url, 'count_over_time(ALERTS{alertname="SparkGPUMetricsMissing"}[1m])') == []
