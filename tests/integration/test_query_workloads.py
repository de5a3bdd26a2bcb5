"""The Spark and inference rollups, the overview's workload figures, their API endpoints and CLI, against
a real local Spark application and simulated vLLM 0.9 and 0.12 scraped by a real Prometheus with rules/.

The ``workloads`` fixture (tests/workload_cluster.py) keeps one slow Spark job active for the whole
session, after a shuffle job and a failing one, so the running-job count is stable while compared with
Spark's own REST API.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from openapi_schema_validator import OAS31Validator

from helpers.api import api
from helpers.procs import PYTHON, Proc, http_get, wait_for
from helpers.workload_cluster import SPARK_NODE, VLLM_MODELS, VLLM_NODES, WorkloadCluster
from spark_exporter.query import ClusterOverview, Inference, PrometheusClient, Rollups, SparkApplications
from spark_exporter.query.models import ModelInference, SparkApplication

T = TypeVar("T")


def rollup(w: WorkloadCluster, call: Callable[[Rollups], Awaitable[T]]) -> T:
    """One rollup through the Python module, over a fresh client."""
    async def go() -> T:
        async with PrometheusClient(w.prometheus_url) as client:
            return await call(Rollups(client, w.inventory, scrape_interval=1.0))

    return asyncio.run(go())


def spark(w: WorkloadCluster) -> SparkApplications:
    return rollup(w, lambda r: r.spark_applications())


def inference(w: WorkloadCluster) -> Inference:
    return rollup(w, lambda r: r.inference())


def overview(w: WorkloadCluster) -> ClusterOverview:
    return rollup(w, lambda r: r.cluster_overview())


# Spark's task-time counters move only when a task ends: once the slow task is the only one running for
# a minute, the GC share has no value (no task time), with that reason.
GC_UNTIL_A_TASK_ENDS = {"gcTimeRatio"}


def complete(model: SparkApplication | ModelInference) -> bool:
    return not set(model.missing) - GC_UNTIL_A_TASK_ENDS


def the_app(w: WorkloadCluster) -> SparkApplication:
    """The test application once every figure has a value (rate rules need two scrapes)."""
    def ready() -> SparkApplication | None:
        apps = [a for a in spark(w).applications if a.application_id == w.spark.app_id]
        return apps[0] if apps and complete(apps[0]) else None

    app: SparkApplication = wait_for(ready, timeout=60, interval=0.5, what="every figure of the Spark application")
    return app


def every_model(w: WorkloadCluster) -> Inference:
    """The inference rollup once both simulated models have every figure."""
    def ready() -> Inference | None:
        out = inference(w)
        return out if len(out.models) == len(VLLM_NODES) and all(complete(m) for m in out.models) else None

    result: Inference = wait_for(ready, timeout=60, interval=0.5, what="every figure of both vLLM models")
    return result


class TestSparkRollup:
    def test_application_matches_sparks_rest_api(self, workloads: WorkloadCluster) -> None:
        """The running application's jobs, executors, cores and memory are what Spark's REST API reports."""
        app = the_app(workloads)
        rest = workloads.spark
        executors = rest.rest("executors")
        assert app.application_name == "spark-exporter-test" and app.node == SPARK_NODE
        assert app.active_jobs == len(rest.running_jobs()) == 1
        assert app.executors == len(executors)
        assert app.cores == sum(e["totalCores"] for e in executors)
        assert app.memory_max_bytes == sum(e["maxMemory"] for e in executors)
        assert app.memory_used_bytes is not None and 0 <= app.memory_used_bytes <= app.memory_max_bytes

    def test_active_tasks_are_the_slow_jobs_task(self, workloads: WorkloadCluster) -> None:
        """Active tasks equal the running jobs' active tasks in the REST API (the slow job's one task), once a
        scrape has caught up with what the REST API already says (the rollup reads the last scrape, evaluated
        2 s behind the clock)."""
        def agree() -> tuple[int | None, int] | None:
            app = the_app(workloads)
            rest = sum(j["numActiveTasks"] for j in workloads.spark.running_jobs())
            return (app.active_tasks, rest) if app.active_tasks == rest == 1 else None

        assert wait_for(agree, timeout=60, interval=1, what="the rollup's active tasks equal to the REST API's (1)")

    def test_rates_and_ratios_are_readings(self, workloads: WorkloadCluster) -> None:
        """Shuffle rates and failed tasks are numbers >= 0; the GC share is 0..1, or null saying no task ran."""
        app = the_app(workloads)
        for value in (app.shuffle_read_bytes_per_sec, app.shuffle_write_bytes_per_sec, app.failed_tasks_5m):
            assert value is not None and value >= 0
        if app.gc_time_ratio is None:
            assert app.missing["gcTimeRatio"].endswith("(no task ran in the last minute)")
        else:
            assert 0 <= app.gc_time_ratio <= 1 and "gcTimeRatio" not in app.missing

    def test_totals_add_up_the_applications(self, workloads: WorkloadCluster) -> None:
        """With one application the cluster totals equal its figures."""
        app = the_app(workloads)
        out = wait_for(lambda: (s := spark(workloads)).totals.cores is not None and s, timeout=30,
                       what="Spark totals")
        assert out.cluster == "test" and len(out.applications) == 1
        t = out.totals
        assert (t.applications, t.active_jobs, t.executors, t.cores) == (1, app.active_jobs, app.executors, app.cores)
        assert t.memory_max_bytes == app.memory_max_bytes

    def test_overview_active_jobs_equal_the_rest_apis_running_jobs(self, workloads: WorkloadCluster) -> None:
        """The overview's activeJobs and activeTasks are what Spark's REST API lists as running."""
        # The overview reads an instant 2 s back (Rollups.settle): wait until it has the job started just now.
        ov = wait_for(lambda: (o := overview(workloads)).active_jobs == 1 and (o.active_tasks or 0) >= 1 and o,
                      timeout=30, what="the running job and its task in the overview")
        running = workloads.spark.running_jobs()
        assert ov.active_jobs == len(running) == 1
        assert ov.active_tasks == sum(j["numActiveTasks"] for j in running)
        assert "activeJobs" not in ov.missing and "activeTasks" not in ov.missing


class TestInferenceRollup:
    def test_both_versions_have_every_figure(self, workloads: WorkloadCluster) -> None:
        """vLLM 0.9 (old and new names) and 0.12 (new names only) each give every figure, per node and model."""
        out = every_model(workloads)
        assert {(m.node, m.model_name) for m in out.models} == set(VLLM_MODELS.items())
        for m in out.models:
            assert m.generation_tokens_per_sec is not None and m.generation_tokens_per_sec > 0
            assert m.kv_cache_usage is not None and 0 <= m.kv_cache_usage <= 1
            latencies = (m.time_to_first_token_p50_seconds, m.time_to_first_token_p95_seconds,
                         m.inter_token_latency_p50_seconds, m.inter_token_latency_p95_seconds,
                         m.e2e_request_latency_p95_seconds)
            assert all(v is not None and v > 0 for v in latencies), m
            assert m.time_to_first_token_p50_seconds <= m.time_to_first_token_p95_seconds  # type: ignore[operator]

    def test_totals_are_the_clusters(self, workloads: WorkloadCluster) -> None:
        """Cluster totals are numbers; tokens per second are positive with two models generating."""
        out = every_model(workloads)
        t = out.totals
        assert out.cluster == "test"
        assert t.requests_running is not None and t.requests_waiting is not None
        assert t.generation_tokens_per_sec is not None and t.generation_tokens_per_sec > 0
        assert t.prompt_tokens_per_sec is not None and t.prompt_tokens_per_sec > 0
        assert t.preemptions_per_sec is not None and "totals.preemptionsPerSec" not in out.missing

    def test_totals_are_the_sums_of_the_rows(self, workloads: WorkloadCluster) -> None:
        """Within one answer, each total equals the sum of its model rows (one evaluation, no drift)."""
        out = every_model(workloads)
        for field in ("requests_running", "requests_waiting", "generation_tokens_per_sec", "prompt_tokens_per_sec"):
            rows = [getattr(m, field) for m in out.models if getattr(m, field) is not None]
            assert rows and getattr(out.totals, field) == pytest.approx(sum(rows)), field

    def test_overview_vllm_fields_are_numbers(self, workloads: WorkloadCluster) -> None:
        """The overview's vLLM fields are readings, with no reason under missing."""
        ov = wait_for(lambda: (o := overview(workloads)).vllm_generation_tokens_per_sec is not None and o,
                      timeout=30, what="a token rate")
        assert ov.vllm_generation_tokens_per_sec is not None and ov.vllm_generation_tokens_per_sec > 0
        assert ov.vllm_requests_running is not None and ov.vllm_requests_waiting is not None
        assert not {"vllmRequestsRunning", "vllmRequestsWaiting", "vllmGenerationTokensPerSec"} & set(ov.missing)


