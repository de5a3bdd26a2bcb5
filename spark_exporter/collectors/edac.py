"""Memory error counts from <sysfs>/devices/system/edac/mc (node_exporter's edac collector).

Per memory controller (``controller``): correctable and uncorrectable errors; per chip-select row
(``controller``, ``csrow``): the same, with errors the driver could not place counted under
``csrow="unknown"``. A machine without an EDAC driver has no directory and serves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from . import register
from ._files import list_dir, read_int
from .base import Collector


@register
class EdacCollector(Collector):
    """Serves node_edac_* error counters from <sysfs>/devices/system/edac/mc (see module docstring)."""

    name = "edac"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("devices", "system", "edac", "mc")
        ce = CounterMetricFamily(
            "node_edac_correctable_errors", "Total correctable memory errors.", labels=["controller"]
        )
        ue = CounterMetricFamily(
            "node_edac_uncorrectable_errors", "Total uncorrectable memory errors.", labels=["controller"]
        )
        row_ce = CounterMetricFamily(
            "node_edac_csrow_correctable_errors",
            "Total correctable memory errors for this csrow.",
            labels=["controller", "csrow"],
        )
        row_ue = CounterMetricFamily(
            "node_edac_csrow_uncorrectable_errors",
            "Total uncorrectable memory errors for this csrow.",
            labels=["controller", "csrow"],
        )
        for mc in list_dir(base):
            if not (mc.startswith("mc") and mc[2:].isdigit()):
                continue
            d, ctl = os.path.join(base, mc), mc[2:]
            values = {
                f: read_int(os.path.join(d, f)) for f in ("ce_count", "ue_count", "ce_noinfo_count", "ue_noinfo_count")
            }
            if values["ce_count"] is None or values["ue_count"] is None:
                raise OSError(f"unreadable EDAC counts in {d}")
            ce.add_metric([ctl], values["ce_count"])
            ue.add_metric([ctl], values["ue_count"])
            if values["ce_noinfo_count"] is not None:
                row_ce.add_metric([ctl, "unknown"], values["ce_noinfo_count"])
            if values["ue_noinfo_count"] is not None:
                row_ue.add_metric([ctl, "unknown"], values["ue_noinfo_count"])
            for row in list_dir(d):
                if not (row.startswith("csrow") and row[5:].isdigit()):
                    continue
                rce, rue = read_int(os.path.join(d, row, "ce_count")), read_int(os.path.join(d, row, "ue_count"))
                if rce is not None:
                    row_ce.add_metric([ctl, row[5:]], rce)
                if rue is not None:
                    row_ue.add_metric([ctl, row[5:]], rue)
        if not ce.samples:
            return []
        return [ce, ue, row_ce, row_ue]
