"""Filesystem size, free space and inodes per mount point (node_exporter's filesystem collector).

Mount points come from ``<procfs>/1/mounts`` (falling back to ``<procfs>/mounts`` where hidepid hides
PID 1), filtered as node_exporter filters them (``--collector.filesystem.{mount-points,fs-types}-{exclude,include}``,
its default exclusions unless an include is given); each is statvfs'ed at
``<rootfs>/<mountpoint>``. ``os.statvfs`` is used rather than ``psutil.disk_usage`` because psutil
reports neither the root-reserved free space nor inode counts. Sizes use f_bsize, as node_exporter does.

A statvfs that hangs (a dead NFS server) must not hold the other mounts: calls run on a helper thread
with ``filesystem.mount-timeout``; a mount that overruns is reported with
``node_filesystem_device_error=1`` and not statvfs'ed again until the hung call returns.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, duration_option, regex_option
from . import register
from ._files import read_text
from .base import Collector, Paths

DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|"
    r"overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
LABELS = ["device", "fstype", "mountpoint"]


@dataclass(frozen=True)
class Mount:
    """One mount table entry: device, mount point (rootfs prefix stripped), fstype and options."""

    device: str
    mountpoint: str
    fstype: str
    options: str

    @property
    def labels(self) -> list[str]:
        """Label values in LABELS order: [device, fstype, mountpoint]."""
        return [self.device, self.fstype, self.mountpoint]

    @property
    def readonly(self) -> bool:
        """True when ``ro`` is among the mount options."""
        return "ro" in self.options.split(",")


def parse_mounts(text: str, rootfs: str = "/") -> list[Mount]:
    """Parse a mounts file; octal escapes for space and tab are undone and the rootfs prefix stripped."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"malformed mount point information: {line!r}")
        mp = parts[1].replace("\\040", " ").replace("\\011", "\t")
        if rootfs != "/":
            mp = mp.removeprefix(rootfs.rstrip("/")) or "/"
        out.append(Mount(parts[0], mp, parts[2], parts[3]))
    return out


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t")


def parse_mountinfo(text: str, rootfs: str = "/") -> list[Mount]:
    """Parse a mountinfo file (``id parent maj:min root mountpoint options [tags] - fstype source super``)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        try:
            sep = parts.index("-", 6)
        except ValueError:
            raise ValueError(f"malformed mountinfo line: {line!r}") from None
        if len(parts) < sep + 3:
            raise ValueError(f"malformed mountinfo line: {line!r}")
        mp = _unescape(parts[4])
        if rootfs != "/":
            mp = mp.removeprefix(rootfs.rstrip("/")) or "/"
        out.append(Mount(_unescape(parts[sep + 2]), mp, parts[sep + 1], parts[5]))
    return out


def _ignored(name: str, exclude: re.Pattern[str] | None, include: re.Pattern[str] | None) -> bool:
    """node_exporter's ``deviceFilter.ignored``: matches the exclude, or an include is set and not matched."""
    return (exclude is not None and exclude.search(name) is not None) or (
        include is not None and include.search(name) is None)


