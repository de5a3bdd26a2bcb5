"""Alerts delivered through Debian's real Alertmanager: routing, inhibition and resolution, end to end.

Two spark-exporters (``spark-01`` on the fake NVML driver of tests/fakenvml, ``spark-02`` on the simulator)
are scraped by a real Prometheus with the configuration ``config prometheus --alertmanager.url`` generates
and a copy of rules/ whose ``for:`` durations are divided by 30. Prometheus sends to a real Alertmanager
running the configuration ``config alertmanager`` generates (with second-long timings), whose webhook
receivers post to an aiohttp server in this test (``/page`` for critical, ``/notify`` for the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from fakenvml import compile_library, profile_from_recording
from helpers.procs import (
    PYTHON,
    REPO,
    Proc,
    free_port,
    http_get,
    prom_query,
    prometheus,
    require_binary,
    start_process,
    tempdir,
    wait_for,
)
from spark_exporter.commands.gpu import record
from spark_exporter.exporter.daemon import load_config
from spark_exporter.prometheus import alertmanager as am
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

pytestmark = pytest.mark.integration

CLUSTER = "test"
FOR_DIVISOR = 30  # for: 1m -> 2s, 5m -> 10s: the rules keep their order of firing
TIMING = am.Timing(group_wait=1, group_interval=1, repeat_interval=3600, resolve_timeout=60)
DEADLINE = 60.0  # s for any one delivery


# -- the webhook receiver ------------------------------------------------------------------------

@dataclass
class Webhook:
    """An aiohttp server in a thread, keeping every (receiver path, alert status, alert labels) it is sent."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            for alert in body["alerts"]:
                self.received.append((request.path.strip("/"), alert["status"], dict(alert["labels"])))
        return web.Response(text="ok")

    def deliveries(self, path: str | None = None, status: str | None = None,
                   **labels: str) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return [(p, s, lab) for p, s, lab in self.received
                    if (path is None or p == path) and (status is None or s == status)
                    and all(lab.get(k) == v for k, v in labels.items())]

    @contextlib.contextmanager
    def serving(self) -> Iterator[Webhook]:
        loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/{receiver}", self._handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.run_until_complete(runner.cleanup())
            loop.close()


# -- processes -----------------------------------------------------------------------------------

def start_exporter(port: int, workdir: Path, args: list[str], env: dict[str, str] | None = None) -> Proc:
    argv = [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}", "--collect.min-age=300ms",
            *args]
    return start_process(f"spark-exporter-{port}", argv, port, workdir, f"http://127.0.0.1:{port}/-/ready", env=env)


