"""Fibre Channel host adapters from <sysfs>/class/fc_host (node_exporter's fibrechannel collector).

Per host (``fc_host``): ``node_fibrechannel_info{fc_host,speed,port_state,port_type,port_id,port_name,
fabric_name,symbolic_name,supported_classes,supported_speeds,dev_loss_tmo}`` = 1 (a file the driver lacks
is an empty label; the ``0x`` of the ids is dropped, as prometheus/procfs does) and the counters of
``statistics/`` as ``node_fibrechannel_<name>_total`` (frames, words, CRC and link errors, ...). A counter
reading all ones (``0xffffffffffffffff``, "not supported") or missing is left out; a port whose state is
missing or ``Unknown`` reports every counter as 0, as node_exporter does. A host without FC adapters serves
nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr
from .base import Collector

_NOT_SUPPORTED = (1 << 64) - 1

INFO = ("speed", "port_state", "port_type", "port_id", "port_name", "fabric_name", "symbolic_name",
        "supported_classes", "supported_speeds", "dev_loss_tmo")
_HEX_IDS = ("port_id", "port_name", "fabric_name")

# family suffix -> (statistics file, HELP), in node_exporter's order.
COUNTERS = (
    ("dumped_frames_total", "dumped_frames", "Number of dumped frames"),
    ("error_frames_total", "error_frames", "Number of errors in frames"),
    ("invalid_crc_total", "invalid_crc_count", "Invalid Cyclic Redundancy Check count"),
    ("rx_frames_total", "rx_frames", "Number of frames received"),
    ("rx_words_total", "rx_words", "Number of words received by host port"),
    ("tx_frames_total", "tx_frames", "Number of frames transmitted by host port"),
    ("tx_words_total", "tx_words", "Number of words transmitted by host port"),
    ("seconds_since_last_reset_total", "seconds_since_last_reset", "Number of seconds since last host port reset"),
    ("invalid_tx_words_total", "invalid_tx_word_count", "Number of invalid words transmitted by host port"),
    ("link_failure_total", "link_failure_count", "Number of times the host port link has failed"),
    ("loss_of_sync_total", "loss_of_sync_count", "Number of failures on either bit or transmission word boundaries"),
    ("loss_of_signal_total", "loss_of_signal_count", "Number of times signal has been lost"),
    ("nos_total", "nos_count", "Number Not_Operational Primitive Sequence received by host port"),
    ("fcp_packet_aborts_total", "fcp_packet_aborts", "Number of aborted packets"),
)


def parse_uint(text: str) -> int:
    """An unsigned integer as Go's ParseUint(text, 0, 64) reads it: ``0x`` hex, ``0`` octal, else decimal."""
    t = text.strip()
    if t[:2] in ("0x", "0X", "0o", "0O", "0b", "0B"):
        return int(t, 0)
    if len(t) > 1 and t[0] == "0":
        return int(t, 8)
    return int(t, 10)


@register
class FibrechannelCollector(Collector):
    """Serves node_fibrechannel_* from <sysfs>/class/fc_host (see the module docstring)."""

    name = "fibrechannel"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "fc_host")
        info = GaugeMetricFamily("node_fibrechannel_info",
                                 "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
                                 labels=["fc_host", *INFO])
        counters = [(CounterMetricFamily(f"node_fibrechannel_{suffix}", doc, labels=["fc_host"]), fname)
                    for suffix, fname, doc in COUNTERS]
        for host in list_dir(base):
            d = os.path.join(base, host)
            attrs = {k: read_attr(os.path.join(d, k)) for k in INFO}
            labels = {k: (v[2:] if k in _HEX_IDS and v is not None and len(v) > 2 else v or "")
                      for k, v in attrs.items()}
            info.add_metric([host, *(labels[k] for k in INFO)], 1.0)
            unknown = attrs["port_state"] in (None, "Unknown")
            stats = os.path.join(d, "statistics")
            for fam, fname in counters:
                if unknown:
                    fam.add_metric([host], 0.0)
                    continue
                raw = read_attr(os.path.join(stats, fname))
                if raw is None:
                    continue
                value = parse_uint(raw)
                if value != _NOT_SUPPORTED:
                    fam.add_metric([host], float(value))
        return [info, *(fam for fam, _ in counters if fam.samples)] if info.samples else []
