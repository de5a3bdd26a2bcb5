"""Every /proc/meminfo field as node_memory_<Field>[_bytes] (node_exporter's meminfo collector).

psutil.virtual_memory() exposes a handful of derived values; dashboards written for node_exporter
query the raw kernel fields (``node_memory_MemAvailable_bytes``, ``node_memory_Active_anon_bytes``,
``node_memory_HugePages_Total``), so the file is parsed directly, with node_exporter's naming:
``Active(anon)`` becomes ``Active_anon``; a value with a ``kB`` unit is multiplied by 1024 and gets
``_bytes``; a value without a unit (the HugePages_* counts) keeps its bare name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

_PARENS = re.compile(r"\((.*)\)")
_KIB = 1024  # bytes per "kB" in /proc/meminfo (the kernel means KiB)


def parse_meminfo(text: str) -> dict[str, float]:
    """Map node_exporter's metric suffix (``MemTotal_bytes``, ``HugePages_Free``) to its value."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:  # some kernels emit blank lines
            continue
        if len(parts) not in (2, 3) or not parts[0].endswith(":"):
            raise ValueError(f"invalid line in meminfo: {line!r}")
        key = _PARENS.sub(r"_\1", parts[0][:-1])
        value = float(parts[1])
        if len(parts) == 3:
            key, value = key + "_bytes", value * _KIB
        out[key] = value
    return out


@register
class MeminfoCollector(Collector):
    """Serves node_memory_<Field>[_bytes] from <procfs>/meminfo (see module docstring)."""

    name = "meminfo"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        fields = parse_meminfo(read_text(self.paths.proc("meminfo")))
        for key, value in fields.items():
            yield GaugeMetricFamily(f"node_memory_{key}", f"Memory information field {key}.", value=value)
