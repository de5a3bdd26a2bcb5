"""bcache (SSD caching of block devices) statistics from <sysfs>/fs/bcache (node_exporter's bcache collector).

Per cache set (``uuid``, the ``*-*`` directories): btree and journal figures (``node_bcache_average_key_size_
sectors``, ``btree_cache_size_bytes``, ``cache_available_percent``, ``congested``, ``root_usage_percent``,
``tree_depth``, ``active_journal_entries``, ``btree_nodes``, ``btree_read_average_duration_seconds``,
``cache_read_races_total``); per backing device (``uuid``, ``backing_device``): dirty data and writeback rate
figures and the lifetime (``stats_total``) hit, miss and bypass counters (``cache_readaheads_total`` only when
non-zero, as in node_exporter); per cache device (``uuid``, ``cache_device``): I/O errors and bytes written,
and with ``--collector.bcache.priorityStats`` the unused and metadata shares of ``priority_stats`` (reading
that file is expensive for the kernel, hence the flag). Sizes such as ``2.0G`` are read the way
prometheus/procfs reads them (the digit after the point counts in 1/10.24 steps). A file that is missing
counts 0; one that cannot be read or parsed fails the collector. A host without bcache serves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, bool_option
from . import register
from ._files import list_dir, read_text
from .base import Collector, Paths

_UNITS = {"k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60, "Z": 1 << 70,
          "Y": 1 << 80}


def _pseudo_float(text: str) -> float:
    whole, sep, frac = text.partition(".")
    value = float(whole)
    return value + float(frac.split(".")[0]) / 10.24 if sep else value


def dehumanize(text: str) -> int:
    """A bcache size or count (``512``, ``2.0G``, ``13.4k``) as an integer, as procfs' dehumanize."""
    if not text:
        raise ValueError("zero-length reply")
    if text[-1] > "9":
        return int(_pseudo_float(text[:-1]) * _UNITS.get(text[-1], 0))
    return int(float(text))


def dehumanize_signed(text: str) -> int:
    value = dehumanize(text.removeprefix("-"))
    return -value if text.startswith("-") else value


class _Reader:
    """Values of one cache set; a missing file is 0, as procfs reads it."""

    def __init__(self, base: str) -> None:
        self.base = base

    def value(self, *parts: str) -> int:
        try:
            text = read_text(os.path.join(self.base, *parts), 64 << 10)
        except FileNotFoundError:
            return 0
        return dehumanize(text[:-1] if text.endswith("\n") else text)

    def lines(self, *parts: str) -> list[str]:
        return read_text(os.path.join(self.base, *parts), 64 << 10).splitlines()


def _last_field(line: str, suffix: str = "") -> str:
    return line.split()[-1].removesuffix(suffix)


def writeback_rate_debug(lines: list[str]) -> dict[str, int]:
    """rate, target, proportional, integral and change from ``writeback_rate_debug``."""
    out = dict.fromkeys(("rate", "target", "proportional", "integral", "change"), 0)
    for line in lines:
        if line.startswith("rate:"):
            out["rate"] = dehumanize(_last_field(line, "/sec"))
        elif line.startswith("target:"):
            out["target"] = dehumanize(_last_field(line))
        elif line.startswith("proportional:"):
            out["proportional"] = dehumanize_signed(_last_field(line))
        elif line.startswith("integral:"):
            out["integral"] = dehumanize_signed(_last_field(line))
        elif line.startswith("change:"):
            out["change"] = dehumanize_signed(_last_field(line, "/sec"))
    return out


def priority_stats(lines: list[str]) -> tuple[int, int]:
    """(unused %, metadata %) from ``priority_stats``."""
    unused = metadata = 0
    for line in lines:
        if line.startswith("Unused:"):
            unused = int(_last_field(line, "%"))
        elif line.startswith("Metadata:"):
            metadata = int(_last_field(line, "%"))
    return unused, metadata


# (family, file in stats_total, HELP), node_exporter's period statistics.
PERIOD = (
    ("bypassed_bytes_total", "bypassed", "Amount of IO (both reads and writes) that has bypassed the cache."),
    ("cache_hits_total", "cache_hits", "Hits counted per individual IO as bcache sees them."),
    ("cache_misses_total", "cache_misses", "Misses counted per individual IO as bcache sees them."),
    ("cache_bypass_hits_total", "cache_bypass_hits", "Hits for IO intended to skip the cache."),
    ("cache_bypass_misses_total", "cache_bypass_misses", "Misses for IO intended to skip the cache."),
    ("cache_miss_collisions_total", "cache_miss_collisions",
     "Instances where data insertion from cache miss raced with write (data already present)."),
)


