"""Software RAID (md) state from <procfs>/mdstat and <sysfs>/block/md*/md (node_exporter's mdadm collector).

Per array (``device``), from ``/proc/mdstat`` parsed as prometheus/procfs parses it:
``node_md_state{device,state}`` (1 for the array's activity, one of active, inactive, recovering, resync,
check; a reshaping array has 0 in all five, as in node_exporter), ``node_md_disks{device,state}``
(active/failed/spare member counts), ``node_md_disks_required`` (the array's full member count),
``node_md_blocks`` and ``node_md_blocks_synced`` (1 KiB blocks; during a recovery, resync or check the
blocks done so far, 0 while it is PENDING or DELAYED). From sysfs: ``node_md_raid_disks`` (``raid_disks``;
left out for containers such as imsm) and ``node_md_degraded`` (``degraded``: members missing, the
count node_exporter's ``NodeRAIDDegraded`` alert watches; 0 for levels without redundancy).

A host without md has no ``/proc/mdstat``: nothing is served and the collector succeeds (node_exporter
scores it 0 there). A file that does not parse fails the collector, as in node_exporter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import list_dir, read_attr, read_text
from .base import Collector

_STATUS_RE = re.compile(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")
_SYNCED_RE = re.compile(r"\((\d+)/(\d+)\)")
_PERSONALITIES = "Personalities : "
# node_md_state's states, and the mdstat activity each one is 1 for.
STATES = (("active", "active"), ("inactive", "inactive"), ("recovering", "recovering"), ("resync", "resyncing"),
          ("check", "checking"))


@dataclass(frozen=True)
class MdStat:
    """One array of /proc/mdstat: counts of member disks and 1 KiB blocks."""

    name: str
    state: str  # active, inactive, recovering, resyncing, checking, reshaping (or the word mdstat shows)
    active: int
    total: int
    failed: int
    spare: int
    blocks: int
    synced: int


def _status(device_line: str, status_line: str) -> tuple[int, int, int]:
    """(active disks, total disks, size in blocks) from an array's two lines, as procfs' evalStatusLine."""
    fields = status_line.split()
    if not fields:
        raise ValueError(f"unexpected mdstat status line {status_line!r}")
    size = int(fields[0])
    if "raid0" in device_line or "linear" in device_line:
        total = device_line.count("[")
        return total, total, size
    if "inactive" in device_line:
        return 0, 0, size
    m = _STATUS_RE.search(status_line)
    if m is None:
        raise ValueError(f"unexpected mdstat status line {status_line!r}")
    return int(m.group(3)), int(m.group(2)), size


def parse_mdstat(text: str) -> list[MdStat]:
    """Every array of a /proc/mdstat text, in file order; ValueError for a malformed one."""
    out: list[MdStat] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip() or line[0] == " " or line.startswith(("unused", _PERSONALITIES)):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise ValueError(f"unexpected mdstat line {line!r}")
        if len(lines) <= i + 3:
            raise ValueError(f"too few lines for md device {fields[0]!r}")
        state = fields[2]
        active, total, size = _status(line, lines[i + 1])
        sync_line = lines[i + 3] if "bitmap" in lines[i + 2] else lines[i + 2]
        synced = size
        activity = next((s for word, s in (("recovery", "recovering"), ("reshape", "reshaping"),
                                           ("check", "checking"), ("resync", "resyncing")) if word in sync_line),
                        None)
        if activity is not None:
            state = activity
            if "PENDING" in sync_line or "DELAYED" in sync_line:
                synced = 0
            else:
                m = _SYNCED_RE.search(sync_line)
                if m is None:
                    raise ValueError(f"unexpected mdstat sync line {sync_line!r}")
                synced = int(m.group(1))
        out.append(MdStat(fields[0], state, active, total, line.count("(F)"), line.count("(S)"), size, synced))
    return out


@register
class MdadmCollector(Collector):
    """Serves node_md_* from <procfs>/mdstat and <sysfs>/block/md*/md (see the module docstring)."""

    name = "mdadm"

    def _sysfs(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        raid_disks = GaugeMetricFamily("node_md_raid_disks", "Number of raid disks on device.", labels=["device"])
        degraded = GaugeMetricFamily("node_md_degraded", "Number of degraded disks on device.", labels=["device"])
        base = self.paths.sys("block")
        for device in list_dir(base):
            md = os.path.join(base, device, "md")
            if not device.startswith("md") or not os.path.isdir(md):
                continue
            level = read_attr(os.path.join(md, "level"))
            if level is None:
                raise OSError(f"{md}/level: cannot be read")
            if level not in ("", "container", "imsm", "ddf"):
                text = (read_attr(os.path.join(md, "raid_disks")) or "").split(" ", 1)[0]
                if text.isdigit():
                    raid_disks.add_metric([device], float(text))
            count = 0
            if level in ("raid1", "raid4", "raid5", "raid6", "raid10"):
                value = read_attr(os.path.join(md, "degraded"))
                if value is None or not value.isdigit():
                    raise OSError(f"{md}/degraded: cannot be read")
                count = int(value)
            degraded.add_metric([device], float(count))
        return raid_disks, degraded

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            arrays = parse_mdstat(read_text(self.paths.proc("mdstat")))
        except FileNotFoundError:
            return []
        state = GaugeMetricFamily("node_md_state", "Indicates the state of md-device.", labels=["device", "state"])
        disks = GaugeMetricFamily("node_md_disks", "Number of active/failed/spare disks of device.",
                                  labels=["device", "state"])
        required = GaugeMetricFamily("node_md_disks_required", "Total number of disks of device.", labels=["device"])
        blocks = GaugeMetricFamily("node_md_blocks", "Total number of blocks on device.", labels=["device"])
        synced = GaugeMetricFamily("node_md_blocks_synced", "Number of blocks synced on device.", labels=["device"])
        for md in arrays:
            required.add_metric([md.name], float(md.total))
            for what, n in (("active", md.active), ("failed", md.failed), ("spare", md.spare)):
                disks.add_metric([md.name, what], float(n))
            for label, activity in STATES:
                state.add_metric([md.name, label], 1.0 if md.state == activity else 0.0)
            blocks.add_metric([md.name], float(md.blocks))
            synced.add_metric([md.name], float(md.synced))
        return [blocks, synced, disks, required, state, *self._sysfs()]
