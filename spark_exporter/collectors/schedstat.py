"""Per-CPU scheduler statistics from <procfs>/schedstat (node_exporter's schedstat collector).

From each ``cpuN`` line: time spent running and waiting (nanoseconds, served in seconds) and the
number of timeslices run. A kernel without CONFIG_SCHEDSTATS has no file: nothing is served.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

_NS_PER_S = 1e9  # divided, not multiplied by 1e-9: the same float as node_exporter


@register
class SchedstatCollector(Collector):
    """Serves node_schedstat_* (seconds, timeslices) from <procfs>/schedstat (see module docstring)."""

    name = "schedstat"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            text = read_text(self.paths.proc("schedstat"))
        except FileNotFoundError:
            return []
        running = CounterMetricFamily(
            "node_schedstat_running_seconds", "Number of seconds CPU spent running a process.", labels=["cpu"]
        )
        waiting = CounterMetricFamily(
            "node_schedstat_waiting_seconds",
            "Number of seconds spent by processing waiting for this CPU.",
            labels=["cpu"],
        )
        slices = CounterMetricFamily(
            "node_schedstat_timeslices", "Number of timeslices executed by CPU.", labels=["cpu"]
        )
        for line in text.splitlines():
            cols = line.split()
            if not cols or not cols[0].startswith("cpu") or len(cols) < 10:
                continue
            cpu = cols[0][3:]
            running.add_metric([cpu], int(cols[7]) / _NS_PER_S)
            waiting.add_metric([cpu], int(cols[8]) / _NS_PER_S)
            slices.add_metric([cpu], int(cols[9]))
        return [running, waiting, slices]
