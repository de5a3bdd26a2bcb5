"""Netfilter connection tracking (node_exporter's conntrack collector).

``node_nf_conntrack_entries`` and ``_entries_limit`` from <procfs>/sys/net/netfilter/nf_conntrack_{count,max};
``node_nf_conntrack_stat_*`` summed over CPUs from <procfs>/net/stat/nf_conntrack (hexadecimal
columns, one line per CPU). Without the nf_conntrack module loaded the files are absent and the
collector serves nothing, as node_exporter does.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

# Column of /proc/net/stat/nf_conntrack -> (family suffix, HELP), in node_exporter's order.
STATS = {
    "found": ("found", "Number of searched entries which were successful."),
    "invalid": ("invalid", "Number of packets seen which can not be tracked."),
    "ignore": ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    "insert": ("insert", "Number of entries inserted into the list."),
    "insert_failed": ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    "drop": ("drop", "Number of packets dropped due to conntrack failure."),
    "early_drop": (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    "search_restart": (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
}


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """Sum each column of /proc/net/stat/nf_conntrack over the per-CPU lines (values are hex)."""
    lines = text.split("\n")
    header = lines[0].split()
    totals = dict.fromkeys(header, 0)
    for line in lines[1:]:
        cols = line.split()
        if len(cols) != len(header):
            continue
        for key, col in zip(header, cols, strict=True):
            totals[key] += int(col, 16)
    return totals


@register
class ConntrackCollector(Collector):
    """Serves node_nf_conntrack_* from <procfs>/sys/net/netfilter and <procfs>/net/stat/nf_conntrack.

    See the module docstring.
    """

    name = "conntrack"

    def _int(self, *parts: str) -> int | None:
        try:
            return int(read_text(self.paths.proc(*parts)))
        except FileNotFoundError:
            return None

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        out: list[Metric] = []
        count = self._int("sys", "net", "netfilter", "nf_conntrack_count")
        if count is not None:
            out.append(
                GaugeMetricFamily(
                    "node_nf_conntrack_entries",
                    "Number of currently allocated flow entries for connection tracking.",
                    value=count,
                )
            )
        limit = self._int("sys", "net", "netfilter", "nf_conntrack_max")
        if limit is not None:
            out.append(
                GaugeMetricFamily(
                    "node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", value=limit
                )
            )
        try:
            stats = parse_conntrack_stat(read_text(self.paths.proc("net", "stat", "nf_conntrack")))
        except FileNotFoundError:
            return out
        for key, (suffix, doc) in STATS.items():
            if key in stats:
                out.append(GaugeMetricFamily(f"node_nf_conntrack_stat_{suffix}", doc, value=stats[key]))
        return out
