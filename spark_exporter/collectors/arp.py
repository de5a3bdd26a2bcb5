"""ARP table size per interface from <procfs>/net/arp (node_exporter's arp collector, file mode).

``node_arp_entries{device}``: the number of neighbour entries on each interface. node_exporter now
reads the table over netlink by default; the counts are the same, and the file honours
``--path.procfs``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import read_text
from .base import Collector, Paths


def parse_arp(text: str) -> dict[str, int]:
    """Entries per device; the header line is skipped, the device is the sixth column."""
    counts: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 6:
            continue
        counts[cols[5]] = counts.get(cols[5], 0) + 1
    return counts


@register
class ArpCollector(Collector):
    """Serves node_arp_entries{device} from <procfs>/net/arp (see module docstring)."""

    name = "arp"
    options = (
        regex_option(
            "collector.arp.device-include", "",
            "Regexp of arp devices to include (mutually exclusive to device-exclude)."
        ),
        regex_option(
            "collector.arp.device-exclude", "",
            "Regexp of arp devices to exclude (mutually exclusive to device-include)."
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._include = compile_option(config, "collector.arp.device-include")
        self._exclude = compile_option(config, "collector.arp.device-exclude")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        fam = GaugeMetricFamily("node_arp_entries", "ARP entries by device", labels=["device"])
        for device, n in sorted(parse_arp(read_text(self.paths.proc("net", "arp"))).items()):
            if self._include is not None and not self._include.search(device):
                continue
            if self._exclude is not None and self._exclude.search(device):
                continue
            fam.add_metric([device], n)
        return [fam]
