"""Socket counts from <procfs>/net/sockstat and sockstat6 (node_exporter's sockstat collector).

``node_sockstat_sockets_used`` plus ``node_sockstat_<PROTO>_<field>`` for every ``PROTO: field N``
pair (``TCP_inuse``, ``TCP_tw``, ``UDP6_inuse``, ``FRAG_memory`` ...); ``mem`` is in pages, so
``<PROTO>_mem_bytes`` is added (mem times the page size). A missing file (no IPv6) serves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

_PAGE = os.sysconf("SC_PAGESIZE")  # bytes
_FIELDS = ("inuse", "orphan", "tw", "alloc", "mem", "memory")  # node_exporter's order


def parse_sockstat(text: str) -> tuple[int | None, list[tuple[str, dict[str, int]]]]:
    """(sockets used, [(protocol, {field: value})]) from one sockstat file. Raises ValueError."""
    used: int | None = None
    protocols = []
    for line in text.splitlines():
        proto, sep, rest = line.partition(":")
        if not sep:
            continue
        cols = rest.split()
        if len(cols) % 2:
            raise ValueError(f"odd number of fields in sockstat line {line!r}")
        pairs = {cols[i]: int(cols[i + 1]) for i in range(0, len(cols), 2)}
        if proto == "sockets":
            used = pairs.get("used")
        else:
            protocols.append((proto, pairs))
    return used, protocols


@register
class SockstatCollector(Collector):
    """Serves node_sockstat_* from <procfs>/net/sockstat and sockstat6 (see module docstring)."""

    name = "sockstat"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        out: list[Metric] = []
        for fname in ("sockstat", "sockstat6"):
            try:
                text = read_text(self.paths.proc("net", fname))
            except FileNotFoundError:
                continue
            used, protocols = parse_sockstat(text)
            if used is not None:
                out.append(
                    GaugeMetricFamily("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", value=used)
                )
            for proto, pairs in protocols:
                for field in _FIELDS:
                    if field in pairs:
                        out.append(self._gauge(proto, field, pairs[field]))
                if "mem" in pairs:
                    out.append(self._gauge(proto, "mem_bytes", pairs["mem"] * _PAGE))
        return out

    @staticmethod
    def _gauge(proto: str, field: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"node_sockstat_{proto}_{field}", f"Number of {proto} sockets in state {field}.", value=value
        )
