"""Inference stand-ins for tests: vLLM and SGLang on two prometheus_client releases, llama.cpp, Prometheus.

vLLM and SGLang serve through prometheus_client's own negotiating exposition, so what a scraper gets
depends on the prometheus_client release: from 0.23.1 on, names are escaped to underscores for a scraper
that asks for OpenMetrics without an ``escaping`` parameter (Prometheus 2.x). The stand-ins run here on
the newest release (the one installed in the virtual environment) and on 0.22.1, the last release before
that change, installed from PyPI with ``pip install --target`` into the virtual environment's directory
(``./dev.sh setup`` does it, so tests need no network; :func:`old_client_dir` does it otherwise).

:func:`inference_cluster` runs, with Debian's Prometheus 2.42 on the configuration that
``spark-exporter config prometheus`` generates and every file in ``rules/``:

* spark-01: vLLM 0.12 and SGLang on the newest prometheus_client, and llama.cpp's server;
* spark-02: vLLM 0.12 and SGLang on prometheus_client 0.22.1;
* spark-03: a "vLLM" target that answers with unrelated metrics (llama.cpp's), the silent case.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.procs import PYTHON, REPO, Proc, free_port, prom_query, prometheus, start_process, tempdir
from spark_exporter.prometheus.inventory import Inventory, load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

OLD_CLIENT = "0.22.1"  # the last prometheus_client release that always keeps the colons
CLUSTER = "test"
RULES_DIR = REPO / "rules"
MODELS = {"vllm": "meta-llama/Llama-3.1-8B-Instruct", "sglang": "Qwen/Qwen2.5-7B-Instruct"}

# The Accept headers of the two Prometheus generations, with their default scrape protocols.
# Prometheus 2.42 (scrape/scrape.go, scrapeAcceptHeader):
PROMETHEUS_2_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                       "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
# Prometheus 3.x (scrape/scrape_test.go, TestAcceptHeader: "default scrape protocols with no escaping"):
PROMETHEUS_3_ACCEPT = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                       "application/openmetrics-text;version=0.0.1;q=0.5,"
                       "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")


def old_client_dir() -> Path:
    """A directory holding prometheus_client 0.22.1, for PYTHONPATH; installed from PyPI when missing."""
    target = Path(sys.prefix) / f"prometheus_client-{OLD_CLIENT}"
    if not (target / "prometheus_client" / "__init__.py").is_file():
        tmp = Path(tempfile.mkdtemp(dir=sys.prefix, prefix=".prometheus_client-"))
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--target", str(tmp), f"prometheus_client=={OLD_CLIENT}"],
                           check=True, timeout=300)
            with contextlib.suppress(OSError):  # another session installed it first
                tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def stand_in(module: str, *args: str, old_client: bool = False) -> Iterator[Proc]:
    """``python -m spark_exporter.workloads.<module> --listen=127.0.0.1:<free port> ARGS``."""
    port = free_port()
    env = {"PYTHONPATH": str(old_client_dir())} if old_client else {}
    name = f"{module}{'-old' if old_client else ''}"
    with tempdir(name) as d:
        argv = [PYTHON, "-m", f"spark_exporter.workloads.{module}", f"--listen=127.0.0.1:{port}", *args]
        proc = start_process(name, argv, port, d, f"http://127.0.0.1:{port}/health", env=env)
        try:
            yield proc
        finally:
            proc.stop()


@dataclass
class InferenceCluster:
    prometheus: Proc
    targets: dict[tuple[str, str], Proc]  # (node, inventory key) -> its stand-in
    inventory: Inventory
    inventory_path: Path
    config: dict[str, Any]

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    def query(self, expr: str) -> list[dict[str, Any]]:
        return prom_query(self.prometheus.url, expr)


@contextlib.contextmanager
def inference_cluster(interval: str = "1s") -> Iterator[InferenceCluster]:
    """The stand-ins of the module docstring, and Prometheus 2.42 with the generated config and rules/."""
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempdir("inference"))
        enter = stack.enter_context
        targets = {
            ("spark-01", "vllm"): enter(stand_in("vllm_sim", "--vllm-version=0.12", f"--model={MODELS['vllm']}",
                                                 "--seed=1", "--rate=4")),
            ("spark-01", "sglang"): enter(stand_in("sglang_sim", f"--model={MODELS['sglang']}", "--seed=2",
                                                   "--rate=4")),
            ("spark-01", "llamacpp"): enter(stand_in("llamacpp_sim", "--seed=3", "--rate=2")),
            ("spark-02", "vllm"): enter(stand_in("vllm_sim", "--vllm-version=0.12", f"--model={MODELS['vllm']}",
                                                 "--seed=4", "--rate=4", old_client=True)),
            ("spark-02", "sglang"): enter(stand_in("sglang_sim", f"--model={MODELS['sglang']}", "--seed=5",
                                                   "--rate=4", old_client=True)),
            ("spark-03", "vllm"): enter(stand_in("llamacpp_sim", "--seed=6")),  # up, but no vllm: families
        }
        nodes: dict[str, dict[str, str]] = {}
        for (node, kind), proc in targets.items():
            # No spark-exporter runs here: a closed port, so the exporter job exists and is down.
            nodes.setdefault(node, {"name": node, "exporter": f"127.0.0.1:{free_port()}"})[kind] = proc.address
        inventory_path = workdir / "inventory.yml"
        inventory_path.write_text(yaml.safe_dump({"cluster": CLUSTER, "nodes": list(nodes.values())}, sort_keys=False))
        inventory = load_inventory(str(inventory_path))
        config = build_prometheus_config(inventory, [], scrape_interval=interval, evaluation_interval=interval)
        prom = enter(prometheus(config, rule_files=sorted(RULES_DIR.glob("*.yml"))))
        yield InferenceCluster(prom, targets, inventory, inventory_path, config)


def client_env(old_client: bool) -> dict[str, str]:
    """The environment that runs Python on the old or the newest prometheus_client."""
    env = dict(os.environ)
    if old_client:
        env["PYTHONPATH"] = str(old_client_dir())
    return env


def relabel(name: str, rules: list[dict[str, Any]]) -> str:
    """``name`` after metric_relabel_configs of action replace on __name__, as Prometheus applies them
    (the regex anchored at both ends, ``$1`` for the first group)."""
    for rule in rules:
        assert rule.get("action", "replace") == "replace" and rule["source_labels"] == ["__name__"]
        match = re.fullmatch(rule["regex"], name)
        if match and rule["target_label"] == "__name__":
            groups = match.groups()
            name = re.sub(r"\$\{?(\d+)\}?", lambda m, g=groups: g[int(m.group(1)) - 1], rule["replacement"])
    return name
