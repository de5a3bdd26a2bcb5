"""OpenZFS kstats from <procfs>/spl/kstat/zfs (node_exporter's zfs collector).

Each kstat file node_exporter reads (``arcstats``, ``abdstats``, ``dbufstats``, ``dmu_tx``, ``dnodestats``,
``fm``, ``vdev_cache_stats``, ``vdev_mirror_stats``, ``xuio_stats``, ``zfetchstats``, ``zil``) gives one
untyped family per integer row: ``node_zfs_<subsystem>_<name>`` (``arcstats`` is ``zfs_arc``, ``-`` in names
becomes ``_``), HELP ``kstat.zfs.misc.<file>.<name>``. Per pool: ``node_zfs_zpool_<field>{zpool}`` from
``POOL/io``, ``node_zfs_zpool_dataset_<name>{zpool,dataset}`` from ``POOL/objset-*`` and
``node_zfs_zpool_state{zpool,state}`` (1 for the pool's state among online, degraded, faulted, offline,
removed, unavail, suspended) from ``POOL/state``. A host without ZFS serves nothing; a kstat file without
its ``name type data`` header fails the collector, as in node_exporter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric, UnknownMetricFamily

from . import register
from ._files import list_dir, read_text
from .base import Collector

# subsystem (family prefix after node_) -> kstat file, node_exporter's map.
KSTATS = {
    "zfs_abd": "abdstats",
    "zfs_arc": "arcstats",
    "zfs_dbuf": "dbufstats",
    "zfs_dmu_tx": "dmu_tx",
    "zfs_dnode": "dnodestats",
    "zfs_fm": "fm",
    "zfs_vdev_cache": "vdev_cache_stats",
    "zfs_vdev_mirror": "vdev_mirror_stats",
    "zfs_xuio": "xuio_stats",
    "zfs_zfetch": "zfetchstats",
    "zfs_zil": "zil",
}
POOL_STATES = ("online", "degraded", "faulted", "offline", "removed", "unavail", "suspended")
_INT64, _UINT64 = "3", "4"  # kstat data types


def _metric(name: str) -> str:
    return name.replace("-", "_")


def parse_kstat(text: str, what: str, types: tuple[str, ...] = (_INT64, _UINT64)) -> list[tuple[str, int]]:
    """``(name, value)`` of each integer row after the ``name type data`` header; ValueError without one."""
    out: list[tuple[str, int]] = []
    started = False
    for line in text.splitlines():
        parts = line.split()
        if not started:
            started = parts == ["name", "type", "data"]
            continue
        if len(parts) >= 3 and parts[1] in types:
            out.append((parts[0], int(parts[2])))
    if not started:
        raise ValueError(f"did not parse a single {what!r} metric")
    return out


class _Families:
    """Untyped families by name, built on first use."""

    def __init__(self) -> None:
        self.fams: dict[str, Metric] = {}

    def add(self, name: str, doc: str, labels: list[str], values: list[str], value: float) -> None:
        fam = self.fams.get(name)
        if fam is None:
            fam = self.fams[name] = UnknownMetricFamily(name, doc, labels=labels)
        fam.add_metric(values, value)  # type: ignore[attr-defined]


@register
class ZfsCollector(Collector):
    """Serves node_zfs_* from <procfs>/spl/kstat/zfs (see the module docstring)."""

    name = "zfs"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.proc("spl", "kstat", "zfs")
        entries = list_dir(base)
        if not entries:
            return []
        fams = _Families()
        for subsystem, fname in KSTATS.items():
            if fname not in entries:
                continue
            for key, value in parse_kstat(read_text(os.path.join(base, fname)), fname):
                fams.add(f"node_{subsystem}_{_metric(key)}", f"kstat.zfs.misc.{fname}.{key}", [], [], float(value))
        states = GaugeMetricFamily("node_zfs_zpool_state", "kstat.zfs.misc.state", labels=["zpool", "state"])
        for pool in entries:
            pool_dir = os.path.join(base, pool)
            if not os.path.isdir(pool_dir):
                continue
            files = list_dir(pool_dir)
            if "io" in files:
                self._pool_io(fams, pool, read_text(os.path.join(pool_dir, "io")))
            for objset in (f for f in files if f.startswith("objset-")):
                self._objset(fams, pool, read_text(os.path.join(pool_dir, objset)))
            if "state" in files:
                lines = read_text(os.path.join(pool_dir, "state")).splitlines()
                actual = lines[0].lower() if lines else ""
                for state in POOL_STATES:
                    states.add_metric([pool, state], 1.0 if state == actual else 0.0)
        return [*fams.fams.values(), *([states] if states.samples else [])]

    @staticmethod
    def _pool_io(fams: _Families, pool: str, text: str) -> None:
        fields: list[str] | None = None
        for line in text.splitlines():
            parts = line.split()
            if fields is None:
                if len(parts) >= 12 and parts[0] == "nread":
                    fields = parts
                continue
            for field, raw in zip(fields, parts, strict=False):
                fams.add(f"node_zfs_zpool_{_metric(field)}", f"kstat.zfs.misc.io.{field}", ["zpool"], [pool],
                         float(int(raw)))

    @staticmethod
    def _objset(fams: _Families, pool: str, text: str) -> None:
        started = False
        dataset = ""
        for line in text.splitlines():
            parts = line.split()
            if not started:
                started = parts == ["name", "type", "data"]
                continue
            if len(parts) < 3:
                continue
            if parts[0] == "dataset_name":
                dataset = line[line.index(parts[2]):]
            elif parts[1] == _UINT64:
                fams.add(f"node_zfs_zpool_dataset_{_metric(parts[0])}", f"kstat.zfs.misc.objset.{parts[0]}",
                         ["zpool", "dataset"], [pool, dataset], float(int(parts[2])))
        if not started:
            raise ValueError(f"did not parse a single {pool} {dataset} metric")
