"""Pressure stall information from /proc/pressure (node_exporter's pressure collector).

PSI ``total=`` values are microseconds; they are exported in seconds as
``node_pressure_{cpu,io,memory}_waiting_seconds_total`` ("some") and
``node_pressure_{io,memory,irq}_stalled_seconds_total`` ("full"; irq from Linux 6.1). A kernel without PSI has no
/proc/pressure: the collector then emits nothing and succeeds, as node_exporter skips it.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from ..settings import ExporterConfig
from . import register
from ._files import read_text
from .base import Collector, Paths

_HELP = {
    ("cpu", "some"): "Total time in seconds that processes have waited for CPU time",
    ("io", "some"): "Total time in seconds that processes have waited due to IO congestion",
    ("io", "full"): "Total time in seconds no process could make progress due to IO congestion",
    ("memory", "some"): "Total time in seconds that processes have waited for memory",
    ("memory", "full"): "Total time in seconds no process could make progress due to memory congestion",
    ("irq", "full"): "Total time in seconds no process could make progress due to IRQ congestion",
}


def parse_psi(text: str) -> dict[str, float]:
    """Map "some"/"full" to the cumulative stall time in microseconds."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        kind, *pairs = line.split()
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key == "total":
                out[kind] = float(value)
    return out


@register
class PressureCollector(Collector):
    """Serves node_pressure_* (seconds) from <procfs>/pressure (see module docstring)."""

    name = "pressure"

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._warned = False

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        for resource in ("cpu", "io", "memory", "irq"):
            try:
                psi = parse_psi(read_text(self.paths.proc("pressure", resource)))
            except FileNotFoundError:
                if resource == "irq":
                    continue  # kernels before 6.1 (or without IRQ time accounting) have PSI but no irq file
                if not self._warned:
                    self.log.info("pressure_unavailable", resource=resource)
                    self._warned = True
                continue
            except OSError as e:
                if not self._warned:  # once: a kernel without PSI stays without it
                    self.log.info("pressure_unavailable", resource=resource, error=str(e))
                    self._warned = True
                continue
            for kind, suffix in (("some", "waiting"), ("full", "stalled")):
                if (resource, kind) in _HELP and kind in psi:
                    yield CounterMetricFamily(
                        f"node_pressure_{resource}_{suffix}_seconds",
                        _HELP[(resource, kind)],
                        value=psi[kind] / 1000.0 / 1000.0,  # µs -> s in node_exporter's order of operations (bit-exact)
                    )
