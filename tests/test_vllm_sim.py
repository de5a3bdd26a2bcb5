"""The vLLM metrics simulator: vLLM's families per version, deterministic traffic, its server, and vLLM's
official Grafana dashboard answered through a real Prometheus for 0.9 and 0.12 side by side."""

from __future__ import annotations

import json
import math
import subprocess
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from reference import missing, reference_dir

from procs import PYTHON, free_port, http_get, prom_query, wait_for
from spark_exporter.workloads.vllm_sim import Profile, VLLMSimulator, build_1_2_5_buckets
from workload_cluster import VLLM_MODELS, VLLM_NODES, WorkloadCluster

OFFICIAL_DASHBOARD = reference_dir() / "dashboards" / "vllm-grafana.json"

# vLLM's V1 families (vllm/v1/metrics/loggers.py) and their types, as prometheus_client's text parser
# names them (counters without _total).
COMMON = {
    "vllm:num_requests_running": "gauge", "vllm:num_requests_waiting": "gauge", "vllm:kv_cache_usage_perc": "gauge",
    "vllm:cache_config_info": "gauge", "vllm:prefix_cache_queries": "counter", "vllm:prefix_cache_hits": "counter",
    "vllm:num_preemptions": "counter", "vllm:prompt_tokens": "counter", "vllm:generation_tokens": "counter",
    "vllm:request_success": "counter", "vllm:request_prompt_tokens": "histogram",
    "vllm:request_generation_tokens": "histogram", "vllm:iteration_tokens_total": "histogram",
    "vllm:request_max_num_generation_tokens": "histogram", "vllm:request_params_n": "histogram",
    "vllm:request_params_max_tokens": "histogram", "vllm:time_to_first_token_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram", "vllm:request_queue_time_seconds": "histogram",
    "vllm:request_inference_time_seconds": "histogram", "vllm:request_prefill_time_seconds": "histogram",
    "vllm:request_decode_time_seconds": "histogram",
}
ONLY_0_9 = {"vllm:gpu_cache_usage_perc": "gauge", "vllm:gpu_prefix_cache_queries": "counter",
            "vllm:gpu_prefix_cache_hits": "counter", "vllm:time_per_output_token_seconds": "histogram"}
ONLY_0_12 = {"vllm:inter_token_latency_seconds": "histogram", "vllm:request_time_per_output_token_seconds": "histogram",
             "vllm:engine_sleep_state": "gauge", "vllm:external_prefix_cache_queries": "counter",
             "vllm:external_prefix_cache_hits": "counter", "vllm:mm_cache_queries": "counter",
             "vllm:mm_cache_hits": "counter"}
EXPECTED = {"0.9": {**COMMON, **ONLY_0_9}, "0.12": {**COMMON, **ONLY_0_12}}
# Current name -> the name 0.9 wrote instead (where 0.9 did not write both).
RENAMED_SINCE_0_9 = {"vllm:inter_token_latency_seconds": "vllm:time_per_output_token_seconds"}
BUCKETS = {
    "vllm:time_to_first_token_seconds": [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                                         5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0],
    "vllm:inter_token_latency_seconds": [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                                         7.5, 10.0, 20.0, 40.0, 80.0],
    "vllm:e2e_request_latency_seconds": [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                                         60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0],
    "vllm:iteration_tokens_total": [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
    "vllm:request_params_n": [1, 2, 5, 10, 20],
    "vllm:request_prompt_tokens": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],  # max_model_len 8192
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def families(sim: VLLMSimulator) -> dict[str, Metric]:
    text = generate_latest(sim.registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text) if not f.name.endswith("_created")}


def run(version: str, seconds: int, seed: int = 1) -> VLLMSimulator:
    clock = FakeClock()
    sim = VLLMSimulator(version, seed=seed, clock=clock)
    for _ in range(seconds):
        clock.now += 1
        sim.advance()
    return sim


def value(fams: dict[str, Metric], name: str, suffix: str = "", **labels: str) -> float:
    return sum(s.value for s in fams[name].samples
               if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()))


class TestFamilies:
    @pytest.mark.parametrize("version", ["0.9", "0.12"])
    def test_exactly_vllms_families_and_types(self, version: str) -> None:
        """The exposition holds exactly the families of that vLLM release, each with vLLM's type."""
        fams = families(run(version, 5))
        assert {name: f.type for name, f in fams.items()} == EXPECTED[version]

    @pytest.mark.parametrize("version", ["0.9", "0.12"])
    def test_label_names(self, version: str) -> None:
        """Every per-engine series is labelled model_name and engine; request_success adds finished_reason."""
        fams = families(run(version, 5))
        for name, family in fams.items():
            if name == "vllm:cache_config_info":
                continue
            for sample in family.samples:
                extra = set(sample.labels) - {"model_name", "engine", "le"}
                assert {"model_name", "engine"} <= set(sample.labels), name
                assert extra <= ({"finished_reason"} if name == "vllm:request_success" else
                                 {"sleep_state"} if name == "vllm:engine_sleep_state" else set()), name
        reasons = {s.labels["finished_reason"] for s in fams["vllm:request_success"].samples}
        assert reasons == {"stop", "length", "abort"}

    @pytest.mark.parametrize("name", sorted(BUCKETS))
    def test_histogram_buckets_are_vllms(self, name: str) -> None:
        """Histogram bucket bounds are vLLM's, in order, ending in +Inf."""
        version = "0.12"
        fams = families(run(version, 2))
        bounds = [s.labels["le"] for s in fams[name].samples if s.name == f"{name}_bucket"]
        assert bounds == [str(float(b)) for b in BUCKETS[name]] + ["+Inf"]

    def test_old_inter_token_latency_has_the_same_buckets(self) -> None:
        """0.9's vllm:time_per_output_token_seconds has the buckets 0.12's inter-token histogram has."""
        fams = families(run("0.9", 2))
        name = "vllm:time_per_output_token_seconds"
        bounds = [s.labels["le"] for s in fams[name].samples if s.name == f"{name}_bucket"]
        assert bounds == [str(float(b)) for b in BUCKETS["vllm:inter_token_latency_seconds"]] + ["+Inf"]

    def test_1_2_5_buckets(self) -> None:
        """Token-count buckets follow vLLM's 1-2-5 series up to the model length."""
        assert build_1_2_5_buckets(100) == [1, 2, 5, 10, 20, 50, 100]
        assert build_1_2_5_buckets(1) == [1]

    def test_counters_have_created_samples(self) -> None:
        """Counters and histograms carry a _created sample, as prometheus_client writes for vLLM."""
        text = generate_latest(run("0.12", 2).registry).decode()
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"vllm:generation_tokens_created", "vllm:time_to_first_token_seconds_created"} <= names

    def test_unknown_version_is_refused(self) -> None:
        """A version the simulator does not know raises ValueError naming the known ones."""
        with pytest.raises(ValueError, match="0.9, 0.12"):
            VLLMSimulator("0.7")


