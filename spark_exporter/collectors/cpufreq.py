"""CPU clock frequencies from <sysfs>/devices/system/cpu/cpuN/cpufreq (node_exporter's cpufreq collector).

Per CPU: ``node_cpu_frequency_{,min_,max_}hertz`` from cpuinfo_{cur,min,max}_freq (the hardware's view,
readable by root only on some drivers) and ``node_cpu_scaling_frequency_{,min_,max_}hertz`` from
scaling_{cur,min,max}_freq, all kHz in sysfs and served in Hz; ``node_cpu_scaling_governor{cpu,governor}``
is 1 for the active governor and 0 for the other available ones. A file the driver lacks is left out.
On GB10 the Cortex-X925/A725 clusters show as separate policies with their own limits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr, read_int
from .base import Collector

_KHZ = 1000  # Hz per kHz

# sysfs file -> (family, HELP)
FILES = (
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current CPU thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz."),
    ("scaling_cur_freq", "node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."),
    ("scaling_max_freq", "node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz."),
    ("scaling_min_freq", "node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz."),
)


@register
class CpufreqCollector(Collector):
    """Serves node_cpu_frequency_* and node_cpu_scaling_* (Hz) from <sysfs>/devices/system/cpu/cpuN/cpufreq.

    See the module docstring.
    """

    name = "cpufreq"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("devices", "system", "cpu")
        fams = {fname: GaugeMetricFamily(name, doc, labels=["cpu"]) for fname, name, doc in FILES}
        governor = GaugeMetricFamily(
            "node_cpu_scaling_governor", "Current enabled CPU frequency governor.", labels=["cpu", "governor"]
        )
        cpus = [e for e in list_dir(base) if e.startswith("cpu") and e[3:].isdigit()]
        for entry in sorted(cpus, key=lambda e: int(e[3:])):
            d = os.path.join(base, entry, "cpufreq")
            present = set(list_dir(d))
            if not present:
                continue
            cpu = entry[3:]
            for fname, fam in fams.items():
                if fname in present:
                    value = read_int(os.path.join(d, fname))
                    if value is not None:
                        fam.add_metric([cpu], value * _KHZ)
            current = read_attr(os.path.join(d, "scaling_governor")) if "scaling_governor" in present else None
            available = (read_attr(os.path.join(d, "scaling_available_governors")) or "").split()
            for gov in available or ([current] if current else []):
                governor.add_metric([cpu, gov], 1.0 if gov == current else 0.0)
        return [fam for fam in (*fams.values(), governor) if fam.samples]
