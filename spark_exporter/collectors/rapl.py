"""Energy counters of Intel/AMD RAPL zones from <sysfs>/class/powercap (node_exporter's rapl collector).

Per zone directory with a ``name`` file: ``node_rapl_<name>_joules_total{index,path}`` from ``energy_uj``
(µJ, served in J), ``<name>`` without its ``-N`` suffix, which becomes ``index`` (``package-0`` is
``package`` with index 0; a name without one is numbered by how often it was seen), ``path`` the zone's
directory under ``--path.sysfs``. With ``--collector.rapl.enable-zone-label`` one family
``node_rapl_joules_total{index,path,rapl_zone}`` instead. A zone whose ``max_energy_range_uj`` or
``energy_uj`` cannot be read fails the collector, as in node_exporter; a host without powercap
(arm64, the DGX Spark) serves nothing. ``energy_uj`` is root-only on current kernels: unreadable, nothing
is served.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from ..settings import ExporterConfig, bool_option
from . import register
from ._files import list_dir, read_attr, read_text
from .base import Collector, Paths

_INVALID = re.compile(r"_*[^0-9A-Za-z_]+_*")  # node_exporter's SanitizeMetricName


def _index_and_name(seen: dict[str, int], name: str) -> tuple[int, str]:
    """procfs' getIndexAndName: ``package-0`` -> (0, package); else (times seen, name)."""
    base, sep, number = name.partition("-")
    if sep and "-" not in number and number.lstrip("-").isdigit():
        return int(number), base
    return seen.get(name, 0), name


@register
class RaplCollector(Collector):
    """Serves node_rapl_*_joules_total from <sysfs>/class/powercap (see the module docstring)."""

    name = "rapl"
    options = (bool_option("collector.rapl.enable-zone-label", False,
                           "Serve one family node_rapl_joules_total with a rapl_zone label instead of one per zone."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._zone_label = bool(config["collector.rapl.enable-zone-label"])

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = os.path.normpath(self.paths.sys("class", "powercap"))
        seen: dict[str, int] = {}
        fams: dict[str, CounterMetricFamily] = {}
        for entry in list_dir(base):
            zone = os.path.join(base, entry)
            raw = read_attr(os.path.join(zone, "name"))
            if raw is None:
                continue
            index, name = _index_and_name(seen, raw)
            int(read_text(os.path.join(zone, "max_energy_range_uj")).strip())  # required, as in procfs
            seen[name] = index + 1
            try:
                micro = int(read_text(os.path.join(zone, "energy_uj")).strip())
            except PermissionError:
                return []  # root-only (CVE-2020-8694 mitigation): node_exporter serves no data either
            joules = micro / 1000000.0
            if self._zone_label:
                fam = fams.get("") or fams.setdefault("", CounterMetricFamily(
                    "node_rapl_joules_total", "Current RAPL value in joules", labels=["index", "path", "rapl_zone"]))
                fam.add_metric([str(index), zone, name], joules)
                continue
            metric = _INVALID.sub("_", name)
            fam = fams.get(metric) or fams.setdefault(metric, CounterMetricFamily(
                f"node_rapl_{metric}_joules_total", f"Current RAPL {name} value in joules", labels=["index", "path"]))
            fam.add_metric([str(index), zone], joules)
        return list(fams.values())
