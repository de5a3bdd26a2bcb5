"""The SGLang and llama.cpp stand-ins against the families the engines' sources define (no processes).

tests/reference/sglang/0.5.23.json and tests/reference/llamacpp/0.3.36.json are extracted from the
releases by tests/reference/extract_metrics.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.workloads import llamacpp_sim, sglang_sim

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
BASE_LABELS = {"SchedulerMetricsCollector": list(sglang_sim.SCHEDULER_LABELS),
               "TokenizerMetricsCollector": list(sglang_sim.TOKENIZER_LABELS)}


def load(path: str) -> dict[str, Any]:
    return dict(json.loads((REFERENCE / path).read_text()))


class TestSGLang:
    def reference(self) -> dict[str, dict[str, Any]]:
        """SGLang's families by the name prometheus_client's parser gives them (counters without _total)."""
        out = {}
        for f in load("sglang/0.5.23.json")["families"]:
            name = f["name"][:-6] if f["type"] == "counter" and f["name"].endswith("_total") else f["name"]
            out[name] = f
        return out

    def served(self) -> dict[str, Any]:
        sim = sglang_sim.SGLangSimulator("m", seed=1)
        return {f.name: f for f in text_string_to_metric_families(generate_latest(sim.registry).decode())
                if not f.name.endswith("_created")}

    def test_every_served_family_is_sglangs(self) -> None:
        """Each family the stand-in serves is defined by SGLang 0.5.23 with the same type and documentation."""
        ref = self.reference()
        for name, fam in self.served().items():
            assert name in ref, name
            assert (fam.type, fam.documentation) == (ref[name]["type"], ref[name]["documentation"]), name

    def test_label_names_are_sglangs(self) -> None:
        """Labels are the defining collector's base labels plus the family's own."""
        ref = self.reference()
        for name, fam in self.served().items():
            want: list[str] = []
            for label in ref[name]["labels"]:
                want += BASE_LABELS[ref[name]["collector"]] if label == "<labels>" else [label]
            seen = {k for s in fam.samples for k in s.labels} - {"le"}
            assert seen == set(want), name

    def test_buckets_are_sglangs_defaults(self) -> None:
        """Histogram buckets equal SGLang's defaults."""
        ref = self.reference()
        for name, fam in self.served().items():
            if fam.type == "histogram":
                les = sorted({float(s.labels["le"]) for s in fam.samples if "le" in s.labels} - {float("inf")})
                assert les == [float(b) for b in ref[name]["buckets"]], name

    def test_the_rules_families_are_served(self) -> None:
        """Every SGLang family the recording rules read is one the stand-in serves."""
        served = set(self.served())
        assert {"sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage", "sglang:prompt_tokens",
                "sglang:generation_tokens", "sglang:time_to_first_token_seconds",
                "sglang:inter_token_latency_seconds", "sglang:e2e_request_latency_seconds"} <= served


class TestLlamaCpp:
    def test_the_text_is_the_servers(self) -> None:
        """Every family of llama.cpp's to_metrics(), in its order, with its HELP text and type, nothing else."""
        ref = load("llamacpp/0.3.36.json")
        sim = llamacpp_sim.LlamaCppSimulator(seed=1, wall=lambda: 0.0)
        lines = sim.render().decode().splitlines()
        want = []
        for f in ref["families"]:
            want += [f"# HELP {f['name']} {f['documentation']}", f"# TYPE {f['name']} {f['type']}"]
        assert [line for line in lines if line.startswith("#")] == want
        samples = [line.split(" ")[0] for line in lines if not line.startswith("#")]
        assert samples == [f["name"] for f in ref["families"]]
        assert llamacpp_sim.CONTENT_TYPE == ref["content_type"]
