"""The network answer's RDMA part built from Prometheus samples (no process): rows per port, nulls with
reasons, and totals that are sums of readings, never zeros for ports or nodes without data."""

from __future__ import annotations

from spark_exporter.query.client import Sample
from spark_exporter.query.mapping import fill_network
from spark_exporter.query.models import NetworkStats


def port(node: str, device: str, value: float | None, port_no: str = "1") -> Sample:
    return Sample({"node": node, "device": device, "port": port_no}, 0.0, value)


def eth(node: str, device: str, value: float) -> Sample:
    return Sample({"node": node, "device": device}, 0.0, value)


class TestRdmaPorts:
    def test_port_with_state_but_no_counters_has_null_rates_with_reasons(self) -> None:
        """A port whose data counters are absent is listed with null rates and a reason for each, not 0."""
        out = NetworkStats()
        fill_network(out, {"rdma_state": [port("n1", "mlx5_0", 4)], "rdma_link_rate": [port("n1", "mlx5_0", 25e9)]})
        [p] = out.rdma_ports
        assert (p.state_id, p.state, p.link_rate_bytes_per_sec) == (4, "active", 25e9)
        assert (p.rx_bytes_per_sec, p.tx_bytes_per_sec) == (None, None)
        assert set(p.missing) == {"rxBytesPerSec", "txBytesPerSec", "physicalStateId", "physicalState"}
        assert "node_port:rdma_receive_bytes:rate1m" in p.missing["rxBytesPerSec"]
        assert (out.rdma_rx_bytes_per_sec, out.nodes[0].rdma_rx_bytes_per_sec) == (None, None)

    def test_state_number_without_a_name_keeps_the_number(self) -> None:
        """A state number outside the IBA list keeps its id; its name is null with the number as the reason."""
        out = NetworkStats()
        fill_network(out, {"rdma_state": [port("n1", "mlx5_0", 9)], "rdma_physical_state": [port("n1", "mlx5_0", 3)]})
        [p] = out.rdma_ports
        assert (p.state_id, p.state, p.physical_state) == (9, None, "disabled")
        assert p.missing["state"] == "state number 9 has no IBA name"

    def test_totals_add_ports_per_node_and_in_scope(self) -> None:
        """Node totals add that node's ports; the scope totals add every port; Ethernet totals are unchanged."""
        parts = {
            "rx": [eth("n1", "enp1s0", 10.0), eth("n2", "enp1s0", 20.0)],
            "tx": [eth("n1", "enp1s0", 1.0), eth("n2", "enp1s0", 2.0)],
            "rdma_rx": [port("n1", "rocep1s0f0", 100.0), port("n1", "rocep1s0f1", 50.0)],
            "rdma_tx": [port("n1", "rocep1s0f0", 7.0), port("n1", "rocep1s0f1", None)],
        }
        out = NetworkStats()
        fill_network(out, parts)
        nodes = {n.node: n for n in out.nodes}
        assert (nodes["n1"].rdma_rx_bytes_per_sec, nodes["n1"].rdma_tx_bytes_per_sec) == (150.0, 7.0)
        assert (nodes["n2"].rdma_rx_bytes_per_sec, nodes["n2"].rdma_tx_bytes_per_sec) == (None, None)
        assert "no RDMA port" in nodes["n2"].missing["rdmaRxBytesPerSec"]
        assert nodes["n1"].missing == {}
        assert (out.rdma_rx_bytes_per_sec, out.rdma_tx_bytes_per_sec) == (150.0, 7.0)
        assert (out.rx_bytes_per_sec, out.tx_bytes_per_sec) == (30.0, 3.0)
        assert [(p.device, p.port) for p in out.rdma_ports] == [("rocep1s0f0", "1"), ("rocep1s0f1", "1")]

    def test_node_with_only_rdma_is_listed(self) -> None:
        """A node with RDMA ports but no Ethernet series gets a node row, its Ethernet figures null with reasons."""
        out = NetworkStats()
        fill_network(out, {"rdma_rx": [port("n3", "mlx5_0", 5.0)], "rdma_tx": [port("n3", "mlx5_0", 6.0)]})
        [n] = out.nodes
        assert (n.node, n.rx_bytes_per_sec, n.rdma_rx_bytes_per_sec) == ("n3", None, 5.0)
        assert set(n.missing) == {"rxBytesPerSec", "txBytesPerSec"}
        assert out.interfaces == []
