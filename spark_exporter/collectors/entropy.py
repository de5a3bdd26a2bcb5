"""Kernel entropy pool from <procfs>/sys/kernel/random (node_exporter's entropy collector).

``node_entropy_available_bits`` (entropy_avail) and ``node_entropy_pool_size_bits`` (poolsize).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


@register
class EntropyCollector(Collector):
    """Serves node_entropy_* (bits) from <procfs>/sys/kernel/random (see module docstring)."""

    name = "entropy"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        avail = int(read_text(self.paths.proc("sys", "kernel", "random", "entropy_avail")))
        pool = int(read_text(self.paths.proc("sys", "kernel", "random", "poolsize")))
        return [
            GaugeMetricFamily("node_entropy_available_bits", "Bits of available entropy.", value=avail),
            GaugeMetricFamily("node_entropy_pool_size_bits", "Bits of entropy pool.", value=pool),
        ]
