"""Selected /proc/vmstat fields as ``node_vmstat_<field>`` (node_exporter's vmstat collector).

Untyped like node_exporter's (the file mixes counters and gauges). ``--collector.vmstat.fields``
picks the fields; the default is current node_exporter's: OOM kills, paging, swapping and faults,
which Node Exporter Full's "Memory Vmstat" panels query.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import Metric, UnknownMetricFamily

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import read_text
from .base import Collector, Paths

DEFAULT_FIELDS = r"^(oom_kill|pgpg|pswp|pg.*fault).*"


@register
class VmstatCollector(Collector):
    """Serves node_vmstat_<field> (untyped) from <procfs>/vmstat (see module docstring)."""

    name = "vmstat"
    options = (regex_option("collector.vmstat.fields", DEFAULT_FIELDS,
                            "Regexp of fields to return for the vmstat collector."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._fields = compile_option(config, "collector.vmstat.fields")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        out = []
        for line in read_text(self.paths.proc("vmstat")).splitlines():
            parts = line.split()
            if len(parts) != 2 or (self._fields is not None and not self._fields.match(parts[0])):
                continue
            try:
                value = float(parts[1])
            except ValueError:
                continue
            out.append(
                UnknownMetricFamily(
                    f"node_vmstat_{parts[0]}", f"/proc/vmstat information field {parts[0]}.", value=value
                )
            )
        return out
