"""RDMA end to end: our exporter on the GB10 fixture's ConnectX-7 ports, a real Prometheus with the packaged
rules, and counters that move while it runs: the per-port rate rule and the link-error alert follow them, and
the API's network rollup reports the ports as Prometheus has them. A second node, the same tree without
class/infiniband, has no RDMA port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from helpers.procs import REPO, exporter, http_get, prom_query, prometheus, wait_for
from spark_exporter.prometheus.inventory import Inventory, load_inventory
from spark_exporter.query import PrometheusClient, Rollups
from spark_exporter.query.client import InstantResult
from spark_exporter.query.models import NetworkStats

FIXTURE = REPO / "tests" / "fixtures" / "host"
WORDS = 4  # bytes per port_rcv_data unit


@dataclass
class Setup:
    url: str
    port: Path  # the writable port directory the exporter reads
    sysfs: Path  # spark-01's sysfs root
    inventory: Inventory  # cluster c1: spark-01 (RDMA) and spark-02 (none)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("rdma")
    root, plain = work / "host", work / "plain"
    shutil.copytree(FIXTURE, root, symlinks=True)
    shutil.copytree(FIXTURE, plain, symlinks=True)
    shutil.rmtree(plain / "sys/class/infiniband")  # a node without RDMA ports

    def host_args(tree: Path) -> list[str]:
        return [
            f"--path.procfs={tree}/proc",
            f"--path.sysfs={tree}/sys",
            f"--path.rootfs={tree}/rootfs",
            "--no-collector.gpu",
            "--collect.min-age=1s",
        ]

    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(exporter(*host_args(root)))
        other = stack.enter_context(exporter(*host_args(plain)))
        targets = {"spark-01": ours.address, "spark-02": other.address}
        (work / "inventory.yml").write_text(
            yaml.safe_dump({"cluster": "c1", "nodes": [{"name": n, "exporter": a} for n, a in targets.items()]})
        )
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "spark-exporter",
                    "static_configs": [
                        {"targets": [address], "labels": {"cluster": "c1", "node": node}}
                        for node, address in targets.items()
                    ],
                }
            ],
        }
        rules = [REPO / "rules" / "spark-recording.yml", REPO / "rules" / "spark-alerts.yml"]
        prom = stack.enter_context(prometheus(config, rule_files=rules))
        wait_for(
            lambda: prom_query(prom.url, 'node_port:rdma_receive_bytes:rate1m{device="rocep1s0f0"}'),
            timeout=60,
            what="the RDMA rate rule",
        )
        yield Setup(
            prom.url,
            root / "sys/class/infiniband/rocep1s0f0/ports/1",
            root / "sys",
            load_inventory(str(work / "inventory.yml")),
        )


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


class PinnedClient(PrometheusClient):
    """A real client whose instant queries are evaluated at one fixed time, so the rollup and the
    comparison queries read the same samples."""

    def __init__(self, url: str, at: float) -> None:
        super().__init__(url)
        self.at = at

    async def query(self, expr: str, time: float | None = None) -> InstantResult:
        return await super().query(expr, self.at)


def network_at(setup: Setup, at: float, node: str | None = None, inventory: bool = True) -> NetworkStats:
    async def go() -> NetworkStats:
        async with PinnedClient(setup.url, at) as client:
            rollups = Rollups(client, setup.inventory if inventory else None, scrape_interval=1.0)
            return await rollups.network_stats(node)

    return asyncio.run(go())


def per_port(url: str, expr: str, at: float) -> dict[tuple[str, str, str], float]:
    """(node, device, port) -> value of ``expr`` evaluated by Prometheus at ``at``."""
    return {
        (r["metric"]["node"], r["metric"]["device"], r["metric"]["port"]): float(r["value"][1])
        for r in prom_query(url, expr, at)
    }


SETTLE = 3.0  # s: a sample is written when its scrape or evaluation ends, a little after its timestamp


def moving_traffic(setup: Setup) -> float:
    """Advance both data counters of rocep1s0f0/1 until both rate rules are positive; a time they were,
    once every sample up to it is written."""
    counters = [setup.port / "counters/port_rcv_data", setup.port / "counters/port_xmit_data"]

    def advance_and_check() -> float | None:
        for f in counters:
            f.write_text(f"{int(f.read_text()) + 125_000_000}\n")  # words: 500 MB
        rx = _value(setup.url, 'node_port:rdma_receive_bytes:rate1m{device="rocep1s0f0",port="1"}')
        tx = _value(setup.url, 'node_port:rdma_transmit_bytes:rate1m{device="rocep1s0f0",port="1"}')
        return float(prom_query(setup.url, "time()")[1]) if rx > 0 and tx > 0 else None

    at = wait_for(advance_and_check, timeout=30, interval=1.0, what="positive RDMA rates both ways")
    time.sleep(SETTLE)
    return at


def settled_now(url: str) -> float:
    """A Prometheus time whose scrapes and rule evaluations have all been written."""
    return float(prom_query(url, "time()")[1]) - SETTLE


class TestNetworkRollup:
    def test_port_rates_are_the_rule_values(self, setup: Setup) -> None:
        """In a cluster scope each RDMA port's rates are the rate rules' values, and the totals their sums."""
        at = moving_traffic(setup)
        net = network_at(setup, at)
        rx = per_port(setup.url, "node_port:rdma_receive_bytes:rate1m", at)
        tx = per_port(setup.url, "node_port:rdma_transmit_bytes:rate1m", at)
        ports = {(p.node, p.device, p.port): p for p in net.rdma_ports}
        assert rx[("spark-01", "rocep1s0f0", "1")] > 0
        assert {k: p.rx_bytes_per_sec for k, p in ports.items()} == rx
        assert {k: p.tx_bytes_per_sec for k, p in ports.items()} == tx
        assert net.rdma_rx_bytes_per_sec == pytest.approx(sum(rx.values()))
        node = {n.node: n for n in net.nodes}["spark-01"]
        assert node.rdma_tx_bytes_per_sec == pytest.approx(sum(tx.values()))

    def test_without_rules_the_counters_answer(self, setup: Setup) -> None:
        """Without a cluster scope (no rules apply) the rates are rate() of the byte counters, per port."""
        at = moving_traffic(setup)
        net = network_at(setup, at, inventory=False)
        raw = per_port(setup.url, "rate(node_infiniband_port_data_received_bytes_total[1m])", at)
        assert raw[("spark-01", "rocep1s0f0", "1")] > 0
        assert {(p.node, p.device, p.port): p.rx_bytes_per_sec for p in net.rdma_ports} == raw

    def test_port_state_and_link_rate_come_from_sysfs(self, setup: Setup) -> None:
        """Each port's state, physical state and link rate are what its sysfs files say."""
        at = settled_now(setup.url)
        ports = {p.device: p for p in network_at(setup, at, "spark-01").rdma_ports}
        devices = sorted(d.name for d in (setup.sysfs / "class/infiniband").iterdir())
        assert sorted(ports) == devices
        for device in devices:
            pdir = setup.sysfs / "class/infiniband" / device / "ports/1"
            state, name = (pdir / "state").read_text().split(":")
            phys = (pdir / "phys_state").read_text().split(":")[0]
            gbits = float((pdir / "rate").read_text().split()[0])
            p = ports[device]
            assert (p.port, p.state_id, p.state) == ("1", int(state), name.strip().lower())
            assert p.physical_state_id == int(phys)
            assert p.link_rate_bytes_per_sec == gbits * 1e9 / 8

    def test_node_without_rdma_has_no_ports(self, setup: Setup) -> None:
        """A node with no infiniband tree has Ethernet rows, an empty RDMA list and null RDMA totals with reasons."""
        at = settled_now(setup.url)
        net = network_at(setup, at, "spark-02")
        assert net.interfaces and {i.node for i in net.interfaces} == {"spark-02"}
        assert net.rdma_ports == []
        assert (net.rdma_rx_bytes_per_sec, net.rdma_tx_bytes_per_sec) == (None, None)
        assert "no RDMA port" in net.missing["rdmaRxBytesPerSec"]
        [node] = net.nodes
        assert (node.rdma_rx_bytes_per_sec, node.rdma_tx_bytes_per_sec) == (None, None)
        assert set(node.missing) == {"rdmaRxBytesPerSec", "rdmaTxBytesPerSec"}
        doc = net.to_json()
        assert doc["rdmaPorts"] == [] and doc["nodes"][0]["rdmaRxBytesPerSec"] is None