class _Families:
    def __init__(self) -> None:
        self.fams: dict[str, Metric] = {}

    def add(self, name: str, doc: str, counter: bool, labels: dict[str, str], value: float) -> None:
        fam = self.fams.get(name)
        if fam is None:
            cls = CounterMetricFamily if counter else GaugeMetricFamily
            fam = self.fams[name] = cls(f"node_bcache_{name}", doc, labels=list(labels))
        fam.add_metric(list(labels.values()), value)  # type: ignore[attr-defined]


@register
class BcacheCollector(Collector):
    """Serves node_bcache_* from <sysfs>/fs/bcache (see the module docstring)."""

    name = "bcache"
    options = (bool_option("collector.bcache.priorityStats", False, "Expose expensive priority stats."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._priority = bool(config["collector.bcache.priorityStats"])

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("fs", "bcache")
        fams = _Families()
        for uuid in (e for e in list_dir(base) if "-" in e and os.path.isdir(os.path.join(base, e))):
            self._cache_set(fams, uuid, _Reader(os.path.join(base, uuid)))
        return list(fams.fams.values())

    def _cache_set(self, fams: _Families, uuid: str, r: _Reader) -> None:
        own = {"uuid": uuid}
        for name, file, doc in (
            ("average_key_size_sectors", "average_key_size", "Average data per key in the btree (sectors)."),
            ("btree_cache_size_bytes", "btree_cache_size", "Amount of memory currently used by the btree cache."),
            ("cache_available_percent", "cache_available_percent",
             "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data)."),
            ("congested", "congested", "Congestion."),
            ("root_usage_percent", "root_usage_percent",
             "Percentage of the root btree node in use (tree depth increases if too high)."),
            ("tree_depth", "tree_depth", "Depth of the btree."),
        ):
            fams.add(name, doc, False, own, float(r.value(file)))
        fams.add("active_journal_entries", "Number of journal entries that are newer than the index.", False, own,
                 float(r.value("internal", "active_journal_entries")))
        fams.add("btree_nodes", "Total nodes in the btree.", False, own, float(r.value("internal", "btree_nodes")))
        fams.add("btree_read_average_duration_seconds", "Average btree read duration.", False, own,
                 float(r.value("internal", "btree_read_average_duration_us")) * 1e-9)
        fams.add("cache_read_races_total",
                 "Counts instances where while data was being read from the cache, the bucket was reused and "
                 "invalidated - i.e. where the pointer was stale after the read completed.", True, own,
                 float(r.value("internal", "cache_read_races")))
        entries = list_dir(r.base)
        for bdev in (e for e in entries if e.startswith("bdev") and e[4:5].isdigit()):
            labels = {**own, "backing_device": bdev}
            wrd = writeback_rate_debug(r.lines(bdev, "writeback_rate_debug"))
            for name, value, doc in (
                ("dirty_data_bytes", r.value(bdev, "dirty_data"),
                 "Amount of dirty data for this backing device in the cache."),
                ("dirty_target_bytes", wrd["target"],
                 "Current dirty data target threshold for this backing device in bytes."),
                ("writeback_rate", wrd["rate"], "Current writeback rate for this backing device in bytes."),
                ("writeback_rate_proportional_term", wrd["proportional"],
                 "Current result of proportional controller, part of writeback rate"),
                ("writeback_rate_integral_term", wrd["integral"],
                 "Current result of integral controller, part of writeback rate"),
                ("writeback_change", wrd["change"], "Last writeback rate change step for this backing device."),
            ):
                fams.add(name, doc, False, labels, float(value))
            for name, file, doc in PERIOD:
                fams.add(name, doc, True, labels, float(r.value(bdev, "stats_total", file)))
            readaheads = r.value(bdev, "stats_total", "cache_readaheads")
            if readaheads:
                fams.add("cache_readaheads_total", "Count of times readahead occurred.", True, labels,
                         float(readaheads))
        for cache in (e for e in entries if e.startswith("cache") and e[5:6].isdigit()):
            labels = {**own, "cache_device": cache}
            fams.add("io_errors", "Number of errors that have occurred, decayed by io_error_halflife.", False, labels,
                     float(r.value(cache, "io_errors")))
            fams.add("metadata_written_bytes_total",
                     "Sum of all non data writes (btree writes and all other metadata).", True, labels,
                     float(r.value(cache, "metadata_written")))
            fams.add("written_bytes_total", "Sum of all data that has been written to the cache.", True, labels,
                     float(r.value(cache, "written")))
            if self._priority:
                unused, metadata = priority_stats(r.lines(cache, "priority_stats"))
                fams.add("priority_stats_unused_percent", "The percentage of the cache that doesn't contain any data.",
                         False, labels, float(unused))
                fams.add("priority_stats_metadata_percent", "Bcache's metadata overhead.", False, labels,
                         float(metadata))
