"""Block device I/O statistics from /proc/diskstats (node_exporter's diskstats collector).

Sectors in /proc/diskstats are always 512 bytes, whatever the device's sector size, and times are
milliseconds. Partitions and pseudo devices are dropped by node_exporter's default device-exclude
regexp, so ``nvme0n1`` is reported and ``nvme0n1p1`` is not; ``--collector.diskstats.device-include``
instead keeps only the devices it matches (and drops that default exclude, as node_exporter does).
The discard columns (kernel 4.18+) and flush columns (5.5+) are emitted only when the kernel writes them.

``node_disk_info`` and the udev-derived families read ``bMAJOR:MINOR`` under ``--path.udev.data``, by
default ``<rootfs>/run/udev/data`` (node_exporter's default is ``/run/udev/data`` whatever ``--path.rootfs``
says); without udev data the info labels are empty strings, as in node_exporter.

The file is read directly, not through ``psutil.disk_io_counters``: psutil scales sectors by the
device's reported sector size (node_exporter does not), has no io_now column, and ignores
``--path.procfs``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option, str_option
from . import register
from ._files import read_attr, read_text
from .base import Collector, Paths

SECTOR = 512.0  # bytes per /proc/diskstats sector
MS = 0.001  # seconds per millisecond
DEFAULT_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"

# One entry per /proc/diskstats column after major, minor, name:
# (metric name without _total, HELP, scale, is a counter)
COLUMNS: tuple[tuple[str, str, float, bool], ...] = (
    ("node_disk_reads_completed", "The total number of reads completed successfully.", 1.0, True),
    ("node_disk_reads_merged", "The total number of reads merged.", 1.0, True),
    ("node_disk_read_bytes", "The total number of bytes read successfully.", SECTOR, True),
    ("node_disk_read_time_seconds", "The total number of seconds spent by all reads.", MS, True),
    ("node_disk_writes_completed", "The total number of writes completed successfully.", 1.0, True),
    ("node_disk_writes_merged", "The number of writes merged.", 1.0, True),
    ("node_disk_written_bytes", "The total number of bytes written successfully.", SECTOR, True),
    ("node_disk_write_time_seconds", "This is the total number of seconds spent by all writes.", MS, True),
    ("node_disk_io_now", "The number of I/Os currently in progress.", 1.0, False),
    ("node_disk_io_time_seconds", "Total seconds spent doing I/Os.", MS, True),
    ("node_disk_io_time_weighted_seconds", "The weighted # of seconds spent doing I/Os.", MS, True),
    ("node_disk_discards_completed", "The total number of discards completed successfully.", 1.0, True),
    ("node_disk_discards_merged", "The total number of discards merged.", 1.0, True),
    ("node_disk_discarded_sectors", "The total number of sectors discarded successfully.", 1.0, True),
    (
        "node_disk_discard_time_seconds",
        "This is the total number of seconds spent by all discards.",
        MS,
        True,
    ),
    ("node_disk_flush_requests", "The total number of flush requests completed successfully", 1.0, True),
    (
        "node_disk_flush_requests_time_seconds",
        "This is the total number of seconds spent by all flush requests.",
        MS,
        True,
    ),
)
INFO_LABELS = ["device", "major", "minor", "path", "wwn", "model", "serial", "revision", "rotational"]
ATA = {  # udev property -> metric name; emitted only for ATA disks
    "ID_ATA_WRITE_CACHE": ("node_disk_ata_write_cache", "ATA disk has a write cache."),
    "ID_ATA_WRITE_CACHE_ENABLED": (
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    "ID_ATA_ROTATION_RATE_RPM": (
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
}


def parse_diskstats(text: str) -> list[tuple[str, str, str, list[int]]]:
    """(major, minor, device, columns) for each line; lines shorter than the 4.x format are an error."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 14:
            raise ValueError(f"invalid line in diskstats: {line!r}")
        out.append((parts[0], parts[1], parts[2], [int(p) for p in parts[3:]]))
    return out


def parse_udev(text: str) -> dict[str, str]:
    """Device properties (``E:KEY=VALUE`` lines) of one udev database file."""
    props = {}
    for line in text.splitlines():
        if line.startswith("E:"):
            key, sep, value = line[2:].partition("=")
            if sep:
                props[key] = value
    return props


