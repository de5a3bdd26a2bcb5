"""Thermal zones and cooling devices from <sysfs>/class/thermal (node_exporter's thermal_zone collector).

``node_thermal_zone_temp{zone,type}`` in °C (sysfs gives millidegrees); ``node_cooling_device_cur_state``
and ``_max_state{name,type}`` for each cooling device (fans, CPU frequency throttling). On GB10 the
ACPI zones cover the CPU clusters and the SoC. A zone whose sensor cannot be read (EINVAL, ENODATA
while the device sleeps) is left out, as node_exporter does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr, read_int
from .base import Collector

_MILLI = 1000  # millidegree C per degree C


@register
class ThermalZoneCollector(Collector):
    """Serves node_thermal_zone_temp (°C) and node_cooling_device_* from <sysfs>/class/thermal.

    See the module docstring.
    """

    name = "thermal_zone"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "thermal")
        temp = GaugeMetricFamily("node_thermal_zone_temp", "Zone temperature in Celsius", labels=["zone", "type"])
        cur = GaugeMetricFamily(
            "node_cooling_device_cur_state", "Current throttle state of the cooling device", labels=["name", "type"]
        )
        top = GaugeMetricFamily(
            "node_cooling_device_max_state", "Maximum throttle state of the cooling device", labels=["name", "type"]
        )
        for entry in list_dir(base):
            d = os.path.join(base, entry)
            if entry.startswith("thermal_zone"):
                value = read_int(os.path.join(d, "temp"))
                if value is not None:
                    temp.add_metric(
                        [entry.removeprefix("thermal_zone"), read_attr(os.path.join(d, "type")) or ""], value / _MILLI
                    )
            elif entry.startswith("cooling_device"):
                name = entry.removeprefix("cooling_device")
                kind = read_attr(os.path.join(d, "type")) or ""
                c, m = read_int(os.path.join(d, "cur_state")), read_int(os.path.join(d, "max_state"))
                if c is not None and m is not None:
                    cur.add_metric([name, kind], c)
                    top.add_metric([name, kind], m)
        return [fam for fam in (temp, cur, top) if fam.samples]
