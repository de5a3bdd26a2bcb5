"""Central storage end to end with Debian's VictoriaMetrics 1.79, vmagent and vmalert.

Two simulated spark-exporters are scraped twice: by a plain Prometheus with the generated prometheus.yml
and rules/, and by vmagent with the ``vmagent.yml`` that ``config remote-write`` generates, remote-writing
to a single-node VictoriaMetrics where vmalert evaluates the generated ``rules/``. Every service runs the
command line ``config remote-write`` generates (only ports, data paths and the 1 s intervals differ).
The API's overview against VictoriaMetrics must equal the overview against Prometheus within 10%.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.procs import (
    PYTHON,
    REPO,
    Proc,
    exporter,
    free_port,
    http_get,
    prom_query,
    prometheus,
    require_binary,
    start_process,
    tempdir,
    victoria_metrics,
    wait_for,
)
from spark_exporter.commands.config import main as config_main
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

pytestmark = pytest.mark.integration

INTERVAL = "1s"
NUMBERS = ("gpuUtilization", "memoryUsedGB", "memoryTotalGB", "powerDrawW", "maxGpuTemperatureC", "nodesUp",
           "nodesTotal", "activeJobs", "activeTasks", "vllmRequestsRunning", "vllmRequestsWaiting")
TOLERANCE = 0.10


def with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag=...`` replaced by (or, if absent, extended with) ``flag=value``."""
    kept = [a for a in argv if not a.startswith(flag + "=")]
    return [*kept, f"{flag}={value}"]


def api(argv: list[str], workdir: Path) -> Proc:
    """The generated ``spark-exporter api`` line, on a free port, uncached so every poll asks the store."""
    port = free_port()
    full = [PYTHON, "-m", "spark_exporter", *argv[1:], f"--web.listen-address=127.0.0.1:{port}",
            "--api.rate-limit=0", "--api.cache-ttl=0s"]
    return start_process(f"api-{port}", full, port, workdir, f"http://127.0.0.1:{port}/-/healthy")


def overview(proc: Proc) -> dict[str, Any]:
    status, body, _ = http_get(proc.url + "/api/v1/cluster/overview", timeout=15)
    assert status == 200, body[:300]
    return dict(json.loads(body))


