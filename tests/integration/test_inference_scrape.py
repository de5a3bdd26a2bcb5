"""Inference servers as real scrapers see them: names that survive the scrape, rules with data, silent targets.

vLLM and SGLang stand-ins serve through prometheus_client's own exposition on the newest release and on
0.22.1; llama.cpp's writes its own text. Debian's Prometheus 2.42 scrapes them through the generated
configuration; Prometheus 3.x is represented by its Accept header at the HTTP level.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from helpers.api import api
from helpers.inference_targets import (
    MODELS,
    PROMETHEUS_2_ACCEPT,
    PROMETHEUS_3_ACCEPT,
    RULES_DIR,
    InferenceCluster,
    inference_cluster,
    relabel,
)
from helpers.procs import PYTHON, http_get, prom_query, prometheus, wait_for
from spark_exporter.query import ClusterOverview, Inference, PrometheusClient, Rollups

pytestmark = pytest.mark.integration
T = TypeVar("T")

HEADERS = {"prometheus-2": PROMETHEUS_2_ACCEPT, "prometheus-3": PROMETHEUS_3_ACCEPT, "no-accept": None}
CLIENT_TARGETS = {"newest": "spark-01", "0.22.1": "spark-02"}  # prometheus_client release -> node
ENGINES = ("vllm", "sglang")
INFERENCE_GROUPS = ("spark-inference", "spark-inference-sglang", "spark-inference-llamacpp", "spark-inference-all")


@pytest.fixture(scope="module")
def inference() -> Iterator[InferenceCluster]:
    with inference_cluster() as cluster:
        yield cluster


_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def scrape(url: str, accept: str | None) -> tuple[str, list[str]]:
    """(Content-Type, the name of every sample line) of one GET.

    Sample lines are read as Prometheus reads them, by their leading name: prometheus_client's own
    OpenMetrics parser refuses what prometheus_client 0.26 writes with escaping (``# TYPE vllm:x`` over
    samples ``vllm_x_total``), while Prometheus stores those samples (without metadata).
    """
    status, body, headers = http_get(url, headers={"Accept": accept} if accept else None)
    assert status == 200
    names = []
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            match = _SAMPLE_NAME.match(line)
            assert match, line
            names.append(match.group())
    return headers["Content-Type"], names


def job_config(cluster: InferenceCluster, job: str) -> dict[str, Any]:
    return next(j for j in cluster.config["scrape_configs"] if j["job_name"] == job)


class TestNegotiation:
    @pytest.mark.parametrize("header", HEADERS, ids=str)
    @pytest.mark.parametrize("client", CLIENT_TARGETS, ids=str)
    @pytest.mark.parametrize("engine", ENGINES)
    def test_names_escaped_only_for_prometheus_2_on_new_clients(self, inference: InferenceCluster, engine: str,
                                                                client: str, header: str) -> None:
        """Names arrive as ``engine_`` exactly when prometheus_client >= 0.23.1 answers Prometheus 2.x's header."""
        proc = inference.targets[(CLIENT_TARGETS[client], engine)]
        ctype, names = scrape(f"{proc.url}/metrics", HEADERS[header])
        ours = [n for n in names if n.startswith((f"{engine}:", f"{engine}_"))]
        assert ours
        escaped = client == "newest" and header == "prometheus-2"
        assert all(n.startswith(f"{engine}_" if escaped else f"{engine}:") for n in ours), (ctype, ours[:3])
        if escaped:
            assert "escaping=underscores" in ctype

    @pytest.mark.parametrize("header", HEADERS, ids=str)
    @pytest.mark.parametrize("client", CLIENT_TARGETS, ids=str)
    @pytest.mark.parametrize("engine", ENGINES)
    def test_generated_relabelling_gives_one_name_form(self, inference: InferenceCluster, engine: str, client: str,
                                                       header: str) -> None:
        """After the generated job's metric_relabel_configs, every Accept header gives the engine's own names."""
        proc = inference.targets[(CLIENT_TARGETS[client], engine)]
        rules = job_config(inference, engine)["metric_relabel_configs"]
        _, names = scrape(f"{proc.url}/metrics", HEADERS[header])
        restored = {relabel(n, rules) for n in names if n.startswith((f"{engine}:", f"{engine}_"))}
        assert restored and all(n.startswith(f"{engine}:") for n in restored)
        _, plain = scrape(f"{proc.url}/metrics", None)  # the classic text format: the names as written
        written = {n for n in plain if n.startswith(f"{engine}:")}
        assert {n for n in restored if not n.endswith("_created")} == {n for n in written if not n.endswith("_created")}

    def test_relabelling_leaves_other_names_alone(self, inference: InferenceCluster) -> None:
        """The rule renames only the engine's escaped prefix: its colon names and other families stay."""
        rules = job_config(inference, "vllm")["metric_relabel_configs"]
        assert relabel("vllm:num_requests_running", rules) == "vllm:num_requests_running"
        assert relabel("python_gc_objects_collected_total", rules) == "python_gc_objects_collected_total"
        assert relabel("vllm_num_requests_running", rules) == "vllm:num_requests_running"
        assert "metric_relabel_configs" not in job_config(inference, "llamacpp")

    @pytest.mark.parametrize("header", HEADERS, ids=str)
    def test_llamacpp_writes_the_same_text_whatever_is_asked(self, inference: InferenceCluster, header: str) -> None:
        """llama.cpp's server answers text/plain 0.0.4 with llamacpp: names to every Accept header."""
        proc = inference.targets[("spark-01", "llamacpp")]
        ctype, names = scrape(f"{proc.url}/metrics", HEADERS[header])
        assert ctype == "text/plain; version=0.0.4"
        assert names and all(n.startswith("llamacpp:") for n in names)