@pytest.fixture(scope="module")
def workload_api(workloads: WorkloadCluster) -> Iterator[tuple[Proc, dict[str, Any]]]:
    """``spark-exporter api`` over the workload Prometheus (no cache, no rate limit), and its OpenAPI document."""
    with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=workloads.prometheus_url,
             inventory=workloads.inventory_path) as p:
        _, body, _ = http_get(p.url + "/api/v1/openapi.json", timeout=15)
        yield p, json.loads(body)


def get(proc: Proc, path: str) -> tuple[int, Any]:
    status, body, _ = http_get(proc.url + path, timeout=15)
    return status, json.loads(body)


def validate(doc: dict[str, Any], path: str, body: Any) -> None:
    schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": doc["components"]}).validate(body)


class TestApi:
    def test_spark_endpoint(self, workloads: WorkloadCluster, workload_api: tuple[Proc, dict[str, Any]]) -> None:
        """/api/v1/spark lists the application with camelCase figures and validates against the document."""
        proc, doc = workload_api
        the_app(workloads)
        status, body = get(proc, "/api/v1/spark")
        assert status == 200
        validate(doc, "/api/v1/spark", body)
        (app,) = body["applications"]
        assert app["applicationId"] == workloads.spark.app_id
        assert app["activeJobs"] == 1 and app["executors"] == len(workloads.spark.rest("executors"))
        assert body["totals"]["applications"] == 1

    def test_inference_endpoint(self, workloads: WorkloadCluster, workload_api: tuple[Proc, dict[str, Any]]) -> None:
        """/api/v1/inference has both models with numbers and validates against the document."""
        proc, doc = workload_api
        every_model(workloads)
        status, body = get(proc, "/api/v1/inference")
        assert status == 200
        validate(doc, "/api/v1/inference", body)
        assert {m["modelName"] for m in body["models"]} == set(VLLM_MODELS.values())
        assert all(isinstance(m["generationTokensPerSec"], float) for m in body["models"])

    def test_overview_endpoint(self, workloads: WorkloadCluster, workload_api: tuple[Proc, dict[str, Any]]) -> None:
        """/api/v1/cluster/overview carries activeJobs and the vLLM fields as numbers, and validates."""
        proc, doc = workload_api
        body = wait_for(lambda: (b := get(proc, "/api/v1/cluster/overview")[1])["vllmGenerationTokensPerSec"]
                        is not None and b, timeout=30, what="a token rate")
        validate(doc, "/api/v1/cluster/overview", body)
        assert body["activeJobs"] == len(workloads.spark.running_jobs())
        assert isinstance(body["vllmRequestsRunning"], float) and isinstance(body["vllmRequestsWaiting"], float)


