"""node_time_seconds, node_time_zone_offset_seconds and the clocksource info (node_exporter's time collector).

Clocksources are read from
``<sysfs>/devices/system/clocksource/clocksourceN/{available,current}_clocksource``;
a machine without that directory simply has no clocksource series.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


@register
class TimeCollector(Collector):
    """Serves node_time_* and the clocksource info from the system clock and <sysfs>/devices/system/clocksource.

    See the module docstring.
    """

    name = "time"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        now = time.time()  # unix seconds
        yield GaugeMetricFamily("node_time_seconds", "System time in seconds since epoch (1970).", value=now)
        local = time.localtime(now)
        zone = GaugeMetricFamily(
            "node_time_zone_offset_seconds", "System time zone offset in seconds.", labels=["time_zone"]
        )
        zone.add_metric([local.tm_zone], float(local.tm_gmtoff))
        yield zone
        yield from self._clocksources()

    def _clocksources(self) -> Iterable[Metric]:
        base = self.paths.sys("devices", "system", "clocksource")
        try:
            entries = sorted(e for e in os.listdir(base) if e.startswith("clocksource"))
        except FileNotFoundError:
            return
        available = GaugeMetricFamily(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
            labels=["clocksource", "device"],
        )
        current = GaugeMetricFamily(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            labels=["clocksource", "device"],
        )
        for entry in entries:
            device = entry.removeprefix("clocksource")
            for fam, fname in ((available, "available_clocksource"), (current, "current_clocksource")):
                try:
                    names = read_text(os.path.join(base, entry, fname)).split()
                except OSError:
                    continue
                for n in names:
                    fam.add_metric([n, device], 1.0)
        yield available
        yield current
