"""Firmware and board identity from <sysfs>/class/dmi/id (node_exporter's dmi collector).

``node_dmi_info`` = 1, labelled with each DMI field the kernel exposes and this user may read (serial
numbers and the UUID are root-only): bios_date, bios_release, bios_vendor, bios_version, board_*,
chassis_*, product_*, and system_vendor (the ``sys_vendor`` file). A field that cannot be read is not a
label, as in node_exporter. On a DGX Spark this names the NVIDIA board and its firmware.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_attr
from .base import Collector

# label -> file, in node_exporter's order
FIELDS = {
    "bios_date": "bios_date",
    "bios_release": "bios_release",
    "bios_vendor": "bios_vendor",
    "bios_version": "bios_version",
    "board_asset_tag": "board_asset_tag",
    "board_name": "board_name",
    "board_serial": "board_serial",
    "board_vendor": "board_vendor",
    "board_version": "board_version",
    "chassis_asset_tag": "chassis_asset_tag",
    "chassis_serial": "chassis_serial",
    "chassis_vendor": "chassis_vendor",
    "chassis_version": "chassis_version",
    "product_family": "product_family",
    "product_name": "product_name",
    "product_serial": "product_serial",
    "product_sku": "product_sku",
    "product_uuid": "product_uuid",
    "product_version": "product_version",
    "system_vendor": "sys_vendor",
}


@register
class DmiCollector(Collector):
    """Serves node_dmi_info from <sysfs>/class/dmi/id (see module docstring)."""

    name = "dmi"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "dmi", "id")
        if not os.path.isdir(base):
            return []  # no DMI tables (many ARM boards): nothing to report, not a failure
        found = {label: read_attr(os.path.join(base, f)) for label, f in FIELDS.items()}
        labels = {k: v for k, v in found.items() if v is not None}
        fam = GaugeMetricFamily(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by " + ", ".join(FIELDS) + " if provided by DMI.",
            labels=list(labels),
        )
        fam.add_metric(list(labels.values()), 1.0)
        return [fam]