class TestPrometheus2:
    def test_only_colon_names_are_stored(self, inference: InferenceCluster) -> None:
        """Prometheus 2.42 stores vllm: and sglang: names from both client releases, and no escaped ones."""
        def stored() -> set[tuple[str, str]]:
            result = inference.query('count by (node, job) ({job=~"vllm|sglang", __name__=~"(vllm|sglang):.+"})')
            return {(s["metric"]["node"], s["metric"]["job"]) for s in result}
        wanted = {(node, job) for node in CLIENT_TARGETS.values() for job in ENGINES}
        wait_for(lambda: stored() >= wanted, timeout=60, what="vllm: and sglang: series from both nodes")
        assert inference.query('{job=~"vllm|sglang", __name__=~"(vllm|sglang)_.+"}') == []

    def test_every_inference_recording_rule_has_data(self, inference: InferenceCluster) -> None:
        """Every vLLM, SGLang, llama.cpp and all-engines recording rule has a value; per-model rules for
        the targets on both prometheus_client releases."""
        groups = yaml.safe_load((RULES_DIR / "spark-workloads-recording.yml").read_text())["groups"]
        records = [r["record"] for g in groups if g["name"] in INFERENCE_GROUPS for r in g["rules"]]
        assert len(records) >= 25
        for record in records:
            want = set(CLIENT_TARGETS.values()) if record.startswith("node_model:") else (
                {"spark-01"} if record.startswith("node:") else set())

            def ready(r: str = record, w: set[str] = want) -> list[dict[str, Any]] | None:
                result = prom_query(inference.prometheus_url, r)
                return result if result and w <= {s["metric"].get("node") for s in result} else None
            wait_for(ready, timeout=120, what=f"{record} for {sorted(want) or 'the cluster'}")


