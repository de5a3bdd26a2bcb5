"""The inference and Spark answers name a node whose target has no row, with the reason (no processes)."""

from __future__ import annotations

from spark_exporter.query import mapping
from spark_exporter.query.client import Sample
from spark_exporter.query.models import Inference, SparkApplications


def up(job: str, node: str, value: float) -> Sample:
    return Sample({"__name__": "up", "job": job, "node": node, "instance": f"{node}:1", "cluster": "c"}, 0.0, value)


def rule(name: str, value: float, **labels: str) -> Sample:
    return Sample({"__name__": name, "cluster": "c", **labels}, 0.0, value)


class TestInferenceRows:
    def parts(self) -> dict[str, list[Sample]]:
        return {
            "up": [up("vllm", "n1", 1), up("sglang", "n2", 1), up("llamacpp", "n3", 0), up("vllm", "n4", 1)],
            "node_model:vllm_requests_running:sum": [rule("node_model:vllm_requests_running:sum", 3, node="n1",
                                                          model_name="m")],
            "node:llamacpp_generation_tokens:rate1m": [rule("node:llamacpp_generation_tokens:rate1m", 9, node="n4")],
        }

    def test_rows_carry_their_engine(self) -> None:
        """A vLLM row keeps its model; a llama.cpp row has none, with the reason."""
        out = Inference(cluster="c")
        mapping.fill_inference(out, self.parts())
        assert [(m.engine, m.node, m.model_name) for m in out.models] == [("vllm", "n1", "m"), ("llamacpp", "n4", None)]
        assert "llama.cpp" in out.models[1].missing["modelName"]
        assert out.models[1].kv_cache_usage is None and "kvCacheUsage" in out.models[1].missing

    def test_targets_without_rows_are_named(self) -> None:
        """An up target without rows and a down target each get a reason; targets with rows get none."""
        out = Inference(cluster="c")
        mapping.fill_inference(out, self.parts())
        assert "is up" in out.missing["models[n2/sglang]"] and "n2:1" in out.missing["models[n2/sglang]"]
        assert "is down" in out.missing["models[n3/llamacpp]"]
        assert "models[n1/vllm]" not in out.missing
        # n4 has a llama.cpp row, but its vLLM target has none
        assert "is up" in out.missing["models[n4/vllm]"]


class TestSparkRows:
    def test_spark_target_without_application_is_named(self) -> None:
        """A node whose Spark target answers without application rows is in missing, with the reason."""
        out = SparkApplications(cluster="c")
        mapping.fill_spark(out, {"up": [up("spark", "n1", 1), up("spark-executors", "n1", 1), up("spark", "n2", 0)]})
        assert "is up" in out.missing["applications[n1]"]
        assert "is down" in out.missing["applications[n2]"]
