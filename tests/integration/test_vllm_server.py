"""The vLLM simulator's server and vLLM's official dashboard answered through a real Prometheus."""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.procs import PYTHON, free_port, http_get, prom_query, wait_for
from helpers.vllm_dashboard import OFFICIAL_DASHBOARD, official_dashboard, official_queries
from helpers.workload_cluster import VLLM_MODELS, VLLM_NODES, WorkloadCluster

RENAMED_SINCE_0_9 = {"vllm:inter_token_latency_seconds": "vllm:time_per_output_token_seconds"}


def resolve(expr: str, model: str) -> str:
    return expr.replace("$model_name", model).replace("$__rate_interval", "1m")


def for_version(expr: str, version: str) -> str:
    """Map the current names to the ones ``version`` writes, where it writes only the old one."""
    if version == "0.9":
        for new, old in RENAMED_SINCE_0_9.items():
            expr = expr.replace(new, old)
    return expr


def finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(s["value"][1])) for s in result)


class TestServer:
    def test_bad_arguments_exit_2(self) -> None:
        """An unknown version or a malformed listen address is one usage error and exit status 2."""
        for args in (["--vllm-version=0.7"], ["--listen=nowhere"]):
            result = subprocess.run([PYTHON, "-m", "spark_exporter.workloads.vllm_sim", *args], capture_output=True,
                                    text=True, timeout=30)
            assert result.returncode == 2, args
            assert "error:" in result.stderr

    def test_serves_metrics_and_health(self) -> None:
        """The server answers /metrics through prometheus_client's negotiation, as vLLM does: the text format
        with vLLM's names (colons kept) without an Accept header, OpenMetrics with names escaped to
        underscores for Prometheus 2.x's header (prometheus_client >= 0.23.1), colons for Prometheus 3.x's;
        /health, and 404 elsewhere."""
        from helpers.inference_targets import PROMETHEUS_2_ACCEPT, PROMETHEUS_3_ACCEPT
        from helpers.workload_cluster import vllm_simulator
        with vllm_simulator("0.12", "m", seed=1) as proc:
            status, body, headers = http_get(f"{proc.url}/metrics")
            assert status == 200 and headers["Content-Type"].startswith("text/plain;")
            names = {f.name for f in text_string_to_metric_families(body.decode())}
            assert "vllm:generation_tokens" in names and not any(n.startswith("vllm_") for n in names)
            for accept, prefix in ((PROMETHEUS_2_ACCEPT, "vllm_generation_tokens_total"),
                                   (PROMETHEUS_3_ACCEPT, "vllm:generation_tokens_total")):
                status, body, headers = http_get(f"{proc.url}/metrics", headers={"Accept": accept})
                assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text;")
                assert any(line.startswith(prefix + "{") for line in body.decode().splitlines()), accept
            assert http_get(f"{proc.url}/health")[0] == 200
            assert http_get(f"{proc.url}/nope")[0] == 404
        assert free_port()  # the port is released with the process


class TestOfficialDashboard:
    def test_dashboard_uses_model_name_only(self) -> None:
        """vLLM's dashboard has one query variable, model_name, from label_values(model_name)."""
        dashboard = official_dashboard()
        query_vars = [v for v in dashboard["templating"]["list"] if v["type"] == "query"]
        assert [v["name"] for v in query_vars] == ["model_name"]
        assert len(official_queries()) >= 25

    def test_model_name_variable_resolves_to_both_servers(self, workloads: WorkloadCluster) -> None:
        """label_values(model_name) lists the models of the 0.9 and the 0.12 server."""
        status, body, _ = http_get(f"{workloads.prometheus_url}/api/v1/label/model_name/values")
        assert status == 200
        assert set(json.loads(body)["data"]) >= set(VLLM_MODELS.values())

    @pytest.mark.parametrize("node", sorted(VLLM_NODES), ids=lambda n: f"vllm-{VLLM_NODES[n]}")
    @pytest.mark.parametrize("query", official_queries(), ids=lambda q: q[0])
    def test_every_official_query_returns_data(self, workloads: WorkloadCluster, node: str,
                                               query: tuple[str, str]) -> None:
        """The query, with the model of that server and renamed metrics mapped, returns finite data."""
        official_dashboard()  # the reference data is there
        version = VLLM_NODES[node]
        expr = for_version(resolve(query[1], VLLM_MODELS[node]), version)
        result = wait_for(lambda: (r := prom_query(workloads.prometheus_url, expr)) and finite(r) and r,
                          timeout=30, what=f"data for {expr}")
        assert finite(result)

    def test_renamed_names_are_needed_for_0_9(self, workloads: WorkloadCluster) -> None:
        """Unmapped, the inter-token latency queries find nothing from 0.9: the mapping is what makes them work."""
        model = VLLM_MODELS["spark-01"]
        renamed = [expr for _, expr in official_queries() if any(new in expr for new in RENAMED_SINCE_0_9)]
        assert renamed, (f"no query of {OFFICIAL_DASHBOARD} uses a name renamed since 0.9 "
                         f"({', '.join(RENAMED_SINCE_0_9)}): nothing left to show the mapping is needed")
        for expr in renamed:
            assert prom_query(workloads.prometheus_url, resolve(expr, model)) == []

    def test_recording_rules_roll_up_both_versions(self, workloads: WorkloadCluster) -> None:
        """Every per-model vLLM recording rule has a value for the 0.9 node and the 0.12 node."""
        rules = ["node_model:vllm_requests_running:sum", "node_model:vllm_requests_waiting:sum",
                 "node_model:vllm_generation_tokens:rate1m", "node_model:vllm_prompt_tokens:rate1m",
                 "node_model:vllm_time_to_first_token_seconds:p50_rate1m",
                 "node_model:vllm_time_to_first_token_seconds:p95_rate1m",
                 "node_model:vllm_inter_token_latency_seconds:p50_rate1m",
                 "node_model:vllm_inter_token_latency_seconds:p95_rate1m",
                 "node_model:vllm_e2e_request_latency_seconds:p95_rate1m",
                 "node_model:vllm_kv_cache_usage:ratio_max", "node_model:vllm_preemptions:rate1m"]
        for rule in rules:
            result = wait_for(lambda r=rule: len({s["metric"]["node"] for s in prom_query(
                workloads.prometheus_url, r)}) == 2 and prom_query(workloads.prometheus_url, r),
                timeout=60, what=f"{rule} for both nodes")
            assert {(s["metric"]["node"], s["metric"]["model_name"]) for s in result} == set(VLLM_MODELS.items())
        running = prom_query(workloads.prometheus_url, "cluster:vllm_requests_running:sum")
        assert running[0]["metric"]["cluster"] == "test"
