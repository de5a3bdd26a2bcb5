"""Kernel activity counters from /proc/stat (node_exporter's stat collector).

node_boot_time_seconds, node_context_switches_total, node_forks_total, node_intr_total,
node_procs_running and node_procs_blocked. Read directly so ``--path.procfs`` applies.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from .base import Collector, read_file

# /proc/stat key -> (metric name as node_exporter spells it, HELP, is a counter)
_FIELDS: dict[str, tuple[str, str, bool]] = {
    "btime": ("node_boot_time_seconds", "Node boot time, in unixtime.", False),
    "ctxt": ("node_context_switches", "Total number of context switches.", True),
    "processes": ("node_forks", "Total number of forks.", True),
    "intr": ("node_intr", "Total number of interrupts serviced.", True),
    "procs_running": ("node_procs_running", "Number of processes in runnable state.", False),
    "procs_blocked": (
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        False,
    ),
}


def parse_stat(text: str) -> dict[str, float]:
    """Return the first number of each line we export, keyed by its /proc/stat key."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key in _FIELDS:
            out[key] = float(rest.split()[0])
    return out


@register
class StatCollector(Collector):
    name = "stat"

    def collect(self) -> Iterable[Metric]:
        values = parse_stat(read_file(self.paths.proc("stat")))
        for key, value in values.items():
            name, doc, counter = _FIELDS[key]
            if counter:
                yield CounterMetricFamily(name, doc, value=value)
            else:
                yield GaugeMetricFamily(name, doc, value=value)
