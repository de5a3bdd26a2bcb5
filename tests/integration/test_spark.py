"""Apache Spark through Prometheus: the generated scrape jobs and relabelling against a real local Spark application.

The ``workloads`` fixture (tests/workload_cluster.py) runs one PySpark application with the PrometheusServlet
and executor metrics, scraped by Prometheus with the generated prometheus.yml and rules/, after a shuffle job,
a job whose only task failed, and with a slow job still running.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from helpers.procs import REPO, http_get, prom_query, prometheus, require_binary, wait_for
from helpers.workload_cluster import SPARK_NODE, WorkloadCluster
from spark_exporter.prometheus.inventory import parse_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

# Stable series names after the generated metric_relabel_configs.
DRIVER_NAME = re.compile(r"^spark_driver_[A-Za-z][A-Za-z0-9_]*$")
EXECUTOR_NAME = re.compile(r"^spark_executor_[A-Za-z][A-Za-z0-9_]*$")


INVENTORY = {"cluster": "c1", "nodes": [{"name": "spark-01", "exporter": "10.0.0.1:19400", "spark": "10.0.0.1:4040"},
                                        {"name": "spark-02", "exporter": "10.0.0.2:19400"}]}


class TestSparkScrapeJobs:


    def test_promtool_accepts_the_generated_config(self, tmp_path: Path) -> None:
        """promtool check config accepts the prometheus.yml with the Spark jobs and their relabelling."""
        config = build_prometheus_config(parse_inventory(INVENTORY, "test"), [])
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        result = subprocess.run([require_binary("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


class TestRealSparkApplication:
    def test_driver_series_have_stable_names_and_the_application_id(self, workloads: WorkloadCluster) -> None:
        """Every driver series is spark_driver_<Spark's words>, labelled with the application id as Spark writes it."""
        app_id = workloads.spark.app_id
        result = workloads.query('{job="spark"}')
        names = {s["metric"]["__name__"] for s in result} - {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                                             "scrape_samples_post_metric_relabeling",
                                                             "scrape_series_added"}
        assert names, "no driver series"
        assert all(DRIVER_NAME.match(n) for n in names), sorted(n for n in names if not DRIVER_NAME.match(n))[:5]
        assert not any(app_id.replace("-", "_") in n for n in names)
        for series in result:
            if series["metric"]["__name__"] in names:
                assert series["metric"]["application_id"] == app_id
                assert "type" not in series["metric"]
        assert {"spark_driver_DAGScheduler_job_activeJobs", "spark_driver_DAGScheduler_stage_runningStages",
                "spark_driver_appStatus_tasks_failedTasks_total", "spark_driver_executor_shuffleBytesWritten_total",
                "spark_driver_BlockManager_memory_memUsed_MB", "spark_driver_JVMCPU_jvmCpuTime"} <= names

    def test_gauges_are_kept_once(self, workloads: WorkloadCluster) -> None:
        """The _Number copy of each gauge is dropped: no name ends in _Number or _Value."""
        names = {s["metric"]["__name__"] for s in workloads.query('{job="spark"}')}
        assert not [n for n in names if n.endswith(("_Number", "_Value"))]

    def test_executor_series_keep_spark_labels(self, workloads: WorkloadCluster) -> None:
        """Executors-endpoint series are spark_executor_*, with application_id, application_name, executor_id."""
        result = workloads.query('{job="spark-executors", __name__=~"spark_executor_.*"}')
        assert {s["metric"]["__name__"] for s in result} >= {
            "spark_executor_activeTasks", "spark_executor_memoryUsed_bytes", "spark_executor_maxMemory_bytes",
            "spark_executor_totalCores", "spark_executor_failedTasks_total",
            "spark_executor_totalShuffleRead_bytes_total", "spark_executor_totalShuffleWrite_bytes_total",
            "spark_executor_totalGCTime_seconds_total"}
        for series in result:
            m = series["metric"]
            assert EXECUTOR_NAME.match(m["__name__"])
            assert (m["application_id"], m["application_name"], m["executor_id"]) == (
                workloads.spark.app_id, "spark-exporter-test", "driver")
            assert (m["cluster"], m["node"]) == ("test", SPARK_NODE)

    def test_active_jobs_match_sparks_rest_api(self, workloads: WorkloadCluster) -> None:
        """The recorded active jobs equal the running jobs Spark's REST API lists before and after the sample."""
        spark = workloads.spark
        before = len(spark.running_jobs())
        asked = time.time()
        expr = f'application:spark_active_jobs:sum{{application_id="{spark.app_id}"}}'
        # A rule evaluation after ``asked`` reads a scrape from after it (1s intervals).
        sample = wait_for(lambda: [s for s in workloads.query(expr) if float(s["value"][0]) > asked + 2],
                          timeout=30, what=f"a fresh {expr}")
        after = len(spark.running_jobs())
        assert before == after == 1, "the slow job must be running for the comparison to mean anything"
        assert float(sample[0]["value"][1]) == before
        assert workloads.query("cluster:spark_active_jobs:sum")[0]["value"][1] == "1"

    def test_active_tasks_match_sparks_rest_api(self, workloads: WorkloadCluster) -> None:
        """The recorded active tasks equal the active tasks Spark's REST API reports before and after the sample."""
        before = sum(job["numActiveTasks"] for job in workloads.spark.running_jobs())
        asked = time.time()
        expr = f'application:spark_active_tasks:sum{{application_id="{workloads.spark.app_id}"}}'
        result = wait_for(lambda: [s for s in workloads.query(expr) if float(s["value"][0]) > asked + 2],
                          timeout=30, what=f"a fresh {expr}")
        after = sum(job["numActiveTasks"] for job in workloads.spark.running_jobs())
        assert before == after == 1
        assert float(result[0]["value"][1]) == before

    def test_shuffle_bytes_after_the_shuffle_job(self, workloads: WorkloadCluster) -> None:
        """After the shuffle job the executors' shuffle read and write counters and their rates are above 0."""
        app = f'{{application_id="{workloads.spark.app_id}"}}'
        for expr in (f"spark_executor_totalShuffleRead_bytes_total{app}",
                     f"spark_executor_totalShuffleWrite_bytes_total{app}",
                     f"spark_driver_executor_shuffleBytesWritten_total{app}"):
            assert float(workloads.query(expr)[0]["value"][1]) > 0, expr
        stages = workloads.spark.rest("stages?status=complete")
        written = sum(stage["shuffleWriteBytes"] for stage in stages)
        counter = float(workloads.query(f"spark_executor_totalShuffleWrite_bytes_total{app}")[0]["value"][1])
        assert counter == written  # the same bytes Spark's REST API reports for the completed stages
        workloads.spark.run_shuffle_job()  # a fresh one: the first may be older than the rate's 1m window
        rate = wait_for(lambda: workloads.query(f"application:spark_shuffle_write_bytes:rate1m{app} > 0"),
                        timeout=30, what="a shuffle write rate")
        assert rate[0]["metric"]["application_name"] == "spark-exporter-test"

    def test_failed_task_makes_the_alert_pending(self, workloads: WorkloadCluster) -> None:
        """After a job whose single task failed, SparkApplicationTasksFailing is pending (not firing) for the app."""
        spark = workloads.spark
        app = f'{{application_id="{spark.app_id}"}}'

        def failed_tasks() -> int:
            return sum(job["numFailedTasks"] for job in spark.rest("jobs?status=failed"))

        def executors_failed() -> int:  # what /metrics/executors/prometheus serves, updated by Spark's listener
            return sum(e["failedTasks"] for e in spark.rest("executors"))

        before = failed_tasks()
        # A fresh failure: the fixture's may be older than the alert's 5m increase window by now.
        spark.run_failing_job()
        assert failed_tasks() == before + 1
        # Spark's own state first: the executor summary (the scraped counter) catches up with the job list
        # asynchronously, so wait for it rather than for a time.
        expected = wait_for(lambda: (n := executors_failed()) >= before + 1 and n, timeout=30,
                            what=f"Spark's executors REST API to count {before + 1} failed tasks")

        def scraped() -> float | None:
            result = workloads.query(f"sum(spark_executor_failedTasks_total{app})")
            return float(result[0]["value"][1]) if result else None

        # Then Prometheus: a scrape after that state, and a rule evaluation after that scrape.
        wait_for(lambda: scraped() == expected, timeout=30,
                 what=f"Prometheus to scrape spark_executor_failedTasks_total == {expected}")

        def increase() -> float:
            result = workloads.query(f"application:spark_failed_tasks:increase5m{app}")
            return float(result[0]["value"][1]) if result else 0.0

        assert wait_for(lambda: increase() > 0, timeout=30, what="application:spark_failed_tasks:increase5m > 0")
        expr = f'ALERTS{{alertname="SparkApplicationTasksFailing", application_id="{spark.app_id}"}}'
        alerts = wait_for(lambda: workloads.query(expr), timeout=30, what="the failed-task alert")
        assert [a["metric"]["alertstate"] for a in alerts] == ["pending"], alerts
        assert alerts[0]["metric"]["node"] == SPARK_NODE

    def test_executor_and_memory_rules(self, workloads: WorkloadCluster) -> None:
        """Executors, cores and storage memory per application agree with Spark's executors REST API."""
        executors = workloads.spark.rest("executors")
        app = f'{{application_id="{workloads.spark.app_id}"}}'
        assert float(workloads.query(f"application:spark_executors:count{app}")[0]["value"][1]) == len(executors)
        assert float(workloads.query(f"application:spark_cores:sum{app}")[0]["value"][1]) == sum(
            e["totalCores"] for e in executors)
        assert float(workloads.query(f"application:spark_memory_max_bytes:sum{app}")[0]["value"][1]) == sum(
            e["maxMemory"] for e in executors)

    def test_no_workload_alert_fires_on_a_healthy_run(self, workloads: WorkloadCluster) -> None:
        """The driver and executors are up, so neither SparkDriverGone nor SparkExecutorLost is raised."""
        raised = workloads.query('ALERTS{alertname=~"SparkDriverGone|SparkExecutorLost|SparkVLLMDown"}')
        assert raised == []
        assert http_get(f"http://{workloads.spark.address}/metrics/prometheus")[0] == 200


    def test_prometheus_loaded_every_rule_file(self, workloads: WorkloadCluster) -> None:
        """Prometheus loaded every rules/*.yml file, so the assertions above test the shipped rules."""
        _, body, _ = http_get(f"{workloads.prometheus_url}/api/v1/rules")
        files = {g["file"].rsplit("/", 1)[-1] for g in json.loads(body)["data"]["groups"]}
        assert files == {p.name for p in (REPO / "rules").glob("*.yml")}
        assert prom_query(workloads.prometheus_url, 'up{job="spark"}')[0]["value"][1] == "1"