class TestSilentTarget:
    def test_up_target_with_unrelated_metrics_raises_the_alert(self, inference: InferenceCluster) -> None:
        """SparkTargetSilent is pending (it fires after 5m) for the up vLLM target serving other metrics,
        naming its job, instance and node, and for no other target."""
        silent = inference.targets[("spark-03", "vllm")]

        def alerts() -> set[tuple[str, str, str]]:
            result = inference.query('ALERTS{alertname="SparkTargetSilent", alertstate=~"pending|firing"}')
            return {(s["metric"]["job"], s["metric"]["instance"], s["metric"]["node"]) for s in result}
        wait_for(lambda: alerts(), timeout=60, what="SparkTargetSilent")
        assert inference.query('up{job="vllm", node="spark-03"}')[0]["value"][1] == "1"
        assert alerts() == {("vllm", silent.address, "spark-03")}


    def test_alert_fires_and_names_the_target(self, inference: InferenceCluster, tmp_path: Path) -> None:
        """With its ``for:`` cut to 2s in a copy of the rules, SparkTargetSilent reaches ``firing`` on a second
        real Prometheus scraping the same targets, for the silent vLLM target only, with its annotations."""
        doc = yaml.safe_load((RULES_DIR / "spark-workloads-alerts.yml").read_text())
        silent_rules = [dict(r, **{"for": "2s"}) for g in doc["groups"] for r in g["rules"]
                        if r.get("alert") == "SparkTargetSilent"]
        assert len(silent_rules) == 1
        rules = tmp_path / "silent.yml"
        rules.write_text(yaml.safe_dump({"groups": [{"name": "silent", "rules": silent_rules}]}, sort_keys=False))
        silent = inference.targets[("spark-03", "vllm")]
        with prometheus(inference.config, rule_files=[rules]) as prom:
            def firing() -> list[dict[str, Any]]:
                return prom_query(prom.url, 'ALERTS{alertname="SparkTargetSilent", alertstate="firing"}')
            wait_for(firing, timeout=60, what="SparkTargetSilent firing")
            time.sleep(3)  # every other target has been scraped and evaluated by now: none may join
            fired = {(s["metric"]["job"], s["metric"]["instance"], s["metric"]["node"]) for s in firing()}
            assert fired == {("vllm", silent.address, "spark-03")}
            status, body, _ = http_get(f"{prom.url}/api/v1/alerts")
            assert status == 200
            alerts = json.loads(body)["data"]["alerts"]
            alert = next(a for a in alerts if a["labels"]["alertname"] == "SparkTargetSilent")
            assert silent.address in alert["annotations"]["summary"] and "spark-03" in alert["annotations"]["summary"]


def rollup(cluster: InferenceCluster, call: Callable[[Rollups], Awaitable[T]]) -> T:
    """One rollup through the Python module, over a fresh client."""
    async def go() -> T:
        async with PrometheusClient(cluster.prometheus_url) as client:
            return await call(Rollups(client, cluster.inventory, scrape_interval=1.0))
    return asyncio.run(go())


def rows_per_engine(cluster: InferenceCluster) -> Inference:
    """The inference rollup once every engine has a row with a token rate on spark-01."""
    def ready() -> Inference | None:
        out = rollup(cluster, lambda r: r.inference())
        have = {m.engine for m in out.models if m.node == "spark-01" and m.generation_tokens_per_sec is not None}
        return out if have == {"vllm", "sglang", "llamacpp"} else None
    result: Inference = wait_for(ready, timeout=90, interval=0.5, what="a row per engine on spark-01")
    return result


