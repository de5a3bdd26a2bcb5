"""Real workloads for tests: one local Apache Spark application and simulated vLLM servers, scraped by Prometheus.

The Spark application is real (PySpark from PyPI on a Java 17 runtime): its driver serves the
PrometheusServlet and the executors endpoint on a free loopback port. Prometheus runs the configuration
that ``spark-exporter config prometheus`` generates for an inventory of these targets, with every rule
file in ``rules/``. Scraping starts before the first job, so counters are seen rising from 0.

Jobs, in order: a shuffle job, a job whose only task fails, and a slow job that stays active (one task
waiting for a release file) until the context exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.procs import PYTHON, Proc, free_port, http_get, prom_query, prometheus, start_process, tempdir, wait_for
from spark_exporter.prometheus.inventory import Inventory, load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config
from spark_exporter.workloads.spark_app import spark_conf, start_session

CLUSTER = "test"
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
SLOW_JOB_MAX_S = 1800  # the slow task gives up by itself after this, should the release never come
# node -> vLLM version of the simulator on it; spark-01 also runs the Spark driver.
VLLM_NODES = {"spark-01": "0.9", "spark-02": "0.12"}
VLLM_MODELS = {"spark-01": "meta-llama/Llama-3.1-8B-Instruct", "spark-02": "Qwen/Qwen2.5-7B-Instruct"}
SPARK_NODE = "spark-01"
APP_NAME = "spark-exporter-test"


FAILURE_TEXT = "a task that fails on purpose"


def _slow_task(path: str, max_s: float):  # type: ignore[no-untyped-def]
    """A task body that runs in Spark's Python worker until ``path`` exists (or ``max_s`` passed).

    Built in a closure so cloudpickle ships it by value: the worker cannot import this test module.
    """
    def run(_: int) -> int:
        import time
        deadline = time.monotonic() + max_s
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.2)
        return 1
    return run


def _failing_task(text: str):  # type: ignore[no-untyped-def]
    def run(_: int) -> int:
        raise RuntimeError(text)
    return run


@dataclass
class SparkApp:
    """A running local Spark application and the jobs the tests drive."""

    session: Any  # pyspark.sql.SparkSession
    app_id: str
    ui_port: int
    workdir: Path
    slow_thread: threading.Thread | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ui_port}"

    @property
    def release_path(self) -> Path:
        return self.workdir / "release-slow-job"

    def rest(self, path: str) -> Any:
        """GET ``/api/v1/applications/<id>/<path>`` from Spark's REST API, parsed."""
        # 30 s: on a loaded 2-core machine Spark's UI thread has taken over 10 s to answer.
        status, body, _ = http_get(f"http://{self.address}/api/v1/applications/{self.app_id}/{path}", timeout=30)
        if status != 200:
            raise RuntimeError(f"Spark REST {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def running_jobs(self) -> list[dict[str, Any]]:
        return list(self.rest("jobs?status=running"))

    def run_shuffle_job(self) -> None:
        sc = self.session.sparkContext
        sc.setJobGroup("shuffle", "a job with a shuffle")
        sc.parallelize(range(20000), 4).map(lambda x: (x % 97, x)).reduceByKey(lambda a, b: a + b).collect()

    def run_failing_job(self) -> None:
        """One partition, one task, which fails (local mode does not retry it); the job fails."""
        sc = self.session.sparkContext
        sc.setJobGroup("failing", "a job whose task fails")
        try:
            sc.parallelize([0], 1).map(_failing_task(FAILURE_TEXT)).collect()
        except Exception as e:  # noqa: BLE001 - the job is meant to fail, for this reason only
            if FAILURE_TEXT not in str(e):
                raise
            return
        raise AssertionError("the failing job succeeded")

    def start_slow_job(self) -> None:
        sc = self.session.sparkContext
        path, max_s = str(self.release_path), SLOW_JOB_MAX_S

        def run() -> None:
            sc.setJobGroup("slow", "a job active until released")
            with contextlib.suppress(Exception):  # cancelled or the session stopped at teardown
                sc.parallelize([0], 1).map(_slow_task(path, max_s)).collect()

        self.slow_thread = threading.Thread(target=run, name="spark-slow-job", daemon=True)
        self.slow_thread.start()
        wait_for(lambda: any(j.get("jobGroup") == "slow" and j["numActiveTasks"] == 1 for j in self.running_jobs()),
                 timeout=120, what="the slow Spark job's task to run")

    def stop(self) -> None:
        self.release_path.touch()
        if self.slow_thread is not None:
            self.slow_thread.join(timeout=30)
        self.session.stop()


@contextlib.contextmanager
def spark_application(workdir: Path) -> Iterator[SparkApp]:
    """Start a local Spark application (its own JVM) with the PrometheusServlet and executor metrics."""
    port = free_port()
    started = time.monotonic()
    session = start_session(spark_conf(port, APP_NAME))
    app = SparkApp(session, session.sparkContext.applicationId, port, workdir)
    app.timings["spark_start_s"] = time.monotonic() - started
    try:
        yield app
    finally:
        app.stop()


@contextlib.contextmanager
def vllm_simulator(version: str, model: str, seed: int) -> Iterator[Proc]:
    """``python -m spark_exporter.workloads.vllm_sim`` on a free port."""
    port = free_port()
    with tempdir("vllm-sim") as d:
        argv = [PYTHON, "-m", "spark_exporter.workloads.vllm_sim", f"--vllm-version={version}",
                f"--listen=127.0.0.1:{port}", f"--model={model}", f"--seed={seed}", "--rate=4"]
        proc = start_process(f"vllm-sim-{version}", argv, port, d, f"http://127.0.0.1:{port}/metrics")
        try:
            yield proc
        finally:
            proc.stop()


@dataclass
class WorkloadCluster:
    prometheus: Proc
    spark: SparkApp
    vllm: dict[str, Proc]  # node -> its simulated vLLM
    inventory: Inventory
    config: dict[str, Any]
    timings: dict[str, float]
    inventory_path: Path

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    def query(self, expr: str) -> list[dict[str, Any]]:
        return prom_query(self.prometheus.url, expr)


def write_inventory(path: Path, spark: SparkApp, vllm: dict[str, Proc]) -> None:
    nodes = []
    for name, proc in vllm.items():
        # No spark-exporter runs here: a closed port, so the exporter job exists and is down.
        node: dict[str, str] = {"name": name, "exporter": f"127.0.0.1:{free_port()}", "vllm": proc.address}
        if name == SPARK_NODE:
            node["spark"] = spark.address
        nodes.append(node)
    path.write_text(yaml.safe_dump({"cluster": CLUSTER, "nodes": nodes}, sort_keys=False))


@contextlib.contextmanager
def workload_cluster(interval: str = "1s") -> Iterator[WorkloadCluster]:
    """Spark application + vLLM 0.9 and 0.12 simulators + Prometheus with the generated config and rules/."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempdir("workloads"))
        vllm = {node: stack.enter_context(vllm_simulator(version, VLLM_MODELS[node], seed=i + 1))
                for i, (node, version) in enumerate(VLLM_NODES.items())}
        spark = stack.enter_context(spark_application(workdir))
        write_inventory(workdir / "inventory.yml", spark, vllm)
        inventory = load_inventory(str(workdir / "inventory.yml"))
        config = build_prometheus_config(inventory, [], scrape_interval=interval, evaluation_interval=interval)
        prom = stack.enter_context(prometheus(config, rule_files=sorted(RULES_DIR.glob("*.yml"))))
        # Counters must be seen at 0 before the jobs, so increase() sees the failed task.
        wait_for(lambda: prom_query(prom.url, 'spark_executor_failedTasks_total{executor_id="driver"} == 0'),
                 timeout=60, what="a first scrape of the Spark executors endpoint")
        jobs_started = time.monotonic()
        spark.run_shuffle_job()
        spark.run_failing_job()
        spark.start_slow_job()
        timings.update(spark.timings)
        timings["spark_jobs_s"] = time.monotonic() - jobs_started
        timings["setup_s"] = time.monotonic() - started
        yield WorkloadCluster(prom, spark, vllm, inventory, config, timings, workdir / "inventory.yml")
