"""SCSI tape drive statistics from <sysfs>/class/scsi_tape/stN/stats (node_exporter's tapestats collector).

Per drive (``device``, the ``stN`` entries; the ``nst*`` and mode aliases are skipped):
``node_tape_io_now`` (I/Os outstanding), the counters ``node_tape_{reads,writes}_completed_total``,
``node_tape_io_others_total``, ``node_tape_{read,written}_bytes_total``, ``node_tape_residual_total`` and
the times ``node_tape_{io,read,write}_time_seconds_total`` (ns in sysfs, served in s). A statistic file the
driver lacks counts as 0, as in prometheus/procfs. ``--collector.tapestats.ignored-devices`` drops drives.
A host without tape drives serves nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import list_dir, read_text
from .base import Collector, Paths

_DEVICE = re.compile(r"^st\d+$")
_NS = 0.000000001  # s per ns

# family suffix -> (stats file, scale; None: a gauge, HELP), in node_exporter's order.
FAMILIES = (
    ("io_now", "in_flight", None, "The number of I/Os currently outstanding to this device."),
    ("io_time_seconds_total", "io_ns", _NS,
     "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape "
     "movement commands such as seeking between file or set marks and implicit tape movement such as when rewind "
     "on close tape devices are used."),
    ("io_others_total", "other_cnt", 1.0,
     "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete "
     "these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-"
     "write_time_seconds_total"),
    ("read_bytes_total", "read_byte_cnt", 1.0, "The number of bytes read from the tape drive."),
    ("reads_completed_total", "read_cnt", 1.0, "The number of read requests issued to the tape drive."),
    ("read_time_seconds_total", "read_ns", _NS, "The amount of time spent waiting for read requests to complete."),
    ("residual_total", "resid_cnt", 1.0,
     "The number of times during a read or write we found the residual amount to be non-zero. This should mean "
     "that a program is issuing a read larger thean the block size on tape. For write not all data made it to "
     "tape."),
    ("written_bytes_total", "write_byte_cnt", 1.0, "The number of bytes written to the tape drive."),
    ("writes_completed_total", "write_cnt", 1.0, "The number of write requests issued to the tape drive."),
    ("write_time_seconds_total", "write_ns", _NS, "The amount of time spent waiting for write requests to complete."),
)


@register
class TapestatsCollector(Collector):
    """Serves node_tape_* from <sysfs>/class/scsi_tape/stN/stats (see the module docstring)."""

    name = "tapestats"
    options = (regex_option("collector.tapestats.ignored-devices", "^$",
                            "Regexp of devices to ignore for tapestats."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._ignored = compile_option(config, "collector.tapestats.ignored-devices")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "scsi_tape")
        fams: list[tuple[Metric, str, float | None]] = []
        for suffix, fname, scale, doc in FAMILIES:
            fam: Metric = (GaugeMetricFamily if scale is None else CounterMetricFamily)(
                f"node_tape_{suffix}", doc, labels=["device"])
            fams.append((fam, fname, scale))
        for device in list_dir(base):
            if not _DEVICE.match(device) or (self._ignored is not None and self._ignored.search(device)):
                continue
            stats = os.path.join(base, device, "stats")
            values = {f: int(read_text(os.path.join(stats, f)).strip()) for f in list_dir(stats)
                      if f in {fname for _, fname, _ in fams}}
            for fam, fname, scale in fams:
                raw = values.get(fname, 0)
                fam.add_metric([device], float(raw) * scale if scale not in (None, 1.0) else float(raw))  # type: ignore[attr-defined]
        return [fam for fam, _, _ in fams if fam.samples]