def disagreements(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The NUMBERS on which two overviews differ by more than TOLERANCE (relative), or one is null."""
    out = []
    for key in NUMBERS:
        x, y = a.get(key), b.get(key)
        if x is None and y is None:
            continue
        if x is None or y is None or abs(x - y) > TOLERANCE * max(abs(x), abs(y)):
            out.append(f"{key}: {x} vs {y}")
    return out


@contextlib.contextmanager
def both_stores(tmp: Path) -> Iterator[tuple[Proc, Proc, Proc]]:
    """(API on Prometheus, API on VictoriaMetrics, VictoriaMetrics), all running."""
    with contextlib.ExitStack() as stack:
        exporters = {f"spark-0{i}": stack.enter_context(exporter("--gpu.simulate=gb10", f"--gpu.seed={i}"))
                     for i in (1, 2)}
        inventory_path = tmp / "inventory.yml"
        inventory_path.write_text(yaml.safe_dump({"cluster": "test", "nodes": [
            {"name": name, "exporter": proc.address} for name, proc in exporters.items()]}))
        inventory = load_inventory(str(inventory_path))

        out = tmp / "central"
        assert config_main(["remote-write", f"--inventory={inventory_path}", f"--output={out}",
                            f"--scrape-interval={INTERVAL}", f"--alertmanager.url=http://127.0.0.1:{free_port()}"]) == 0
        lines = [line for line in (out / "commands.sh").read_text().splitlines() if line and line[0] != "#"]
        argvs = {shlex.split(line)[0]: shlex.split(line) for line in lines}
        assert set(argvs) == {"vmagent", "victoria-metrics", "vmalert", "spark-exporter"}

        # The generated flags; the store's address, data paths and (for 1 s intervals) the offset are the test's.
        flags = [a for a in argvs["victoria-metrics"][1:] if not a.startswith("-storageDataPath=")]
        vm = stack.enter_context(victoria_metrics(*with_flag(flags, "-search.latencyOffset", "0s")))
        agent_port = free_port()
        agent_argv = with_flag(with_flag(argvs["vmagent"], "-remoteWrite.tmpDataPath", str(tmp / "vmagent")),
                               "-httpListenAddr", f"127.0.0.1:{agent_port}")
        agent_argv = with_flag(agent_argv, "-remoteWrite.url", f"{vm.url}/api/v1/write")
        agent = start_process("vmagent", [require_binary("vmagent"), *agent_argv[1:]], agent_port, tmp,
                              f"http://127.0.0.1:{agent_port}/health")
        stack.callback(agent.stop)
        alert_port = free_port()
        alert_argv = argvs["vmalert"]
        for flag in ("-datasource.url", "-remoteWrite.url", "-remoteRead.url"):
            alert_argv = with_flag(alert_argv, flag, vm.url)
        alert_argv = with_flag(alert_argv, "-httpListenAddr", f"127.0.0.1:{alert_port}")
        alerter = start_process("vmalert", [require_binary("vmalert"), *alert_argv[1:]], alert_port, tmp,
                                f"http://127.0.0.1:{alert_port}/health")
        stack.callback(alerter.stop)

        prom_config = build_prometheus_config(inventory, [], INTERVAL, INTERVAL)
        prom = stack.enter_context(prometheus(prom_config, rule_files=sorted((out / "rules").glob("*.yml"))))
        on_prom = api(with_flag(argvs["spark-exporter"], "--prometheus.url", prom.url), tmp)
        stack.callback(on_prom.stop)
        on_vm = api(with_flag(argvs["spark-exporter"], "--prometheus.url", vm.url), tmp)
        stack.callback(on_vm.stop)
        yield on_prom, on_vm, vm


class TestGeneratedFiles:
    def test_agent_config_is_valid_for_prometheus_in_agent_mode(self, tmp_path: Path) -> None:
        """promtool accepts prometheus-agent.yml in agent mode: scrape jobs, remote_write, no rules."""
        inventory = tmp_path / "inventory.yml"
        inventory.write_text("cluster: c\nnodes:\n  - {name: n1, exporter: '127.0.0.1:19400'}\n")
        assert config_main(["remote-write", f"--inventory={inventory}", f"--output={tmp_path / 'out'}"]) == 0
        agent = yaml.safe_load((tmp_path / "out" / "prometheus-agent.yml").read_text())
        assert agent["remote_write"] == [{"url": "http://127.0.0.1:8428/api/v1/write"}]
        assert "rule_files" not in agent and "alerting" not in agent
        done = subprocess.run([require_binary("promtool"), "check", "config", "--agent",
                               str(tmp_path / "out" / "prometheus-agent.yml")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        rules = sorted(p.name for p in (tmp_path / "out" / "rules").glob("*.yml"))
        assert rules == sorted(p.name for p in (REPO / "rules").glob("*.yml"))


class TestEndToEnd:
    def test_overview_on_victoria_metrics_equals_prometheus(self) -> None:
        """With vmagent writing and vmalert evaluating the rules, VictoriaMetrics holds the recording rules'
        series, and the API's overview on it agrees with the overview on Prometheus within 10% on every
        figure, both seeing two nodes up."""
        with tempdir("remote-write") as tmp, both_stores(tmp) as (on_prom, on_vm, vm):
            got = wait_for(lambda: prom_query(vm.url, "cluster:nodes_up:count"), 90, 1.0,
                           "cluster:nodes_up:count written back by vmalert")
            assert [(s["metric"]["cluster"], float(s["value"][1])) for s in got] == [("test", 2.0)]

            def ready(proc: Proc) -> dict[str, Any] | None:
                ov = overview(proc)
                return ov if ov.get("nodesUp") == 2 and ov.get("gpuUtilization") is not None else None

            wait_for(lambda: ready(on_prom), 60, 1.0, "both nodes up in the overview on Prometheus")
            wait_for(lambda: ready(on_vm), 60, 1.0, "both nodes up in the overview on VictoriaMetrics")
            last: list[str] = []

            def agree() -> bool:
                last[:] = disagreements(overview(on_prom), overview(on_vm))
                return not last

            try:
                wait_for(agree, 30, 1.0, "the two overviews to agree")
            except TimeoutError:
                pytest.fail(f"overviews differ by more than 10%: {last}")