def query(w: WorkloadCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "spark_exporter", "query", f"--prometheus.url={w.prometheus_url}",
                           f"--inventory={w.inventory_path}", *args], capture_output=True, text=True, timeout=60)


def rows(table: str) -> dict[str, list[str]]:
    """A rendered table's rows by first column (columns split on runs of two or more spaces)."""
    return {cells[0]: cells for line in table.splitlines() if (cells := re.split(r"\s{2,}", line.strip()))}


class TestCli:
    def test_spark_json_is_the_api_document(self, workloads: WorkloadCluster) -> None:
        """``query spark --format=json`` prints the application as the API does."""
        the_app(workloads)
        out = query(workloads, "--format=json", "spark")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert [a["applicationId"] for a in doc["applications"]] == [workloads.spark.app_id]
        assert doc["applications"][0]["activeJobs"] == 1

    def test_spark_table_has_a_row_per_application(self, workloads: WorkloadCluster) -> None:
        """``query spark`` prints the application's id, name, node and active jobs in its row."""
        the_app(workloads)
        out = query(workloads, "spark")
        assert out.returncode == 0, out.stderr
        row = rows(out.stdout)[workloads.spark.app_id]
        assert row[1:4] == ["spark-exporter-test", SPARK_NODE, "1"]

    def test_inference_table_and_json(self, workloads: WorkloadCluster) -> None:
        """``query inference`` prints one row per node with its engine and model; the JSON has both models."""
        every_model(workloads)
        table = query(workloads, "inference")
        assert table.returncode == 0, table.stderr
        got = rows(table.stdout)
        for node, model in VLLM_MODELS.items():
            assert got[node][1:3] == ["vllm", model] and got[node][5] != "n/a"
        doc = json.loads(query(workloads, "--format=json", "inference").stdout)
        assert {m["node"] for m in doc["models"]} == set(VLLM_NODES)
