"""The overview's own aggregation of Spark, vLLM and alert series, against a real Prometheus.

The overview reads the cluster rules and, where a rule has no series, the raw series as they are, and
sums or counts them itself, so this checks the sums against known values: a Prometheus scrapes a small
target serving fixed Spark and vLLM samples under the names the generated config gives them, evaluates
two always-firing alert rules and one cluster rule with a value of its own (tests/test_spark.py and
tests/test_query_workloads.py run a real Spark).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.procs import prom_query, prometheus, tempdir, wait_for
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.query import ClusterOverview, PrometheusClient, Rollups
from spark_exporter.query.queries import Queries

EXPOSITION = b"""\
spark_driver_DAGScheduler_job_activeJobs{application_id="app-0001"} 2
spark_driver_DAGScheduler_job_activeJobs{application_id="app-0002"} 1
spark_executor_activeTasks{application_id="app-0001",executor_id="1"} 3
spark_executor_activeTasks{application_id="app-0001",executor_id="2"} 4
vllm:num_requests_running{model_name="m"} 5
vllm:num_requests_waiting{model_name="m"} 1
vllm:generation_tokens_total{model_name="m"} 1000
"""
ALERT_RULES = {
    "groups": [
        {
            "name": "always",
            "interval": "1s",
            "rules": [
                # keeps the target's cluster label
                {"alert": "TargetUp", "expr": 'up{job="workloads"} == 1'},
                # no cluster label: still counted as the cluster's
                {"alert": "Unscoped", "expr": "vector(1)"},
                # the cluster rule answers in place of the raw vllm:num_requests_waiting (1)
                {"record": "cluster:vllm_requests_waiting:sum",
                 "expr": 'label_replace(vector(9), "cluster", "t", "", "")'},
            ],
        }
    ]
}


@pytest.fixture(scope="module")
def workload_prometheus() -> Iterator[tuple[str, Path]]:
    """A Prometheus scraping fixed Spark and vLLM samples as cluster ``t``, node ``n1``; and an inventory."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(EXPOSITION)))
            self.end_headers()
            self.wfile.write(EXPOSITION)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "workloads",
                "static_configs": [{"targets": [target], "labels": {"cluster": "t", "node": "n1"}}],
            }
        ],
    }
    try:
        with tempdir("overview") as d:
            (d / "alerts.yml").write_text(yaml.safe_dump(ALERT_RULES))
            (d / "inventory.yml").write_text(
                yaml.safe_dump({"cluster": "t", "nodes": [{"name": "n1", "exporter": target}]})
            )
            with prometheus(config, rule_files=[d / "alerts.yml"]) as prom:
                yield prom.url, d / "inventory.yml"
    finally:
        server.shutdown()
        server.server_close()


def overview(url: str, inventory: Path, aggregate_above: int | None = None) -> tuple[ClusterOverview, int]:
    """The overview and the number of queries it cost; ``aggregate_above`` 0 forces the large-fleet query."""
    async def go() -> tuple[ClusterOverview, int]:
        async with PrometheusClient(url) as client:
            rollups = Rollups(client, load_inventory(str(inventory)), scrape_interval=1.0)
            if aggregate_above is not None:
                rollups.aggregate_above = aggregate_above
            ov = await rollups.cluster_overview()
            return ov, client.queries_issued

    return asyncio.run(go())


