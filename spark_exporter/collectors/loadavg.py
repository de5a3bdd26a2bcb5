"""node_load1/5/15 from /proc/loadavg (node_exporter's loadavg collector)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from .base import Collector, read_file


@register
class LoadavgCollector(Collector):
    name = "loadavg"

    def collect(self) -> Iterable[Metric]:
        fields = read_file(self.paths.proc("loadavg")).split()
        for i, minutes in enumerate((1, 5, 15)):
            yield GaugeMetricFamily(f"node_load{minutes}", f"{minutes}m load average.", value=float(fields[i]))
