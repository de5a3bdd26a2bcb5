"""The vLLM metrics simulator: vLLM's families per version, deterministic traffic, its server, and vLLM's
official Grafana dashboard answered through a real Prometheus for 0.9 and 0.12 side by side."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from helpers.vllm_dashboard import OFFICIAL_DASHBOARD, official_dashboard
from spark_exporter.workloads.vllm_sim import Profile, VLLMSimulator, build_1_2_5_buckets

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


# ---------------------------------------------------------------------------------------------------------
# vLLM's official dashboard through Prometheus


def test_reference_dashboard_is_present() -> None:
    """The official dashboard file is where the tests read it (tests/reference/dashboards) and has panels."""
    assert official_dashboard()["panels"], f"{OFFICIAL_DASHBOARD} has no panels"
