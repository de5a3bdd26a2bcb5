"""Btrfs filesystem statistics from <sysfs>/fs/btrfs/UUID (node_exporter's btrfs collector, its sysfs part).

Per filesystem (``uuid``, from ``metadata_uuid``, else the directory name): ``node_btrfs_info{label}``,
``node_btrfs_global_rsv_size_bytes``, the commit statistics (``commits_total``, ``last_commit_seconds``,
``max_commit_seconds``, ``commit_seconds_total``; ms in sysfs), per block group type (data, metadata,
system) ``node_btrfs_reserved_bytes{block_group_type}`` and per layout ``node_btrfs_{used_bytes,size_bytes,
allocation_ratio}{block_group_type,mode}`` (the ratio from the RAID profile and the device count, as
prometheus/procfs computes it), and ``node_btrfs_device_size_bytes{device}`` (512-byte sectors).

Not served: ``node_btrfs_device_errors_total``, ``device_unused_bytes`` and the ``btrfs_dev_uuid`` label,
which node_exporter gets from BTRFS_IOC_* ioctls on the mounted filesystem (root only); without them it
serves ``device_size_bytes{uuid,device}`` from sysfs as here. A host without btrfs serves nothing; an
unreadable file or a malformed ``commit_stats`` fails the collector.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_text
from .base import Collector

_SECTOR = 512  # bytes per sector in devices/*/size


def _ratio(mode: str, devices: int) -> float:
    if mode in ("single", "raid0"):
        return 1.0
    if mode in ("dup", "raid1", "raid10"):
        return 2.0
    if mode in ("raid1c3", "raid1c4"):
        return float(mode[-1])
    if mode == "raid5":
        return devices / (devices - 1) if devices != 1 else float("inf")
    if mode == "raid6":
        return devices / (devices - 2) if devices != 2 else float("inf")
    return 0.0


class _Reader:
    def __init__(self, base: str) -> None:
        self.base = base

    def text(self, *parts: str) -> str:
        try:
            return read_text(os.path.join(self.base, *parts), 64 << 10).strip()
        except FileNotFoundError:
            return ""

    def value(self, *parts: str) -> int:
        text = self.text(*parts)
        return int(text) if text.isdigit() else 0

    def dirs(self, *parts: str) -> list[str]:
        path = os.path.join(self.base, *parts)
        if not os.path.isdir(path):
            raise FileNotFoundError(path)
        return [e for e in list_dir(path) if os.path.isdir(os.path.join(path, e))]


def commit_stats(text: str) -> dict[str, int]:
    """commits, last_commit_ms, max_commit_ms and total_commit_ms; ValueError for a malformed line."""
    out = dict.fromkeys(("commits", "last_commit_ms", "max_commit_ms", "total_commit_ms"), 0)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"invalid commit_stats line {line!r}")
        value = int(parts[1])
        if parts[0] in out:
            out[parts[0]] = value
    return out


@register
class BtrfsCollector(Collector):
    """Serves node_btrfs_* from <sysfs>/fs/btrfs (see the module docstring)."""

    name = "btrfs"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("fs", "btrfs")
        g = GaugeMetricFamily
        info = g("node_btrfs_info", "Filesystem information", labels=["uuid", "label"])
        rsv = g("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", labels=["uuid"])
        commits = CounterMetricFamily("node_btrfs_commits_total", "The total number of commits that have occurred.",
                                      labels=["uuid"])
        last = g("node_btrfs_last_commit_seconds", "Duration of the most recent commit, in seconds.", labels=["uuid"])
        slowest = g("node_btrfs_max_commit_seconds", "Duration of the slowest commit, in seconds.", labels=["uuid"])
        total = CounterMetricFamily("node_btrfs_commit_seconds_total",
                                    "Sum of the duration of all commits, in seconds.", labels=["uuid"])
        reserved = g("node_btrfs_reserved_bytes", "Amount of space reserved for a data type",
                     labels=["uuid", "block_group_type"])
        layout_labels = ["uuid", "block_group_type", "mode"]
        used = g("node_btrfs_used_bytes", "Amount of used space by a layout/data type", labels=layout_labels)
        size = g("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type", labels=layout_labels)
        ratio = g("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type", labels=layout_labels)
        device_size = g("node_btrfs_device_size_bytes", "Size of a device that is part of the filesystem.",
                        labels=["uuid", "device"])
        for entry in (e for e in list_dir(base) if "-" in e):
            r = _Reader(os.path.join(base, entry))
            devices = list_dir(os.path.join(r.base, "devices"))
            uuid = r.text("metadata_uuid") or entry
            info.add_metric([uuid, r.text("label")], 1.0)
            rsv.add_metric([uuid], float(r.value("allocation", "global_rsv_size")))
            stats = commit_stats(r.text("commit_stats"))
            commits.add_metric([uuid], float(stats["commits"]))
            last.add_metric([uuid], stats["last_commit_ms"] / 1000)
            slowest.add_metric([uuid], stats["max_commit_ms"] / 1000)
            total.add_metric([uuid], stats["total_commit_ms"] / 1000)
            for kind in ("data", "metadata", "system"):
                reserved.add_metric([uuid, kind], float(r.value("allocation", kind, "bytes_reserved")))
                for mode in r.dirs("allocation", kind):
                    labels = [uuid, kind, mode]
                    used.add_metric(labels, float(r.value("allocation", kind, mode, "used_bytes")))
                    size.add_metric(labels, float(r.value("allocation", kind, mode, "total_bytes")))
                    ratio.add_metric(labels, _ratio(mode, len(devices)))
            for device in devices:
                device_size.add_metric([uuid, device], float(_SECTOR * r.value("devices", device, "size")))
        fams = [info, rsv, commits, last, slowest, total, reserved, used, size, ratio, device_size]
        return [f for f in fams if f.samples]