class TestTraffic:
    def test_same_seed_same_exposition(self) -> None:
        """Two simulators with one seed and one clock produce identical samples (_created aside: wall time)."""
        a, b = families(run("0.12", 120, seed=7)), families(run("0.12", 120, seed=7))
        assert a == b

    def test_other_seed_other_traffic(self) -> None:
        """Another seed gives other token counts."""
        a, b = families(run("0.12", 120, seed=7)), families(run("0.12", 120, seed=8))
        assert value(a, "vllm:generation_tokens", "_total") != value(b, "vllm:generation_tokens", "_total")

    @pytest.mark.parametrize("version", ["0.9", "0.12"])
    def test_requests_flow_through(self, version: str) -> None:
        """After two minutes requests finished, tokens were generated and latencies observed, and the KV cache
        is between 0 and 1."""
        fams = families(run(version, 120))
        finished = value(fams, "vllm:request_success", "_total")
        assert finished > 50
        assert 0 < value(fams, "vllm:e2e_request_latency_seconds", "_count") <= finished
        assert value(fams, "vllm:generation_tokens", "_total") > value(fams, "vllm:request_success", "_total")
        assert value(fams, "vllm:time_to_first_token_seconds", "_count") >= value(
            fams, "vllm:e2e_request_latency_seconds", "_count")
        itl = "vllm:time_per_output_token_seconds" if version == "0.9" else "vllm:inter_token_latency_seconds"
        assert value(fams, itl, "_count") > 0
        assert 0 < value(fams, "vllm:kv_cache_usage_perc") <= 1

    def test_old_and_new_names_agree_in_0_9(self) -> None:
        """0.9 writes the same value under vllm:gpu_cache_usage_perc and vllm:kv_cache_usage_perc."""
        fams = families(run("0.9", 60))
        assert value(fams, "vllm:gpu_cache_usage_perc") == value(fams, "vllm:kv_cache_usage_perc")
        assert value(fams, "vllm:gpu_prefix_cache_queries", "_total") == value(
            fams, "vllm:prefix_cache_queries", "_total") > 0

    def test_engines_are_labelled(self) -> None:
        """With two engines every gauge has one series per engine, engine="0" and engine="1"."""
        sim = VLLMSimulator("0.12", seed=1, profile=Profile(engines=2), clock=FakeClock())
        fams = families(sim)
        assert {s.labels["engine"] for s in fams["vllm:num_requests_running"].samples} == {"0", "1"}

    def test_a_long_pause_is_bounded(self) -> None:
        """A scrape after an hour of silence simulates at most a minute, so its cost stays bounded."""
        clock = FakeClock()
        sim = VLLMSimulator("0.12", seed=1, clock=clock)
        clock.now += 3600
        sim.advance()
        fams = families(sim)
        assert value(fams, "vllm:request_params_n", "_count") < 60 * Profile.request_rate * 3


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
        from inference_targets import PROMETHEUS_2_ACCEPT, PROMETHEUS_3_ACCEPT

        from workload_cluster import vllm_simulator
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


# ---------------------------------------------------------------------------------------------------------
# vLLM's official dashboard through Prometheus


def official_dashboard() -> dict[str, Any]:
    """vLLM's official dashboard from the reference data, or one clear failure saying how to point at it."""
    if not OFFICIAL_DASHBOARD.is_file():
        missing(OFFICIAL_DASHBOARD)
    return dict(json.loads(OFFICIAL_DASHBOARD.read_text()))


def official_queries() -> list[tuple[str, str]]:
    if not OFFICIAL_DASHBOARD.is_file():  # at collection: one case that fails naming what is missing
        return [("reference-data-missing", "")]
    dashboard = official_dashboard()

    def panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for item in items for p in [item, *panels(item.get("panels", []))]]
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in panels(dashboard["panels"]) for t in p.get("targets", [])
            if t.get("expr")]


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


@pytest.mark.integration
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
        assert renamed
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


def test_reference_dashboard_is_present() -> None:
    """The official dashboard file is where the tests read it (shared/reference/dashboards)."""
    assert official_dashboard()["panels"], OFFICIAL_DASHBOARD
