"""A simulated cluster for tests: N spark-exporters with simulated GPUs, scraped by a real Prometheus.

Prometheus runs the configuration that ``spark-exporter config prometheus`` generates for an inventory of
the exporters (cluster ``test``, nodes ``spark-01``, ``spark-02``, ...), with every file in ``rules/``.
Everything runs on free loopback ports in temporary directories and is stopped when the context exits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from helpers.procs import (
    REPO,
    Proc,
    exporter,
    free_port,
    prometheus,
    require_binary,
    start_process,
    tempdir,
    victoria_metrics,
)
from spark_exporter.prometheus.inventory import Inventory, load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

CLUSTER = "test"
RULES_DIR = REPO / "rules"


@dataclass
class SimulatedCluster:
    prometheus: Proc
    exporters: dict[str, Proc]  # node name -> its spark-exporter
    inventory_path: Path
    inventory: Inventory
    config: dict  # the generated prometheus.yml, as loaded by Prometheus

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url


def node_name(index: int) -> str:
    """spark-01, spark-02, ... (index from 0)."""
    return f"spark-{index + 1:02d}"


def all_rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def _exporter_args(index: int, profile: str | None) -> list[str]:
    args: list[str] = []
    if profile is not None:
        # A different seed per node, so the two nodes do not report identical GPUs.
        args += [f"--gpu.simulate={profile}", f"--gpu.seed={index + 1}"]
    return args


def write_inventory(path: Path, exporters: dict[str, Proc]) -> None:
    nodes = [{"name": name, "exporter": proc.address} for name, proc in exporters.items()]
    path.write_text(yaml.safe_dump({"cluster": CLUSTER, "nodes": nodes}, sort_keys=False))


@contextlib.contextmanager
def simulated_cluster(n_nodes: int = 2, profile: str | None = "gb10", interval: str = "1s",
                      rule_files: bool = True) -> Iterator[SimulatedCluster]:
    """Start ``n_nodes`` exporters (``--gpu.simulate=PROFILE`` unless None) and a Prometheus scraping them.

    ``interval`` is Prometheus' scrape and evaluation interval (the exporters collect when scraped).
    With ``rule_files`` every ``rules/*.yml`` is loaded.
    """
    if n_nodes < 1:
        raise ValueError("n_nodes must be at least 1")
    with contextlib.ExitStack() as stack:
        exporters = {node_name(i): stack.enter_context(exporter(*_exporter_args(i, profile)))
                     for i in range(n_nodes)}
        workdir = stack.enter_context(tempdir("cluster"))
        inventory_path = workdir / "inventory.yml"
        write_inventory(inventory_path, exporters)
        inventory = load_inventory(str(inventory_path))
        files = _rule_paths() if rule_files else []
        config = build_prometheus_config(inventory, [], scrape_interval=interval,
                                         evaluation_interval=interval)
        prom = stack.enter_context(prometheus(config, rule_files=files))
        yield SimulatedCluster(prom, exporters, inventory_path, inventory, config)


def _rule_paths() -> list[Path]:
    files = all_rule_files()
    if not files:
        raise RuntimeError(f"no rule files in {RULES_DIR}")
    return files


@dataclass
class VictoriaCluster:
    victoria_metrics: Proc  # single-node VictoriaMetrics, scraping with the generated prometheus.yml
    vmalert: Proc  # evaluating every rules/*.yml against it, writing results back
    exporters: dict[str, Proc]
    inventory: Inventory


@contextlib.contextmanager
def victoria_simulated_cluster(n_nodes: int = 2, profile: str | None = "gb10",
                               interval: str = "1s") -> Iterator[VictoriaCluster]:
    """The same cluster on VictoriaMetrics: it scrapes with the generated config, vmalert runs rules/."""
    vmalert_binary = require_binary("vmalert")
    with contextlib.ExitStack() as stack:
        exporters = {node_name(i): stack.enter_context(exporter(*_exporter_args(i, profile)))
                     for i in range(n_nodes)}
        workdir = stack.enter_context(tempdir("vm-cluster"))
        write_inventory(workdir / "inventory.yml", exporters)
        inventory = load_inventory(str(workdir / "inventory.yml"))
        config = build_prometheus_config(inventory, [], scrape_interval=interval,
                                         evaluation_interval=interval)
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        # strictParse off: VictoriaMetrics ignores the Prometheus-only keys (rule_files, evaluation_interval).
        # latencyOffset 0: answer from the newest samples, as Prometheus does.
        vm = stack.enter_context(victoria_metrics(f"-promscrape.config={workdir / 'prometheus.yml'}",
                                                  "-promscrape.config.strictParse=false",
                                                  "-search.latencyOffset=0s"))
        port = free_port()
        argv = [vmalert_binary, *(f"-rule={p}" for p in _rule_paths()), f"-datasource.url={vm.url}",
                f"-remoteWrite.url={vm.url}", f"-evaluationInterval={interval}",
                # No Alertmanager: alert states still reach VictoriaMetrics as ALERTS series.
                f"-notifier.url=http://127.0.0.1:{free_port()}", f"-httpListenAddr=127.0.0.1:{port}"]
        alert = start_process("vmalert", argv, port, workdir, f"http://127.0.0.1:{port}/health")
        stack.callback(alert.stop)
        yield VictoriaCluster(vm, alert, exporters, inventory)
