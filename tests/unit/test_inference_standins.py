"""The SGLang and llama.cpp stand-ins, their traffic, and the inference scrape jobs (no processes)."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from helpers.inference_targets import relabel
from helpers.reference import reference_file
from spark_exporter.prometheus.inventory import parse_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config
from spark_exporter.workloads import llamacpp_sim, sglang_sim
from spark_exporter.workloads.traffic import MAX_CATCH_UP_S, STEP_S, Listener, Traffic


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_sglang(seconds: int, seed: int = 1) -> sglang_sim.SGLangSimulator:
    clock = FakeClock()
    sim = sglang_sim.SGLangSimulator("m", seed=seed, rate=4, clock=clock)
    clock.now += seconds
    return sim


class TestSGLang:
    def test_families_types_and_labels_are_sglangs(self) -> None:
        """The registry holds SGLang's names and types, scheduler gauges with the rank labels, tokenizer
        series with model_name and engine_type (and is_streaming where SGLang adds it)."""
        fams = {f.name: f for f in text_string_to_metric_families(generate_latest(run_sglang(60).registry).decode())
                if not f.name.endswith("_created")}
        assert {n: f.type for n, f in fams.items()} == {
            "sglang:num_running_reqs": "gauge", "sglang:num_queue_reqs": "gauge", "sglang:num_used_tokens": "gauge",
            "sglang:token_usage": "gauge", "sglang:gen_throughput": "gauge", "sglang:cache_hit_rate": "gauge",
            "sglang:prompt_tokens": "counter", "sglang:generation_tokens": "counter",
            "sglang:num_requests": "counter", "sglang:num_aborted_requests": "counter",
            "sglang:time_to_first_token_seconds": "histogram", "sglang:inter_token_latency_seconds": "histogram",
            "sglang:e2e_request_latency_seconds": "histogram"}
        assert set(fams["sglang:num_running_reqs"].samples[0].labels) == set(sglang_sim.SCHEDULER_LABELS)
        assert set(fams["sglang:prompt_tokens"].samples[0].labels) == {"model_name", "engine_type", "is_streaming"}
        assert set(fams["sglang:inter_token_latency_seconds"].samples[0].labels) == {"model_name", "engine_type", "le"}
        les = [s.labels["le"] for s in fams["sglang:time_to_first_token_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["is_streaming"] == "true"]
        assert [float(x) for x in les[:-1]] == [float(b) for b in sglang_sim.TTFT_BUCKETS] and les[-1] == "+Inf"

    def test_traffic_moves_the_counters(self) -> None:
        """After a minute, tokens were generated, requests finished and latencies observed."""
        reg = run_sglang(60).registry
        total = sum(reg.get_sample_value("sglang:generation_tokens_total",
                                         {"model_name": "m", "engine_type": "unified", "is_streaming": s}) or 0
                    for s in ("true", "false"))
        assert total > 100
        assert (reg.get_sample_value("sglang:inter_token_latency_seconds_count",
                                     {"model_name": "m", "engine_type": "unified"}) or 0) > 100

    def test_same_seed_same_exposition(self) -> None:
        """Two simulators with one seed and one clock write the same numbers."""
        def values(sim: sglang_sim.SGLangSimulator) -> list[tuple[str, float]]:
            return [(s.name, s.value) for f in sim.registry.collect() for s in f.samples
                    if not s.name.endswith("_created")]
        assert values(run_sglang(30)) == values(run_sglang(30))
        assert values(run_sglang(30)) != values(run_sglang(30, seed=2))


class TestLlamaCpp:
    def sim(self, seconds: float) -> tuple[llamacpp_sim.LlamaCppSimulator, FakeClock]:
        clock = FakeClock()
        sim = llamacpp_sim.LlamaCppSimulator(seed=1, rate=2, clock=clock, wall=lambda: 1796000000.0)
        clock.now += seconds
        return sim, clock

    def test_text_is_llamacpps_layout(self) -> None:
        """HELP, TYPE and one unlabelled sample per family, counters first then gauges, in llama.cpp's order."""
        sim, _ = self.sim(30)
        lines = sim.render().decode().splitlines()
        names = [name for name, _ in (*llamacpp_sim.COUNTERS, *llamacpp_sim.GAUGES)]
        assert len(lines) == 3 * len(names)
        for i, name in enumerate(names):
            kind = "counter" if i < len(llamacpp_sim.COUNTERS) else "gauge"
            help_line, type_line, sample = lines[3 * i: 3 * i + 3]
            assert help_line.startswith(f"# HELP llamacpp:{name} ")
            assert type_line == f"# TYPE llamacpp:{name} {kind}"
            assert re.fullmatch(rf"llamacpp:{name} [-+0-9.e]+", sample), sample

    def test_values_are_written_as_a_cpp_stream_writes_doubles(self) -> None:
        """Six significant digits, exponent form for large values, no trailing .0."""
        assert llamacpp_sim.cpp_double(0.0) == "0"
        assert llamacpp_sim.cpp_double(16185.0) == "16185"
        assert llamacpp_sim.cpp_double(1234567.0) == "1.23457e+06"
        assert llamacpp_sim.cpp_double(13.636) == "13.636"

    def test_throughput_buckets_reset_on_each_request(self) -> None:
        """predicted_tokens_seconds covers the time since the previous /metrics request, as in llama.cpp."""
        sim, clock = self.sim(30)

        def gauge(text: bytes, name: str) -> float:
            return float(re.search(rf"^llamacpp:{name} (\S+)$", text.decode(), re.M).group(1))  # type: ignore[union-attr]
        first = sim.render()
        assert gauge(first, "predicted_tokens_seconds") > 0
        assert gauge(sim.render(), "predicted_tokens_seconds") == 0  # no time passed, empty bucket
        clock.now += 10
        later = sim.render()
        assert gauge(later, "tokens_predicted_total") > gauge(first, "tokens_predicted_total")