# Application ids of the other cluster managers, and a spark.metrics.namespace, with the label value the
# relabelling must give each (the id itself; the namespace as PrometheusServlet wrote it).
OTHER_IDS = {
    "app-20261129114939-0003": "app-20261129114939-0003",  # standalone
    "spark-0123456789abcdef0123456789abcdef": "spark-0123456789abcdef0123456789abcdef",  # Kubernetes
    "application_1700000000000_0042": "application_1700000000000_0042",  # YARN
    "nightly-etl": "nightly_etl",  # spark.metrics.namespace=nightly-etl
}


@contextlib.contextmanager
def serve_text(text: str) -> Iterator[str]:
    """Serve ``text`` at /metrics/prometheus on a free loopback port; yields host:port."""
    body = text.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/metrics/prometheus":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class TestApplicationIdFormats:
    def test_every_id_format_gives_the_same_names(self, workloads: WorkloadCluster) -> None:
        """The real driver's output, with the id of a standalone, Kubernetes or YARN application or a namespace
        in its names, is stored under the same series names, with that id (dashes restored) in application_id."""
        _, body, _ = http_get(f"http://{workloads.spark.address}/metrics/prometheus", timeout=10)
        real = body.decode()
        mangled_local = re.sub(r"[^A-Za-z0-9]", "_", workloads.spark.app_id)
        assert f"metrics_{mangled_local}_driver_" in real
        expected_names = {s["metric"]["__name__"] for s in workloads.query(
            f'{{job="spark", application_id="{workloads.spark.app_id}"}}')}
        with contextlib.ExitStack() as stack:
            nodes = []
            for i, app_id in enumerate(OTHER_IDS):
                text = real.replace(f"metrics_{mangled_local}_", f"metrics_{re.sub(r'[^A-Za-z0-9]', '_', app_id)}_")
                address = stack.enter_context(serve_text(text))
                nodes.append({"name": f"n{i}", "exporter": "127.0.0.1:9", "spark": address})
            config = build_prometheus_config(parse_inventory({"cluster": "ids", "nodes": nodes}, "test"), [],
                                             scrape_interval="1s", evaluation_interval="1s")
            prom = stack.enter_context(prometheus(config))
            for i, (app_id, label) in enumerate(OTHER_IDS.items()):
                selector = f'{{job="spark", node="n{i}"}}'
                result = wait_for(lambda s=selector: [x for x in prom_query(prom.url, s)
                                                      if x["metric"]["__name__"] != "up"], timeout=30, what=selector)
                names = {x["metric"]["__name__"] for x in result}
                names -= {"scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                          "scrape_series_added"}
                assert names == expected_names, app_id
                ids = {x["metric"].get("application_id") for x in result if x["metric"]["__name__"] in names}
                assert ids == {label}, app_id
