"""NVMe controllers from <sysfs>/class/nvme (node_exporter's nvme collector).

``node_nvme_info{device,firmware_revision,model,serial,state,cntlid}`` = 1 per controller (the DGX
Spark's system SSD is one). Values are the sysfs attributes with surrounding blanks removed.

Per namespace (``device``, ``nsid``; the ``nvmeXnN`` directories of a controller), as current node_exporter:
``node_nvme_namespace_info{device,nsid,ana_state}`` (``unknown`` without ``ana_state``),
``node_nvme_namespace_{size,capacity,used}_bytes`` (``size`` and ``nuse`` blocks times
``queue/logical_block_size``) and ``node_nvme_namespace_logical_block_size_bytes``. A namespace whose size
files cannot be read fails the collector, as in node_exporter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr, read_text
from .base import Collector

# label -> sysfs attribute
ATTRS = {
    "firmware_revision": "firmware_rev",
    "model": "model",
    "serial": "serial",
    "state": "state",
    "cntlid": "cntlid",
}

_NAMESPACE = re.compile(r"nvme\d+n(\d+)")
NAMESPACE_FAMILIES = (
    ("namespace_capacity_bytes",
     "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size"),
    ("namespace_size_bytes",
     "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size"),
    ("namespace_used_bytes",
     "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse"),
    ("namespace_logical_block_size_bytes",
     "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in "
     "/sys/class/nvme/<device>/<namespace>/queue/logical_block_size"),
)


def _blocks(path: str) -> int:
    """A namespace size attribute; 0 when it does not parse, OSError when it cannot be read (as procfs)."""
    text = read_text(path, 64 << 10).strip()
    return int(text) if text.isdigit() else 0


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
        ns_info = GaugeMetricFamily("node_nvme_namespace_info",
                                    "Information about NVMe namespaces. Value is always 1",
                                    labels=["device", "nsid", "ana_state"])
        ns_fams = {suffix: GaugeMetricFamily(f"node_nvme_{suffix}", doc, labels=["device", "nsid"])
                   for suffix, doc in NAMESPACE_FAMILIES}
        for dev in list_dir(base):
            d = os.path.join(base, dev)
            info.add_metric([dev, *((read_attr(os.path.join(d, a)) or "") for a in ATTRS.values())], 1.0)
            for entry in list_dir(d):
                m = _NAMESPACE.search(entry)
                if m is None:
                    continue
                ns = os.path.join(d, entry)
                used, size = _blocks(os.path.join(ns, "nuse")), _blocks(os.path.join(ns, "size"))
                block = _blocks(os.path.join(ns, "queue", "logical_block_size"))
                labels = [dev, m.group(1)]
                ns_info.add_metric([*labels, read_attr(os.path.join(ns, "ana_state")) or "unknown"], 1.0)
                for suffix, value in (("namespace_capacity_bytes", size * block),
                                      ("namespace_size_bytes", size * block), ("namespace_used_bytes", used * block),
                                      ("namespace_logical_block_size_bytes", block)):
                    ns_fams[suffix].add_metric(labels, float(value))
        return [f for f in (info, ns_info, *ns_fams.values()) if f.samples]