class TestInferenceAnswers:
    def test_python_module_has_a_row_per_engine(self, inference: InferenceCluster) -> None:
        """The rollup has vLLM and SGLang rows (model named) on both nodes and llama.cpp's (no model) on spark-01;
        figures an engine does not export are null with the engine's reason."""
        out = rows_per_engine(inference)
        got = {(m.node, m.engine, m.model_name) for m in out.models}
        assert {("spark-01", "vllm", MODELS["vllm"]), ("spark-02", "vllm", MODELS["vllm"]),
                ("spark-01", "sglang", MODELS["sglang"]), ("spark-02", "sglang", MODELS["sglang"]),
                ("spark-01", "llamacpp", None)} <= got
        llama = next(m for m in out.models if m.engine == "llamacpp" and m.node == "spark-01")
        assert llama.kv_cache_usage is None and "llama.cpp" in llama.missing["kvCacheUsage"]
        sglang = next(m for m in out.models if m.engine == "sglang" and m.node == "spark-01")
        assert sglang.preemptions_per_sec is None and "SGLang" in sglang.missing["preemptionsPerSec"]
        assert out.totals.generation_tokens_per_sec == pytest.approx(
            sum(m.generation_tokens_per_sec or 0 for m in out.models))

    def test_a_node_without_a_row_is_named_with_the_reason(self, inference: InferenceCluster) -> None:
        """spark-03's vLLM target is up but serves other metrics: the answer says so under missing."""
        out = rows_per_engine(inference)
        assert not [m for m in out.models if m.node == "spark-03" and m.engine == "vllm"]
        reason = out.missing["models[spark-03/vllm]"]
        assert "is up" in reason and inference.targets[("spark-03", "vllm")].address in reason

    def test_overview_tokens_per_second_of_all_engines(self, inference: InferenceCluster) -> None:
        """The overview keeps vllmGenerationTokensPerSec and adds inferenceGenerationTokensPerSec, a number at
        least as large."""
        def ready() -> ClusterOverview | None:
            ov = rollup(inference, lambda r: r.cluster_overview())
            ok = ov.inference_generation_tokens_per_sec is not None and ov.vllm_generation_tokens_per_sec is not None
            return ov if ok else None
        ov: ClusterOverview = wait_for(ready, timeout=60, what="the overview's token rates")
        assert ov.inference_generation_tokens_per_sec > ov.vllm_generation_tokens_per_sec > 0  # type: ignore[operator]

    def test_api_and_cli_carry_the_engine(self, inference: InferenceCluster) -> None:
        """/api/v1/inference has a row per engine with an engine field; ``query inference`` prints it."""
        rows_per_engine(inference)
        with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=inference.prometheus_url,
                 inventory=inference.inventory_path) as proc:
            status, body, _ = http_get(proc.url + "/api/v1/inference", timeout=15)
            assert status == 200
            doc = json.loads(body)
            assert {m["engine"] for m in doc["models"]} == {"vllm", "sglang", "llamacpp"}
            _, body, _ = http_get(proc.url + "/api/v1/cluster/overview", timeout=15)
            assert isinstance(json.loads(body)["inferenceGenerationTokensPerSec"], float)
        out = subprocess.run([PYTHON, "-m", "spark_exporter", "query", f"--prometheus.url={inference.prometheus_url}",
                              f"--inventory={inference.inventory_path}", "inference"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        lines = [re.split(r"\s{2,}", line.strip()) for line in out.stdout.splitlines()]
        assert ["spark-01", "llamacpp", "n/a"] in [cells[:3] for cells in lines]
        assert any(line.startswith("missing models[spark-03/vllm]: ") for line in out.stdout.splitlines())


class TestInferenceDashboard:
    def test_engine_panels_show_every_engine(self, inference: InferenceCluster) -> None:
        """The inference dashboard's engine row has data from vLLM, SGLang and llama.cpp (latency and KV cache:
        vLLM and SGLang, llama.cpp exports neither), with all nodes and models selected."""
        dashboard = json.loads((RULES_DIR.parent / "dashboards" / "inference.json").read_text())
        panels = [p for p in dashboard["panels"] if p["title"].endswith("by engine")]
        assert len(panels) == 4
        values = {"$cluster": "test", "$node": ".+", "$model_name": ".+", "$__rate_interval": "1m"}
        for panel in panels:
            want = {"vllm", "sglang"} | ({"llamacpp"} if "llama.cpp exports" not in panel["description"] else set())
            for target in panel["targets"]:
                expr = target["expr"]
                for name, value in values.items():
                    expr = expr.replace(name, value)

                def engines(e: str = expr) -> set[str]:
                    return {s["metric"]["engine"] for s in prom_query(inference.prometheus_url, e)}
                wait_for(lambda w=want, f=engines: f() == w, timeout=90,  # type: ignore[misc]
                         what=f"{panel['title']}/{target['refId']} for {sorted(want)}")


class TestCommandLines:
    @pytest.mark.parametrize("module", ["vllm_sim", "sglang_sim", "llamacpp_sim"])
    def test_bad_input_is_one_line_and_exit_2(self, module: str) -> None:
        """A malformed listen address, or a port already taken, is one error line and exit status 2."""
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            for arg in ("--listen=nowhere", f"--listen=127.0.0.1:{port}"):
                out = subprocess.run([PYTHON, "-m", f"spark_exporter.workloads.{module}", arg], capture_output=True,
                                     text=True, timeout=60)
                assert out.returncode == 2, (arg, out.stderr)
                lines = out.stderr.strip().splitlines()
                assert "error:" in lines[-1] and "Traceback" not in out.stderr, out.stderr