class TestTraffic:
    def test_bad_profile_is_refused(self) -> None:
        """No slot or no arrivals is a ValueError."""
        for kwargs in ({"rate": 0.0}, {"slots": 0}):
            with pytest.raises(ValueError):
                Traffic(Listener(), **kwargs)  # type: ignore[arg-type]

    def test_a_long_pause_is_bounded(self) -> None:
        """An hour between calls simulates only the last MAX_CATCH_UP_S of it (bounded work), up to the clock."""
        class Steps(Listener):
            count = 0

            def stepped(self, traffic: Traffic, t: float) -> None:
                Steps.count += 1
        clock = FakeClock()
        traffic = Traffic(Steps(), clock=clock)
        clock.now += 3600
        traffic.advance()
        assert traffic.now == pytest.approx(clock.now, abs=STEP_S)
        assert Steps.count <= MAX_CATCH_UP_S / STEP_S + 1


class TestScrapeJobs:
    INVENTORY = {"cluster": "c", "nodes": [{"name": "n1", "exporter": "10.0.0.1:19400", "vllm": "10.0.0.1:8000",
                                            "sglang": "10.0.0.1:30000", "llamacpp": "10.0.0.1:8080"}]}

    def test_each_engine_has_its_job(self) -> None:
        """vllm, sglang and llamacpp inventory keys become jobs of those names on /metrics."""
        jobs = {j["job_name"]: j for j in build_prometheus_config(parse_inventory(self.INVENTORY, "t"), [])[
            "scrape_configs"]}
        for job, port in (("vllm", 8000), ("sglang", 30000), ("llamacpp", 8080)):
            assert jobs[job]["static_configs"][0]["targets"] == [f"10.0.0.1:{port}"]
            assert jobs[job]["metrics_path"] == "/metrics"

    def test_only_prometheus_client_engines_are_relabel(self) -> None:
        """vLLM and SGLang jobs restore their own prefix's colon; llama.cpp writes colons itself."""
        jobs = {j["job_name"]: j for j in build_prometheus_config(parse_inventory(self.INVENTORY, "t"), [])[
            "scrape_configs"]}
        for engine in ("vllm", "sglang"):
            assert jobs[engine]["metric_relabel_configs"] == [
                {"source_labels": ["__name__"], "regex": f"{engine}_(.+)", "target_label": "__name__",
                 "replacement": f"{engine}:$1"}]
        assert "metric_relabel_configs" not in jobs["llamacpp"]


# The reference families of each prometheus_client engine (tests/reference/), all releases on record.
ENGINE_REFERENCES = {"vllm": ("vllm/0.9.json", "vllm/0.12.json", "vllm/0.34.json"), "sglang": ("sglang/0.5.23.json",)}
SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count",
                                                                                    "_created")}


class TestRelabelOverMatching:
    @pytest.mark.parametrize("engine", ENGINE_REFERENCES)
    def test_no_family_of_the_engine_is_underscore_named(self, engine: str) -> None:
        """Every family vLLM (0.9, 0.12, 0.34) and SGLang define is named ``engine:``, so the job's
        ``engine_(.+)`` rule can only rename names that arrived escaped, never one the engine chose."""
        for path in ENGINE_REFERENCES[engine]:
            names = [f["name"] for f in json.loads(reference_file(path).read_text())["families"]]
            assert names and all(n.startswith(f"{engine}:") for n in names), (path, names)

    @pytest.mark.parametrize("engine", ENGINE_REFERENCES)
    def test_every_sample_name_comes_back_from_its_escaped_form_and_stays(self, engine: str) -> None:
        """For every sample name of every reference family, the generated rule maps the escaped name
        (``:`` -> ``_``) back to it and leaves the name itself unchanged."""
        jobs = {j["job_name"]: j for j in build_prometheus_config(
            parse_inventory(TestScrapeJobs.INVENTORY, "t"), [])["scrape_configs"]}
        rules = jobs[engine]["metric_relabel_configs"]
        for path in ENGINE_REFERENCES[engine]:
            for family in json.loads(reference_file(path).read_text())["families"]:
                base = family["name"].removesuffix("_total") if family["type"] == "counter" else family["name"]
                for suffix in SAMPLE_SUFFIXES.get(family["type"], ("",)):
                    sample = base + suffix
                    assert relabel(sample, rules) == sample
                    assert relabel(sample.replace(":", "_"), rules) == sample

    def test_other_jobs_and_other_names_are_untouched(self) -> None:
        """Only the vllm and sglang jobs carry the rule, and it leaves the process, Python and HTTP families
        the engines also serve, and the other engine's names, as they are."""
        jobs = {j["job_name"]: j for j in build_prometheus_config(
            parse_inventory(TestScrapeJobs.INVENTORY, "t"), [])["scrape_configs"]}
        assert {name for name, job in jobs.items() if any(
            r.get("regex", "").startswith(("vllm_", "sglang_")) for r in job.get("metric_relabel_configs", []))} == {
            "vllm", "sglang"}
        for engine, other in (("vllm", "sglang"), ("sglang", "vllm")):
            rules = jobs[engine]["metric_relabel_configs"]
            for name in ("process_cpu_seconds_total", "python_gc_objects_collected_total", "http_requests_total",
                         f"{other}_num_requests_running", f"{engine}:x", f"{engine}_", f"x_{engine}_y"):
                assert relabel(name, rules) == name
