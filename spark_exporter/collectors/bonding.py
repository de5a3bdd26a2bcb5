"""Bonded network interfaces from <sysfs>/class/net (node_exporter's bonding collector).

Per bond (``master``, each name in ``bonding_masters``): ``node_bonding_slaves`` (members listed in
``MASTER/bonding/slaves``) and ``node_bonding_active`` (members whose ``bonding_slave/mii_status`` is
``up``, read under ``lower_SLAVE`` or, on older kernels, ``slave_SLAVE``). node_exporter's
``NodeBondingDegraded`` alert fires when the two differ. A host without the bonding driver has no
``bonding_masters``: nothing is served and the collector succeeds (node_exporter scores it 0 there); a
bond whose files cannot be read fails the collector, as in node_exporter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


@register
class BondingCollector(Collector):
    """Serves node_bonding_slaves and node_bonding_active{master} (see the module docstring)."""

    name = "bonding"

    def _mii_status(self, master: str, slave: str) -> str:
        base = self.paths.sys("class", "net", master)
        try:
            return read_text(os.path.join(base, f"lower_{slave}", "bonding_slave", "mii_status")).strip()
        except FileNotFoundError:
            return read_text(os.path.join(base, f"slave_{slave}", "bonding_slave", "mii_status")).strip()

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            masters = read_text(self.paths.sys("class", "net", "bonding_masters")).split()
        except FileNotFoundError:
            return []
        slaves = GaugeMetricFamily("node_bonding_slaves", "Number of configured slaves per bonding interface.",
                                   labels=["master"])
        active = GaugeMetricFamily("node_bonding_active", "Number of active slaves per bonding interface.",
                                   labels=["master"])
        for master in masters:
            members = read_text(self.paths.sys("class", "net", master, "bonding", "slaves")).split()
            up = sum(1 for slave in members if self._mii_status(master, slave) == "up")
            slaves.add_metric([master], float(len(members)))
            active.add_metric([master], float(up))
        return [active, slaves]
