"""IP Virtual Server (IPVS) load-balancer statistics from <procfs>/net/ip_vs_stats and <procfs>/net/ip_vs
(node_exporter's ipvs collector).

Totals: ``node_ipvs_connections_total``, ``node_ipvs_{incoming,outgoing}_{packets,bytes}_total`` (hex in
the file). Per backend: ``node_ipvs_backend_connections_{active,inactive}`` and ``node_ipvs_backend_weight``
labelled ``local_address``, ``local_port``, ``remote_address``, ``remote_port``, ``proto`` (TCP, UDP, FWM)
and ``local_mark`` (the firewall mark of an FWM service), or the subset ``--collector.ipvs.backend-labels``
names; backends that the subset makes equal are summed, as in node_exporter. A host without the ip_vs
module has no ``ip_vs_stats``: nothing is served.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, Option
from . import register
from ._files import read_text
from .base import Collector, Paths

BACKEND_LABELS = ("local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark")

TOTALS = (
    ("connections_total", "The total number of connections made."),
    ("incoming_packets_total", "The total number of incoming packets."),
    ("outgoing_packets_total", "The total number of outgoing packets."),
    ("incoming_bytes_total", "The total amount of incoming data."),
    ("outgoing_bytes_total", "The total amount of outgoing data."),
)


def _backend_labels(value: Any) -> tuple[str, ...]:
    """The chosen labels in node_exporter's order; ValueError naming any unknown one."""
    chosen = {v.strip() for v in str(value).split(",") if v.strip()}
    unknown = sorted(chosen - set(BACKEND_LABELS))
    if unknown:
        raise ValueError(f"unknown IPVS backend labels: {', '.join(unknown)}")
    return tuple(label for label in BACKEND_LABELS if label in chosen)


def parse_stats(text: str) -> list[int]:
    """The five totals of ip_vs_stats (connections, packets in/out, bytes in/out); ValueError if corrupt."""
    lines = text.split("\n", 3)
    if len(lines) != 4:
        raise ValueError("ip_vs_stats corrupt: too short")
    fields = lines[2].split()
    if len(fields) != 5:
        raise ValueError("ip_vs_stats corrupt: unexpected number of fields")
    return [int(f, 16) for f in fields]


def _ip_port(text: str) -> tuple[str, int]:
    """``C0A80016:0CEA`` or ``[v6]:PORT`` as (address, port), as prometheus/procfs' parseIPPort."""
    if len(text) == 13:
        ip = str(ipaddress.IPv4Address(bytes.fromhex(text[:8])))
    elif len(text) == 46:
        v6 = ipaddress.IPv6Address(text[1:40])
        ip = str(v6.ipv4_mapped) if v6.ipv4_mapped else v6.compressed
    else:
        raise ValueError(f"unexpected IP:Port {text!r}")
    return ip, int(text[-4:], 16)


def parse_backends(text: str) -> list[tuple[dict[str, str], tuple[int, int, int]]]:
    """Each backend of /proc/net/ip_vs: its labels and (weight, active, inactive connections)."""
    out = []
    proto, mark, local, lport = "", "", "", 0
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] in ("IP", "Prot") or (len(fields) > 1 and fields[1] == "RemoteAddress:Port"):
            continue
        if fields[0] in ("TCP", "UDP") and len(fields) >= 2:
            proto, mark = fields[0], ""
            local, lport = _ip_port(fields[1])
        elif fields[0] == "FWM" and len(fields) >= 2:
            proto, mark, local, lport = "FWM", fields[1], "", 0
        elif fields[0] == "->" and len(fields) >= 6:
            remote, rport = _ip_port(fields[1])
            labels = {"local_address": local, "local_port": str(lport), "remote_address": remote,
                      "remote_port": str(rport), "proto": proto, "local_mark": mark}
            out.append((labels, (int(fields[3]), int(fields[4]), int(fields[5]))))
    return out


@register
class IpvsCollector(Collector):
    """Serves node_ipvs_* from <procfs>/net/ip_vs_stats and <procfs>/net/ip_vs (see the module docstring)."""

    name = "ipvs"
    options = (Option("collector.ipvs.backend-labels", _backend_labels, BACKEND_LABELS,
                      "Comma separated list for IPVS backend stats labels.", metavar="LABELS",
                      render=",".join),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._labels: tuple[str, ...] = tuple(config["collector.ipvs.backend-labels"])

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            totals = parse_stats(read_text(self.paths.proc("net", "ip_vs_stats")))
        except FileNotFoundError:
            return []
        out: list[Metric] = [CounterMetricFamily(f"node_ipvs_{suffix}", doc, value=float(v))
                             for (suffix, doc), v in zip(TOTALS, totals, strict=True)]
        sums: dict[tuple[str, ...], list[int]] = {}
        for labels, (weight, active, inactive) in parse_backends(read_text(self.paths.proc("net", "ip_vs"))):
            key = tuple(labels[label] for label in self._labels)
            total = sums.setdefault(key, [0, 0, 0])
            total[0] += active
            total[1] += inactive
            total[2] += weight
        docs = (("backend_connections_active", "The current active connections by local and remote address."),
                ("backend_connections_inactive", "The current inactive connections by local and remote address."),
                ("backend_weight", "The current backend weight by local and remote address."))
        for i, (suffix, doc) in enumerate(docs):
            fam = GaugeMetricFamily(f"node_ipvs_{suffix}", doc, labels=list(self._labels))
            for key, values in sums.items():
                fam.add_metric(list(key), float(values[i]))
            if fam.samples:
                out.append(fam)
        return out
