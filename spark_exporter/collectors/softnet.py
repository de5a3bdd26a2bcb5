"""Per-CPU packet processing from <procfs>/net/softnet_stat (node_exporter's softnet collector).

One line per CPU, hexadecimal columns: processed (0), dropped (1), time_squeeze (2), cpu_collision
(8), received_rps (9), flow_limit_count (10), backlog length (11) and the CPU index (12) on kernels
that write them. A column the running kernel does not write is left out, not served as 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

# column -> (family, HELP, counter); node_exporter's names and texts
COLUMNS = (
    (0, "node_softnet_processed_total", "Number of processed packets", True),
    (1, "node_softnet_dropped_total", "Number of dropped packets", True),
    (2, "node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", True),
    (
        8,
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        True,
    ),
    (9, "node_softnet_received_rps_total", "Number of times cpu woken up received_rps", True),
    (10, "node_softnet_flow_limit_count_total", "Number of times flow limit has been reached", True),
    (11, "node_softnet_backlog_len", "Softnet backlog status", False),
)
_INDEX = 12


@register
class SoftnetCollector(Collector):
    """Serves node_softnet_*{cpu} from <procfs>/net/softnet_stat (see module docstring)."""

    name = "softnet"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        fams: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for line_no, line in enumerate(read_text(self.paths.proc("net", "softnet_stat")).splitlines()):
            cols = [int(c, 16) for c in line.split()]
            if len(cols) < 9:
                raise ValueError(f"softnet_stat line {line_no + 1} has {len(cols)} columns, expected at least 9")
            cpu = str(cols[_INDEX] if len(cols) > _INDEX else line_no)
            for col, name, doc, counter in COLUMNS:
                if col >= len(cols):
                    continue
                fam = fams.get(name)
                if fam is None:
                    fam = fams[name] = (
                        CounterMetricFamily(name.removesuffix("_total"), doc, labels=["cpu"])
                        if counter
                        else GaugeMetricFamily(name, doc, labels=["cpu"])
                    )
                fam.add_metric([cpu], cols[col])
        return list(fams.values())