class _Families:
    """The families of one collection, created on first use so absent columns give no empty family."""

    def __init__(self) -> None:
        self.by_name: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def get(
        self, name: str, doc: str, counter: bool, labels: list[str]
    ) -> GaugeMetricFamily | CounterMetricFamily:
        fam = self.by_name.get(name)
        if fam is None:
            fam = self.by_name[name] = (
                CounterMetricFamily(name, doc, labels=labels)
                if counter
                else GaugeMetricFamily(name, doc, labels=labels)
            )
        return fam


@register
class DiskstatsCollector(Collector):
    """Serves node_disk_* from <procfs>/diskstats and <rootfs>/run/udev/data (see module docstring)."""

    name = "diskstats"
    options = (
        regex_option(
            "collector.diskstats.device-exclude",
            DEFAULT_EXCLUDE,
            "Regexp of diskstats devices to exclude (node_exporter's default drops partitions).",
        ),
        regex_option(
            "collector.diskstats.device-include",
            "",
            "Regexp of diskstats devices to include (mutually exclusive to device-exclude; given alone, it "
            "drops the default device-exclude, as in node_exporter).",
        ),
        str_option(
            "path.udev.data",
            "",
            "udev data path (empty: <path.rootfs>/run/udev/data; node_exporter's default is /run/udev/data "
            "whatever --path.rootfs says).",
            metavar="PATH",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._exclude = compile_option(config, "collector.diskstats.device-exclude")
        # An include given alone has already emptied the exclude (settings.options.EXCLUSIVE_EXPORTER_KEYS).
        self._include = compile_option(config, "collector.diskstats.device-include")
        self._udev_dir = config["path.udev.data"] or os.path.join(paths.rootfs, "run", "udev", "data")

    def _udev(self, major: str, minor: str) -> dict[str, str]:
        path = os.path.join(self._udev_dir, f"b{major}:{minor}")
        try:
            return parse_udev(read_text(path))
        except OSError:
            return {}

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        disks = parse_diskstats(read_text(self.paths.proc("diskstats")))
        fams = _Families()
        for major, minor, dev, cols in disks:
            if self._exclude is not None and self._exclude.search(dev):
                continue
            if self._include is not None and not self._include.search(dev):
                continue
            self._add_device(fams, major, minor, dev, cols)
        return list(fams.by_name.values())

    def _add_device(self, fams: _Families, major: str, minor: str, dev: str, cols: list[int]) -> None:
        info = self._udev(major, minor)
        serial = info.get("SCSI_IDENT_SERIAL") or info.get("ID_SERIAL_SHORT") or info.get("ID_SERIAL", "")
        # "0" when the queue attribute is absent, as node_exporter's zero-valued queue stats give
        rotational = read_attr(self.paths.sys("block", dev, "queue", "rotational")) or "0"
        fams.get("node_disk_info", "Info of /sys/block/<block_device>.", False, INFO_LABELS).add_metric(
            [
                dev,
                major,
                minor,
                info.get("ID_PATH", ""),
                info.get("ID_WWN", ""),
                info.get("ID_MODEL", ""),
                serial,
                info.get("ID_REVISION", ""),
                rotational,
            ],
            1.0,
        )
        for (name, doc, scale, counter), value in zip(COLUMNS, cols, strict=False):
            fams.get(name, doc, counter, ["device"]).add_metric([dev], value * scale)
        if info.get("ID_FS_TYPE"):
            fams.get(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
                False,
                ["device", "type", "usage", "uuid", "version"],
            ).add_metric(
                [
                    dev,
                    info["ID_FS_TYPE"],
                    info.get("ID_FS_USAGE", ""),
                    info.get("ID_FS_UUID", ""),
                    info.get("ID_FS_VERSION", ""),
                ],
                1.0,
            )
        if info.get("DM_NAME"):
            fams.get(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
                False,
                ["device", "name", "uuid", "vg_name", "lv_name", "lv_layer"],
            ).add_metric(
                [
                    dev,
                    info["DM_NAME"],
                    info.get("DM_UUID", ""),
                    info.get("DM_VG_NAME", ""),
                    info.get("DM_LV_NAME", ""),
                    info.get("DM_LV_LAYER", ""),
                ],
                1.0,
            )
        if info.get("ID_ATA"):
            for prop, (name, doc) in ATA.items():
                try:
                    ata_value = float(info[prop])
                except (KeyError, ValueError):
                    continue
                fams.get(name, doc, False, ["device"]).add_metric([dev], ata_value)
