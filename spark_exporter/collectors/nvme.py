"""NVMe controllers from <sysfs>/class/nvme (node_exporter's nvme collector).

``node_nvme_info{device,firmware_revision,model,serial,state,cntlid}`` = 1 per controller (the DGX
Spark's system SSD is one). Values are the sysfs attributes with surrounding blanks removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr
from .base import Collector

# label -> sysfs attribute
ATTRS = {
    "firmware_revision": "firmware_rev",
    "model": "model",
    "serial": "serial",
    "state": "state",
    "cntlid": "cntlid",
}


@register
class NvmeCollector(Collector):
    """Serves node_nvme_info from <sysfs>/class/nvme (see module docstring)."""

    name = "nvme"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "nvme")
        info = GaugeMetricFamily(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            labels=["device", *ATTRS],
        )
        for dev in list_dir(base):
            d = os.path.join(base, dev)
            info.add_metric([dev, *((read_attr(os.path.join(d, a)) or "") for a in ATTRS.values())], 1.0)
        return [info] if info.samples else []
