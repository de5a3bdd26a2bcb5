"""Memory error counts from <sysfs>/devices/system/edac/mc (node_exporter's edac collector).

Per memory controller (``controller``): correctable and uncorrectable errors; per chip-select row
(``controller``, ``csrow``): the same, with errors the driver could not place counted under
``csrow="unknown"``; per channel of a csrow (``controller``, ``csrow``, ``channel``, ``dimm_label``, from
``chN_dimm_label`` as current node_exporter writes it, ``unknown`` without one): the same counts. A machine
without an EDAC driver has no directory and serves nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr, read_int
from .base import Collector

_CHANNEL = re.compile(r"^ch([0-9]+)_ce_count$")


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
        ch_labels = ["controller", "csrow", "channel", "dimm_label"]
        ch_ce = CounterMetricFamily("node_edac_channel_correctable_errors",
                                    "Total correctable memory errors for this channel.", labels=ch_labels)
        ch_ue = CounterMetricFamily("node_edac_channel_uncorrectable_errors",
                                    "Total uncorrectable memory errors for this channel.", labels=ch_labels)
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
                self._channels(os.path.join(d, row), [ctl, row[5:]], ch_ce, ch_ue)
        if not ce.samples:
            return []
        return [ce, ue, row_ce, row_ue, *(f for f in (ch_ce, ch_ue) if f.samples)]

    @staticmethod
    def _channels(row: str, labels: list[str], ch_ce: CounterMetricFamily, ch_ue: CounterMetricFamily) -> None:
        """Per-channel counts of one csrow (``chN_ce_count``, ``chN_ue_count``) labelled with the DIMM label."""
        for f in list_dir(row):
            m = _CHANNEL.match(f)
            if m is None:
                continue
            channel = m.group(1)
            label = read_attr(os.path.join(row, f"ch{channel}_dimm_label"))
            dimm = "unknown" if label is None else (
                label.replace("#", "").replace("csrow", "_csrow").replace("channel", "_channel"))
            value = read_int(os.path.join(row, f))
            if value is None:
                raise OSError(f"unreadable EDAC count {row}/{f}")
            ch_ce.add_metric([*labels, channel, dimm], value)
            ue_count = read_int(os.path.join(row, f"ch{channel}_ue_count"))
            if ue_count is not None:
                ch_ue.add_metric([*labels, channel, dimm], ue_count)
