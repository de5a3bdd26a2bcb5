"""node_load1/5/15 from /proc/loadavg (node_exporter's loadavg collector)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


@register
class LoadavgCollector(Collector):
    """Serves node_load1, node_load5 and node_load15 from <procfs>/loadavg (see module docstring)."""

    name = "loadavg"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        fields = read_text(self.paths.proc("loadavg")).split()
        for i, minutes in enumerate((1, 5, 15)):
            yield GaugeMetricFamily(f"node_load{minutes}", f"{minutes}m load average.", value=float(fields[i]))