class TestOverviewAggregation:
    def test_spark_vllm_and_alerts_are_summed_and_counted(self, workload_prometheus: tuple[str, Path]) -> None:
        """Without their rules, Spark jobs and tasks and vLLM requests are the sums of the raw series; a rule
        with a series answers instead; firing alerts are counted."""
        url, inv = workload_prometheus
        ov = wait_for(
            lambda: (
                (o := overview(url, inv)[0]).firing_alerts == 2 and o.vllm_generation_tokens_per_sec is not None
                and o.vllm_requests_waiting == 9.0 and o
            ),
            timeout=60,
            what="both alerts firing, the waiting rule evaluated and a token rate",
        )
        assert (ov.active_jobs, ov.active_tasks) == (3, 7)
        assert (ov.vllm_requests_running, ov.vllm_requests_waiting) == (5.0, 9.0)
        assert ov.firing_alerts == 2

    def test_a_zero_rate_is_a_reading_not_missing(self, workload_prometheus: tuple[str, Path]) -> None:
        """A constant token counter gives 0 tokens/s, a reading, with no reason under missing (vLLM's and
        every engine's figure)."""
        url, inv = workload_prometheus
        ov = wait_for(
            lambda: (o := overview(url, inv)[0]).vllm_generation_tokens_per_sec is not None and o,
            timeout=60,
            what="a token rate",
        )
        assert ov.vllm_generation_tokens_per_sec == 0.0
        assert "vllmGenerationTokensPerSec" not in ov.missing
        assert ov.inference_generation_tokens_per_sec == 0.0
        assert "inferenceGenerationTokensPerSec" not in ov.missing

    def test_missing_gpu_series_cost_no_second_query(self, workload_prometheus: tuple[str, Path]) -> None:
        """The overview is one query, its GPU figures aggregated from the raw series in it; without DCGM series
        they are None with reasons."""
        url, inv = workload_prometheus
        ov, queries = overview(url, inv)
        assert queries == 1
        assert ov.gpu_utilization is None and ov.power_draw_w is None
        assert ov.missing["gpuUtilization"] == "no DCGM_FI_DEV_GPU_UTIL series for cluster t"
        assert ov.missing["memoryUsedGB"] == "no DCGM_FI_DEV_FB_USED series for cluster t"
        assert (ov.nodes_up, ov.nodes_total) == (1, 1)


class TestOverviewSize:
    def test_healthy_targets_send_no_series(self, workload_prometheus: tuple[str, Path]) -> None:
        """With every target up and fresh, the overview's answer holds no series per target (only totals), so it
        does not grow with the fleet; a target silent for longer than stale_after is listed with its age."""
        url, _ = workload_prometheus
        fresh = prom_query(url, Queries("t").overview(60.0, ("n1",)))
        assert fresh and not [s["metric"] for s in fresh if "instance" in s["metric"]]
        late = prom_query(url, Queries("t").overview(0.000001, ("n1",)))
        assert [s["metric"]["node"] for s in late if "instance" in s["metric"]] == ["n1"]

    def test_nodes_up_count_only_the_inventory_s_nodes(self, workload_prometheus: tuple[str, Path]) -> None:
        """nodesTotal is the inventory's size and nodesUp counts its nodes that are up, matched literally: an
        inventory node 'n.' is not the scraped node n1, and one Prometheus has no target for is not up; in the
        small-fleet and the large-fleet query alike."""
        url, inv = workload_prometheus
        for names, expected in ((["n1", "n9"], (1, 2)), (["n."], (0, 1))):
            other = inv.parent / "other.yml"
            other.write_text(yaml.safe_dump({"cluster": "t", "nodes": [
                {"name": n, "exporter": f"127.0.0.1:{9100 + i}"} for i, n in enumerate(names)]}))
            for aggregate_above in (None, 0):
                ov, queries = overview(url, other, aggregate_above)
                assert (ov.nodes_up, ov.nodes_total, queries) == (*expected, 1), (names, aggregate_above)

    def test_the_large_fleet_query_sums_and_counts_alike(self, workload_prometheus: tuple[str, Path]) -> None:
        """The query Prometheus aggregates gives the same Spark, vLLM and alert figures as the one read by name."""
        url, inv = workload_prometheus
        wait_for(lambda: overview(url, inv)[0].firing_alerts == 2, 60, what="both alerts firing")
        small, large = overview(url, inv)[0], overview(url, inv, 0)[0]
        for field in ("active_jobs", "active_tasks", "vllm_requests_running", "vllm_requests_waiting",
                      "firing_alerts", "nodes_up", "nodes_total", "missing"):
            assert getattr(large, field) == getattr(small, field), field
        assert (large.active_jobs, large.active_tasks, large.firing_alerts) == (3, 7, 2)
