"""The vLLM stand-in against the families vLLM's own sources define (tests/reference/vllm/, no processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.workloads.vllm_sim import VERSIONS, Profile, VLLMSimulator, build_1_2_5_buckets

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "vllm"
# Families vLLM defines only under a setting the stand-in's server does not have, and why.
CONDITIONAL = {
    "vllm:lora_requests_info": "only with LoRA enabled",
    "vllm:corrupted_requests": "only with VLLM_COMPUTE_NANS_IN_LOGITS",
    "vllm:kv_block_lifetime_seconds": "only with KV-cache residency metrics enabled",
    "vllm:kv_block_idle_before_evict_seconds": "only with KV-cache residency metrics enabled",
    "vllm:kv_block_reuse_gap_seconds": "only with KV-cache residency metrics enabled",
    "vllm:time_per_output_token_seconds": "hidden from 0.12 on (--show-hidden-metrics-for-version)",
    "vllm:num_requests_kv_fetch_by_stage": "only for a KV-transfer consumer",
    "vllm:watermark_requests": "only with watermark_config",
}
COMPUTED_LABELS = {"labelnames": ["model_name", "engine"]}  # perf.py's parameter, as loggers.py passes it


def reference(version: str) -> dict[str, Any]:
    return dict(json.loads((REFERENCE / f"{version}.json").read_text()))


def ref_families(version: str) -> dict[str, dict[str, Any]]:
    """Reference families by the name prometheus_client's parser gives them (counters without _total)."""
    out = {}
    for f in reference(version)["families"]:
        name = f["name"][:-6] if f["type"] == "counter" and f["name"].endswith("_total") else f["name"]
        out[name] = f
    return out


def served(version: str) -> dict[str, Metric]:
    sim = VLLMSimulator(version, seed=1)
    return {f.name: f for f in text_string_to_metric_families(generate_latest(sim.registry).decode())
            if not f.name.endswith("_created")}


@pytest.mark.parametrize("version", VERSIONS)
class TestAgainstTheSource:
    def test_every_served_family_is_vllms(self, version: str) -> None:
        """Each family the stand-in serves is defined by that release with the same type."""
        ref = ref_families(version)
        for name, fam in served(version).items():
            assert name in ref, name
            assert ref[name]["type"] == fam.type, name

    def test_every_unconditional_family_is_served(self, version: str) -> None:
        """What the release defines and the stand-in leaves out is only what needs a setting."""
        left_out = set(ref_families(version)) - set(served(version))
        assert left_out <= set(CONDITIONAL), sorted(left_out - set(CONDITIONAL))

    def test_label_names_are_vllms(self, version: str) -> None:
        """Each served family has exactly the label names its definition gives (le aside)."""
        ref = ref_families(version)
        for name, fam in served(version).items():
            labels = ref[name]["labels"] or COMPUTED_LABELS.get(ref[name].get("labels_source", ""))
            if labels is None:  # cache_config_info: every CacheConfig field
                continue
            seen = {k for s in fam.samples for k in s.labels} - {"le"}
            assert seen == set(labels), name

    def test_buckets_are_vllms(self, version: str) -> None:
        """Histogram buckets equal the release's, the computed ones 1-2-5 up to max_model_len."""
        ref = ref_families(version)
        for name, fam in served(version).items():
            if fam.type != "histogram":
                continue
            want = ref[name]["buckets"] or [float(b) for b in build_1_2_5_buckets(Profile().max_model_len)]
            les = sorted({float(s.labels["le"]) for s in fam.samples if "le" in s.labels} - {float("inf")})
            assert les == [float(b) for b in want], name

    def test_finished_reasons_are_vllms(self, version: str) -> None:
        """request_success carries exactly the release's finished_reason values."""
        fam = served(version)["vllm:request_success"]
        assert {s.labels["finished_reason"] for s in fam.samples} == set(reference(version)["finished_reasons"])


def test_0_34_adds_the_ten_always_on_families() -> None:
    """0.34 serves the ten families it added over 0.12 that need no setting, and error/repetition reasons."""
    added = set(served("0.34")) - set(served("0.12"))
    assert added == {
        "vllm:admission_rejections", "vllm:estimated_flops_per_gpu", "vllm:estimated_read_bytes_per_gpu",
        "vllm:estimated_write_bytes_per_gpu", "vllm:num_requests_waiting_by_reason", "vllm:prompt_tokens_by_source",
        "vllm:prompt_tokens_cached", "vllm:prompt_tokens_cached_by_source", "vllm:request_num_preemptions",
        "vllm:request_prefill_kv_computed_tokens"}
