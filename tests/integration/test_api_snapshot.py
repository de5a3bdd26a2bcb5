"""The API's one-instant snapshots (``?time=``), its per-node GPU histories and its alert list, against a real
Prometheus scraping simulated GB10 exporters (with its rules, and one alerting rule file of the test's own)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from helpers.cluster import SimulatedCluster, all_rule_files
from helpers.procs import PYTHON, Proc, free_port, http_get, prometheus, start_process, tempdir, wait_for

pytestmark = pytest.mark.integration

# Rules of the test's own: one alert that fires at once, one that stays pending (its for: is an hour).
TEST_ALERTS = {
    "groups": [{
        "name": "snapshot-test",
        "rules": [
            {"alert": "TestGpuWarm", "expr": "max by (node, gpu) (DCGM_FI_DEV_GPU_TEMP) > 0", "for": "0s",
             "labels": {"severity": "warning"},
             "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.node }} is warm",
                             "runbook_url": "https://example.org/docs/alerts.md#testgpuwarm"}},
            {"alert": "TestClusterSlow", "expr": "vector(1)", "for": "1h",
             "labels": {"severity": "critical"}, "annotations": {"description": "never fires in a test"}},
        ],
    }],
}


@pytest.fixture(scope="module")
def snapshot_api(gb10_cluster: SimulatedCluster) -> Iterator[tuple[Proc, SimulatedCluster]]:
    """A Prometheus of its own (the cluster's scrape configuration, every packaged rule and TEST_ALERTS, 1 s
    evaluation) and the API on it."""
    with tempdir("snapshot") as d:
        (d / "test-alerts.yml").write_text(yaml.safe_dump(TEST_ALERTS))
        config = dict(gb10_cluster.config)
        with prometheus(config, rule_files=[*all_rule_files(), d / "test-alerts.yml"]) as prom:
            port = free_port()
            argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                    f"--prometheus.url={prom.url}", f"--inventory={gb10_cluster.inventory_path}",
                    "--prometheus.scrape-interval=1s", "--api.rate-limit=0", "--api.cache-ttl=1s"]
            api = start_process("api", argv, port, d, f"http://127.0.0.1:{port}/-/healthy")
            try:
                wait_for(lambda: get(api, "/api/v1/cluster/overview")[1].get("nodesUp") == 2, 60,
                         what="both nodes up")
                yield api, gb10_cluster
            finally:
                api.stop()


def get(api: Proc, path: str) -> tuple[int, Any]:
    status, body, _ = http_get(api.url + path, timeout=15)
    return status, json.loads(body)


class TestOneInstant:
    def test_cards_equal_the_aggregate_of_the_node_answers_at_one_instant(
        self, snapshot_api: tuple[Proc, SimulatedCluster]
    ) -> None:
        """For five successive instants, the overview's power is the sum of the nodes' power and its hottest GPU
        the hottest of the nodes, every answer echoing the instant it was asked for."""
        api, cluster = snapshot_api
        nodes = list(cluster.exporters)
        for _ in range(5):
            status, ov = get(api, "/api/v1/cluster/overview")
            assert status == 200
            at = ov["evaluatedAt"]
            assert isinstance(at, float) and abs(at - time.time()) < 30
            answers = [get(api, f"/api/v1/nodes/{n}/gpu?time={at}")[1] for n in nodes]
            assert {a["evaluatedAt"] for a in answers} == {at}
            assert ov["powerDrawW"] == pytest.approx(sum(a["powerDraw"] for a in answers), abs=1e-6)
            assert ov["maxGpuTemperatureC"] == max(a["temperature"] for a in answers)
            listed = get(api, f"/api/v1/nodes?time={at}")[1]
            assert listed["evaluatedAt"] == at
            assert [n["powerDraw"] for n in listed["nodes"]] == pytest.approx([a["powerDraw"] for a in answers])
            time.sleep(1.1)  # past a scrape: the next instant's figures differ

    def test_an_earlier_instant_gives_that_instant_s_figures(self, snapshot_api: tuple[Proc, SimulatedCluster]) -> None:
        """Asking twice for one past instant gives the same answer; the time is echoed as evaluatedAt."""
        api, _ = snapshot_api
        at = round(time.time() - 3, 3)
        first = get(api, f"/api/v1/cluster/overview?time={at}")[1]
        time.sleep(1.5)  # past the 1 s cache: asked again of Prometheus
        again = get(api, f"/api/v1/cluster/overview?time={at}")[1]
        assert first["evaluatedAt"] == again["evaluatedAt"] == at
        assert (first["powerDrawW"], first["gpuUtilization"]) == (again["powerDrawW"], again["gpuUtilization"])

    @pytest.mark.parametrize("bad", ["abc", "nan", "inf", "-5", "0", "an-hour-ahead"])
    def test_a_bad_time_is_a_400(self, snapshot_api: tuple[Proc, SimulatedCluster], bad: str) -> None:
        """Text, NaN, infinities, non-positive and far-future instants answer 400 with the JSON error shape."""
        api, _ = snapshot_api
        if bad == "an-hour-ahead":  # computed when the test runs, so every collection names the same tests
            bad = str(time.time() + 3600)
        for path in ("/api/v1/cluster/overview", "/api/v1/nodes", "/api/v1/nodes/spark-01/gpu", "/api/v1/network"):
            status, body = get(api, f"{path}?time={bad}")
            assert status == 400, path
            assert body["errorType"] == "bad_parameter" and "time" in body["error"]

    def test_cpu_utilization_has_a_percent_field(self, snapshot_api: tuple[Proc, SimulatedCluster]) -> None:
        """cpuUtilizationPercent is cpuUtilization (0..1) in %, like every other utilisation figure."""
        api, _ = snapshot_api
        at = get(api, "/api/v1/cluster/overview")[1]["evaluatedAt"]
        for n in wait_for(lambda: (ns := get(api, f"/api/v1/nodes?time={at}")[1]["nodes"])
                          and all(x["cpuUtilization"] is not None for x in ns) and ns, 30, what="CPU figures"):
            assert n["cpuUtilizationPercent"] == pytest.approx(100 * n["cpuUtilization"])


class TestHistories:
    @pytest.mark.parametrize(("metric", "unit"), [("utilization", "%"), ("temperature", "C"), ("power", "W"),
                                                  ("memory", "MiB")])
    def test_each_history_has_its_unit_and_points(self, snapshot_api: tuple[Proc, SimulatedCluster],
                                                  metric: str, unit: str) -> None:
        """utilization, temperature, power and memory each answer one series per node with points in their unit."""
        api, _ = snapshot_api

        def answer() -> dict[str, Any] | None:
            doc = get(api, f"/api/v1/nodes/spark-01/gpu/{metric}?duration=1h&envelope=1")[1]
            return doc if doc["series"] and any(p["value"] is not None for p in doc["series"][0]["values"]) else None

        doc = wait_for(answer, 30, what=f"{metric} history points")
        assert (doc["metric"], doc["unit"], doc["duration"], doc["step"]) == (metric, unit, "1h", 15)
        assert [s["metric"].get("node") for s in doc["series"]] == ["spark-01"]
        values = [p["value"] for p in doc["series"][0]["values"] if p["value"] is not None]
        assert all(v >= 0 for v in values)

    def test_an_unknown_history_metric_is_a_404(self, snapshot_api: tuple[Proc, SimulatedCluster]) -> None:
        """Only the four histories exist as paths."""
        api, _ = snapshot_api
        status, body = get(api, "/api/v1/nodes/spark-01/gpu/fan")
        assert status == 404 and body["status"] == "error"


class TestAlerts:
    def test_firing_and_pending_alerts_are_listed_by_name_most_severe_first(
        self, snapshot_api: tuple[Proc, SimulatedCluster]
    ) -> None:
        """A firing rule is listed per node and GPU with its severity, summary, start and runbook; a pending one
        too; the critical (pending) alert sorts first; the counts match."""
        api, _ = snapshot_api

        def listed() -> dict[str, Any] | None:
            doc = get(api, "/api/v1/alerts")[1]
            names = {a["name"] for a in doc["alerts"]}
            return doc if {"TestGpuWarm", "TestClusterSlow"} <= names else None

        doc = wait_for(listed, 60, what="the test alerts listed")
        first = doc["alerts"][0]
        assert (first["name"], first["state"], first["severity"]) == ("TestClusterSlow", "pending", "critical")
        assert first["summary"] == "never fires in a test" and first["runbookUrl"] is None
        warm = [a for a in doc["alerts"] if a["name"] == "TestGpuWarm"]
        assert {a["node"] for a in warm} == {"spark-01", "spark-02"}
        for a in warm:
            assert a["state"] == "firing" and a["severity"] == "warning" and a["gpu"] == "0"
            assert a["summary"] == f"GPU 0 on {a['node']} is warm"
            assert a["runbookUrl"] == "https://example.org/docs/alerts.md#testgpuwarm"
            assert 0 < time.time() - a["since"] < 600
        assert doc["firing"] == sum(1 for a in doc["alerts"] if a["state"] == "firing")
        assert doc["pending"] == sum(1 for a in doc["alerts"] if a["state"] == "pending")
        assert doc["truncated"] is False
