"""UDP socket buffer use from <procfs>/net/udp and udp6 (node_exporter's udp_queues collector).

``node_udp_queues{ip="v4"|"v6",queue="tx"|"rx"}``: the bytes queued in every UDP socket's send and
receive buffers, summed (the hexadecimal ``tx_queue:rx_queue`` column). A missing file (no IPv6)
serves nothing for that family of addresses.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


def parse_udp(text: str) -> tuple[int, int]:
    """(tx bytes, rx bytes) summed over the sockets of one /proc/net/udp* table. Raises ValueError."""
    tx = rx = 0
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5:
            continue
        t, sep, r = cols[4].partition(":")
        if not sep:
            raise ValueError(f"invalid queue column {cols[4]!r}")
        tx += int(t, 16)
        rx += int(r, 16)
    return tx, rx


@register
class UdpQueuesCollector(Collector):
    """Serves node_udp_queues{ip,queue} (bytes) from <procfs>/net/udp and udp6 (see module docstring)."""

    name = "udp_queues"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        fam = GaugeMetricFamily(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            labels=["ip", "queue"],
        )
        for ip, fname in (("v4", "udp"), ("v6", "udp6")):
            try:
                tx, rx = parse_udp(read_text(self.paths.proc("net", fname)))
            except FileNotFoundError:
                continue
            fam.add_metric([ip, "rx"], rx)
            fam.add_metric([ip, "tx"], tx)
        return [fam] if fam.samples else []