@contextlib.contextmanager
def alertmanager(config_file: Path) -> Iterator[Proc]:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    with tempdir("alertmanager") as d:
        argv = [binary, f"--config.file={config_file}", f"--storage.path={d / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # no gossip port
        proc = start_process("alertmanager", argv, port, d, f"http://127.0.0.1:{port}/-/ready", 60)
        try:
            yield proc
        finally:
            proc.stop()


def shortened_rules(out_dir: Path) -> list[Path]:
    """A copy of every rules/*.yml with each ``for:`` divided by FOR_DIVISOR (whole seconds, at least 1s)."""
    units = {"s": 1, "m": 60, "h": 3600}
    paths = []
    for path in sorted((REPO / "rules").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    amount, unit = re.fullmatch(r"(\d+)([smh])", rule["for"]).groups()  # type: ignore[union-attr]
                    rule["for"] = f"{max(1, int(amount) * units[unit] // FOR_DIVISOR)}s"
        target = out_dir / path.name
        target.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(target)
    return paths


def post_alerts(am_url: str, alerts: list[dict[str, str]], resolved: bool = False) -> None:
    """Post alerts to Alertmanager's v2 API as Prometheus does (labels, annotations, a start and an end);
    ``resolved`` posts them ending now."""
    now = datetime.now(UTC)
    end = now if resolved else now + timedelta(minutes=5)
    body = [{"labels": labels, "annotations": {"summary": "posted by the test"},
             "startsAt": (now - timedelta(minutes=1)).isoformat(), "endsAt": end.isoformat()} for labels in alerts]
    req = urllib.request.Request(f"{am_url}/api/v2/alerts", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def am_alert(am_url: str, **labels: str) -> dict[str, Any] | None:
    """The alert Alertmanager holds with these labels (its status says active, suppressed, inhibitedBy)."""
    status, body, _ = http_get(f"{am_url}/api/v2/alerts", timeout=10)
    assert status == 200
    for alert in json.loads(body):
        if all(alert["labels"].get(k) == v for k, v in labels.items()):
            return alert  # type: ignore[no-any-return]
    return None


def amtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("amtool"), "check-config", str(path)], capture_output=True, text=True,
                          timeout=60)


# -- the set-up ----------------------------------------------------------------------------------

@dataclass
class Stack:
    prometheus: Proc
    alertmanager: Proc
    webhook: Webhook
    exporters: dict[str, Proc]
    fake_profile: dict[str, Any]
    fake_profile_path: Path
    workdir: Path

    def write_profile(self) -> None:
        tmp = self.fake_profile_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.fake_profile))
        tmp.replace(self.fake_profile_path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("alerting")
    libdir = compile_library(root / "fakenvml")
    profile = profile_from_recording(record(load_config(["--gpu.simulate=gb10", "--gpu.seed=1"], {})))
    profile_path = root / "gb10.json"
    profile_path.write_text(json.dumps(profile))
    fake_env = {"LD_LIBRARY_PATH": str(libdir), "FAKENVML_PROFILE": str(profile_path)}
    hook = Webhook()
    with contextlib.ExitStack() as stack_:
        stack_.enter_context(hook.serving())
        exporters: dict[str, Proc] = {}
        spark01 = start_exporter(free_port(), root, [], env=fake_env)
        stack_.callback(lambda: exporters["spark-01"].stop())
        exporters["spark-01"] = spark01
        spark02 = start_exporter(free_port(), root, ["--gpu.simulate=gb10", "--gpu.seed=2"])
        exporters["spark-02"] = spark02
        stack_.callback(lambda: exporters["spark-02"].stop())

        am_file = root / "alertmanager.yml"
        am_file.write_text(am.render_alertmanager_config(
            am.build_alertmanager_config(hook.url("notify"), hook.url("page"), TIMING)))
        checked = amtool_check(am_file)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        manager = stack_.enter_context(alertmanager(am_file))

        inventory_path = root / "inventory.yml"
        nodes = [{"name": name, "exporter": proc.address} for name, proc in exporters.items()]
        inventory_path.write_text(yaml.safe_dump({"cluster": CLUSTER, "nodes": nodes}))
        config = build_prometheus_config(load_inventory(str(inventory_path)), [], "1s", "1s",
                                         alertmanager_urls=[manager.url])
        rules_dir = root / "rules"
        rules_dir.mkdir()
        prom = stack_.enter_context(prometheus(config, rule_files=shortened_rules(rules_dir)))
        wait_for(lambda: len([s for s in prom_query(prom.url, 'up{job="spark-exporter"} == 1')]) == 2, 60, 0.5,
                 "both exporters scraped")
        wait_for(lambda: prom_query(prom.url, 'spark_exporter_gpu_up{node="spark-01"} == 1'), 60, 0.5,
                 "spark-01's GPU on the fake driver")
        yield Stack(prom, manager, hook, exporters, profile, profile_path, root)


# -- the tests -----------------------------------------------------------------------------------

class TestGeneratedConfig:
    def test_amtool_accepts_the_command_line_output(self, tmp_path: Path) -> None:
        """amtool check-config passes on what `spark-exporter config alertmanager` writes with its defaults."""
        out = tmp_path / "alertmanager.yml"
        done = subprocess.run([PYTHON, "-m", "spark_exporter", "config", "alertmanager", "--output", str(out)],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
        assert done.returncode == 0, done.stderr
        checked = amtool_check(out)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Found:" in checked.stdout and "inhibit rules" in checked.stdout

    def test_amtool_rejects_a_broken_config(self, tmp_path: Path) -> None:
        """The same check fails on a route naming a receiver that does not exist, so it can fail."""
        config = am.build_alertmanager_config()
        config["route"]["routes"][0]["receiver"] = "nobody"
        bad = tmp_path / "bad.yml"
        bad.write_text(yaml.safe_dump(config))
        assert amtool_check(bad).returncode != 0


class TestDelivery:
    def test_node_down_pages_once_and_inhibits_the_rest_of_that_node(self, stack: Stack) -> None:
        """Stopping spark-02's exporter, the node's only scrape target, pages SparkNodeDown for spark-02;
        its SparkExporterDown and its other alerts are held back while the same alerts of spark-01 go out;
        the page resolves when the exporter is back."""
        hook, manager = stack.webhook, stack.alertmanager
        down = stack.exporters["spark-02"]
        port = down.port
        down.stop()
        fired = wait_for(lambda: hook.deliveries("page", "firing", alertname="SparkNodeDown"), DEADLINE, 0.3,
                         "SparkNodeDown delivered to the page receiver")
        assert {labels["node"] for _, _, labels in fired} == {"spark-02"}
        assert fired[0][2]["cluster"] == CLUSTER and fired[0][2]["severity"] == "critical"
        exporter_down = wait_for(lambda: am_alert(manager.url, node="spark-02", alertname="SparkExporterDown"),
                                 DEADLINE, 0.3, "SparkExporterDown of spark-02 in Alertmanager")
        assert exporter_down["status"]["state"] == "suppressed", exporter_down
        assert exporter_down["status"]["inhibitedBy"], exporter_down

        # What Prometheus would send for the node if it still had data: a GPU, a host and a workload alert,
        # and the same GPU alert for the other node as the control.
        held = [{"alertname": "SparkGPUTemperatureHigh", "gpu": "0", "severity": "warning"},
                {"alertname": "SparkHostMemoryLow", "severity": "warning"},
                {"alertname": "SparkVLLMDown", "severity": "critical"}]
        posted = [{**a, "cluster": CLUSTER, "node": "spark-02"} for a in held] + [
            {"alertname": "SparkGPUTemperatureHigh", "gpu": "0", "severity": "warning", "cluster": CLUSTER,
             "node": "spark-01"}]
        post_alerts(manager.url, posted)
        wait_for(lambda: hook.deliveries("notify", "firing", alertname="SparkGPUTemperatureHigh", node="spark-01"),
                 DEADLINE, 0.3, "the control alert of spark-01")
        for alert in held:
            state = am_alert(manager.url, node="spark-02", alertname=alert["alertname"])
            assert state is not None and state["status"]["state"] == "suppressed", state
            assert state["status"]["inhibitedBy"], state
        time.sleep(3 * TIMING.group_interval)  # further flushes of spark-02's group would have sent them
        sent = {labels["alertname"] for _, _, labels in hook.deliveries(node="spark-02")}
        assert sent == {"SparkNodeDown"}
        post_alerts(manager.url, posted, resolved=True)  # so they stay quiet once the inhibition ends

        stack.exporters["spark-02"] = start_exporter(port, stack.workdir, ["--gpu.simulate=gb10", "--gpu.seed=2"])
        resolved = wait_for(lambda: hook.deliveries("page", "resolved", alertname="SparkNodeDown",
                                                    node="spark-02"), DEADLINE, 0.3, "SparkNodeDown resolved")
        assert resolved

    def test_exporter_down_on_a_node_that_still_reports_silences_only_the_exporters_alerts(
            self, stack: Stack) -> None:
        """A node whose spark-exporter is down while dcgm-exporter and vLLM still answer (posted as Prometheus
        would send it: SparkExporterDown, no SparkNodeDown): its critical GPU temperature and vLLM alerts are
        delivered, only the exporter's own SparkCollectorFailing is held back."""
        hook, manager = stack.webhook, stack.alertmanager
        node = {"cluster": CLUSTER, "node": "spark-03"}  # not scraped: only what the test posts
        exporter = {"job": "spark-exporter", "instance": "10.0.0.3:19400"}
        delivered = [{"alertname": "SparkExporterDown", "severity": "critical", **exporter, **node},
                     {"alertname": "SparkGPUTemperatureCritical", "gpu": "0", "severity": "critical", **node},
                     {"alertname": "SparkVLLMDown", "severity": "critical", "job": "vllm",
                      "instance": "10.0.0.3:8000", **node}]
        held = {"alertname": "SparkCollectorFailing", "collector": "gpu", "severity": "warning", **exporter, **node}
        # The source first, as Prometheus sends it (an exporter that is down has no collector to fail): one
        # batch with both would race Alertmanager's inhibitor, which learns of new alerts asynchronously.
        post_alerts(manager.url, delivered)
        try:
            for alert in delivered:
                wait_for(lambda a=alert: hook.deliveries("page", "firing", **a), DEADLINE, 0.3,
                         f"{alert['alertname']} of spark-03 delivered")
            post_alerts(manager.url, [held])
            wait_for(lambda: am_alert(manager.url, node="spark-03", alertname="SparkCollectorFailing"), DEADLINE,
                     0.3, "SparkCollectorFailing of spark-03 known to Alertmanager")
            state = am_alert(manager.url, node="spark-03", alertname="SparkCollectorFailing")
            assert state is not None and state["status"]["state"] == "suppressed", state
            assert state["status"]["inhibitedBy"], state
            time.sleep(3 * TIMING.group_interval)
            assert not hook.deliveries(node="spark-03", alertname="SparkCollectorFailing")
        finally:
            post_alerts(manager.url, [*delivered, held], resolved=True)

    def test_lost_gpu_pages_and_resolves_when_it_answers_again(self, stack: Stack) -> None:
        """A GPU lost on the fake NVML driver pages SparkGPULost for spark-01 gpu 0, holds back that GPU's
        temperature alert, and resolves once the driver answers for it again."""
        hook, manager = stack.webhook, stack.alertmanager
        stack.fake_profile["devices"][0]["lost"] = True
        stack.write_profile()
        fired = wait_for(lambda: hook.deliveries("page", "firing", alertname="SparkGPULost"), DEADLINE, 0.3,
                         "SparkGPULost delivered to the page receiver")
        assert {(labels["node"], labels["gpu"]) for _, _, labels in fired} == {("spark-01", "0")}

        post_alerts(manager.url, [{"alertname": "SparkGPUThermalThrottling", "gpu": "0", "severity": "warning",
                                   "cluster": CLUSTER, "node": "spark-01"}])
        state = wait_for(lambda: am_alert(manager.url, alertname="SparkGPUThermalThrottling"), 10, 0.3,
                         "the posted alert in Alertmanager")
        assert state["status"]["state"] == "suppressed" and state["status"]["inhibitedBy"], state
        time.sleep(3 * TIMING.group_interval)
        assert not hook.deliveries(alertname="SparkGPUThermalThrottling")
        post_alerts(manager.url, [state["labels"]], resolved=True)

        stack.fake_profile["devices"][0]["lost"] = False
        stack.write_profile()
        wait_for(lambda: hook.deliveries("page", "resolved", alertname="SparkGPULost", node="spark-01"),
                 DEADLINE + 60, 0.3, "SparkGPULost resolved")  # + the exporter's look-again backoff