@register
class FilesystemCollector(Collector):
    """Serves node_filesystem_* (bytes, inodes) from the mount table and statvfs at <rootfs>/<mountpoint>.

    See the module docstring.
    """

    name = "filesystem"
    options = (
        regex_option(
            "collector.filesystem.mount-points-exclude",
            DEFAULT_MOUNT_POINTS_EXCLUDE,
            "Regexp of mount points to exclude (node_exporter's upstream default).",
        ),
        regex_option(
            "collector.filesystem.mount-points-include",
            "",
            "Regexp of mount points to include (mutually exclusive to mount-points-exclude; given alone, it "
            "drops the default mount-points-exclude, as in node_exporter).",
        ),
        regex_option(
            "collector.filesystem.fs-types-exclude",
            DEFAULT_FS_TYPES_EXCLUDE,
            "Regexp of filesystem types to exclude (node_exporter's upstream default).",
        ),
        regex_option(
            "collector.filesystem.fs-types-include",
            "",
            "Regexp of filesystem types to include (mutually exclusive to fs-types-exclude; given alone, it "
            "drops the default fs-types-exclude, as in node_exporter).",
        ),
        duration_option(
            "collector.filesystem.mount-timeout",
            2.0,
            "How long to wait for one statvfs before marking the mount point as stuck.",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._mp_exclude = compile_option(config, "collector.filesystem.mount-points-exclude")
        self._fs_exclude = compile_option(config, "collector.filesystem.fs-types-exclude")
        # An include given alone has already emptied its exclude (settings.options.EXCLUSIVE_EXPORTER_KEYS).
        self._mp_include = compile_option(config, "collector.filesystem.mount-points-include")
        self._fs_include = compile_option(config, "collector.filesystem.fs-types-include")
        self._timeout = float(config["collector.filesystem.mount-timeout"])
        self._stuck: dict[str, threading.Thread] = {}  # mount point -> thread still inside its statvfs

    def mounts(self) -> list[Mount]:
        """Mounts left after the filters (a mount point or fstype matching its exclude, or not matching its
        include, is left out: node_exporter's ``deviceFilter``), first occurrence of each (device, fstype,
        mountpoint)."""
        mounts = self._read_mounts()
        seen: set[tuple[str, ...]] = set()
        out = []
        for m in mounts:
            if _ignored(m.mountpoint, self._mp_exclude, self._mp_include):
                continue
            if _ignored(m.fstype, self._fs_exclude, self._fs_include):
                continue
            if tuple(m.labels) not in seen:
                seen.add(tuple(m.labels))
                out.append(m)
        return out

    def _read_mounts(self) -> list[Mount]:
        """The mount table: <procfs>/1/mounts, else <procfs>/mounts, else 1/mountinfo or self/mountinfo."""
        for parts in (("1", "mounts"), ("mounts",)):
            try:
                return parse_mounts(read_text(self.paths.proc(*parts)), self.paths.rootfs)
            except FileNotFoundError:
                continue
        try:
            text = read_text(self.paths.proc("1", "mountinfo"))
        except FileNotFoundError:
            text = read_text(self.paths.proc("self", "mountinfo"))
        return parse_mountinfo(text, self.paths.rootfs)

    def _statvfs_all(self, mounts: Sequence[Mount]) -> dict[str, os.statvfs_result | OSError]:
        """statvfs each mount on a helper thread; a call that overruns the timeout is recorded as stuck."""
        results: dict[str, os.statvfs_result | OSError] = {}
        current: list[str] = []

        def work() -> None:
            for m in mounts:
                current[:] = [m.mountpoint]
                try:
                    results[m.mountpoint] = os.statvfs(
                        os.path.join(self.paths.rootfs, m.mountpoint.lstrip("/"))
                    )
                except OSError as e:
                    results[m.mountpoint] = e
            current.clear()

        t = threading.Thread(target=work, name="filesystem-statvfs", daemon=True)
        t.start()
        t.join(self._timeout)
        if t.is_alive() and current:
            self._stuck[current[0]] = t
            self.log.warning("mount_point_stuck", mountpoint=current[0], timeout_seconds=self._timeout)
        return dict(results)

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        self._stuck = {mp: t for mp, t in self._stuck.items() if t.is_alive()}
        mounts = self.mounts()
        results = self._statvfs_all([m for m in mounts if m.mountpoint not in self._stuck])
        fams = {
            k: GaugeMetricFamily(f"node_filesystem_{k}", doc, labels=LABELS)
            for k, doc in (
                ("size_bytes", "Filesystem size in bytes."),
                ("free_bytes", "Filesystem free space in bytes."),
                ("avail_bytes", "Filesystem space available to non-root users in bytes."),
                ("files", "Filesystem total file nodes."),
                ("files_free", "Filesystem total free file nodes."),
                ("readonly", "Filesystem read-only status."),
                ("device_error", "Whether an error occurred while getting statistics for the given device."),
            )
        }
        for m in mounts:
            st = results.get(m.mountpoint)
            if st is None and m.mountpoint not in self._stuck:
                continue  # not reached this cycle: queued behind a mount that just hung
            if not isinstance(st, os.statvfs_result):
                if st is not None:
                    self.log.debug("statvfs_failed", mountpoint=m.mountpoint, error=str(st))
                fams["device_error"].add_metric(m.labels, 1.0)
                continue
            fams["device_error"].add_metric(m.labels, 0.0)
            for key, value in (
                ("size_bytes", st.f_blocks * st.f_bsize),
                ("free_bytes", st.f_bfree * st.f_bsize),
                ("avail_bytes", st.f_bavail * st.f_bsize),
                ("files", st.f_files),
                ("files_free", st.f_ffree),
                ("readonly", 1 if m.readonly else 0),
            ):
                fams[key].add_metric(m.labels, float(value))
        return [f for f in fams.values() if f.samples]
