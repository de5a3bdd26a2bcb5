"""Kernel activity counters from /proc/stat (node_exporter's stat collector).

node_boot_time_seconds, node_context_switches_total, node_forks_total, node_intr_total,
node_procs_running and node_procs_blocked. Read directly so ``--path.procfs`` applies. With
``--collector.stat.softirq`` also ``node_softirqs_total{vector}``, the per-vector columns of the ``softirq`` line.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, bool_option
from . import register
from ._files import read_text
from .base import Collector, Paths

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


# Column order of the "softirq" line after its total (the kernel's softirq_to_name).
SOFTIRQ_VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "block_iopoll", "tasklet", "sched", "hrtimer", "rcu")


def parse_softirq(text: str) -> dict[str, float]:
    """Calls per softirq vector from /proc/stat's ``softirq`` line; {} when the line is absent."""
    for line in text.splitlines():
        if line.startswith("softirq "):
            cols = line.split()[2:]  # skip the key and the total
            return {v: float(c) for v, c in zip(SOFTIRQ_VECTORS, cols, strict=False)}
    return {}


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
    """Serves node_boot_time_seconds, node_context_switches_total, node_procs_* ... from <procfs>/stat.

    See the module docstring.
    """

    name = "stat"
    options = (bool_option("collector.stat.softirq", False, "Export softirq calls per vector."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._softirq = bool(config["collector.stat.softirq"])

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        text = read_text(self.paths.proc("stat"))
        if self._softirq:
            fam = CounterMetricFamily("node_softirqs", "Number of softirq calls.", labels=["vector"])
            for vector, calls in parse_softirq(text).items():
                fam.add_metric([vector], calls)
            if fam.samples:
                yield fam
        values = parse_stat(text)
        for key, value in values.items():
            name, doc, counter = _FIELDS[key]
            if counter:
                yield CounterMetricFamily(name, doc, value=value)
            else:
                yield GaugeMetricFamily(name, doc, value=value)
