"""RDMA end to end: our exporter on the GB10 fixture's ConnectX-7 ports, a real Prometheus with the packaged
rules, and counters that move while it runs: the per-port rate rule and the link-error alert follow them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from procs import REPO, exporter, http_get, prom_query, prometheus, wait_for

FIXTURE = REPO / "tests" / "fixtures" / "host"
WORDS = 4  # bytes per port_rcv_data unit


@dataclass
class Setup:
    url: str
    port: Path  # the writable port directory the exporter reads


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("rdma") / "host"
    shutil.copytree(FIXTURE, root, symlinks=True)
    with exporter(
        f"--path.procfs={root}/proc",
        f"--path.sysfs={root}/sys",
        f"--path.rootfs={root}/rootfs",
        "--no-collector.gpu",
        "--collect.min-age=1s",
    ) as ours:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "spark-exporter",
                    "static_configs": [{"targets": [ours.address], "labels": {"cluster": "c1", "node": "spark-01"}}],
                }
            ],
        }
        rules = [REPO / "rules" / "spark-recording.yml", REPO / "rules" / "spark-alerts.yml"]
        with prometheus(config, rule_files=rules) as prom:
            wait_for(
                lambda: prom_query(prom.url, 'node_port:rdma_receive_bytes:rate1m{device="rocep1s0f0"}'),
                timeout=60,
                what="the RDMA rate rule",
            )
            yield Setup(prom.url, root / "sys/class/infiniband/rocep1s0f0/ports/1")


def _value(url: str, expr: str) -> float:
    result = prom_query(url, expr)
    return float(result[0]["value"][1]) if result else float("nan")


class TestRdmaWithPrometheus:
    def test_rate_rule_follows_the_port_counter(self, setup: Setup) -> None:
        """Receive traffic written to port_rcv_data (in 4-byte words) shows as bytes/s in the recording rule."""
        start = int((setup.port / "counters/port_rcv_data").read_text())
        step = 250_000_000  # words per write: 1 GB

        def advance_and_check() -> bool:
            nonlocal start
            start += step
            (setup.port / "counters/port_rcv_data").write_text(f"{start}\n")
            return _value(setup.url, 'node_port:rdma_receive_bytes:rate1m{device="rocep1s0f0",port="1"}') > 0

        wait_for(advance_and_check, timeout=30, interval=1.0, what="a positive RDMA receive rate")
        series = prom_query(setup.url, 'node_port:rdma_receive_bytes:rate1m{device="rocep1s0f0"}')
        assert [s["metric"] for s in series] == [
            {
                "__name__": "node_port:rdma_receive_bytes:rate1m",
                "cluster": "c1",
                "node": "spark-01",
                "device": "rocep1s0f0",
                "port": "1",
            }
        ]
        raw = _value(setup.url, 'node_infiniband_port_data_received_bytes_total{device="rocep1s0f0"}')
        assert raw % WORDS == 0 and raw >= start * WORDS - step * WORDS * 5

    def test_link_error_alert_fires_when_symbol_errors_grow(self, setup: Setup) -> None:
        """SparkRDMALinkErrors fires for the port whose symbol_error counter grows, and only for it."""
        assert not prom_query(setup.url, 'ALERTS{alertname="SparkRDMALinkErrors"}')
        (setup.port / "counters/symbol_error").write_text("5\n")
        firing = wait_for(
            lambda: prom_query(setup.url, 'ALERTS{alertname="SparkRDMALinkErrors",alertstate="firing"}'),
            timeout=60,
            what="SparkRDMALinkErrors firing",
        )
        assert [(a["metric"]["device"], a["metric"]["port"], a["metric"]["node"]) for a in firing] == [
            ("rocep1s0f0", "1", "spark-01")
        ]

    def test_rules_load_healthy(self, setup: Setup) -> None:
        """Prometheus loads both RDMA recording rules and both alerts, and evaluates them without errors."""
        status, body, _ = http_get(setup.url + "/api/v1/rules")
        assert status == 200
        rules = [r for g in json.loads(body)["data"]["groups"] if g["name"] == "spark-rdma" for r in g["rules"]]
        assert {r["name"] for r in rules} == {
            "node_port:rdma_receive_bytes:rate1m",
            "node_port:rdma_transmit_bytes:rate1m",
            "SparkRDMAPortDown",
            "SparkRDMALinkErrors",
        }
        assert {r["health"] for r in rules} == {"ok"}
