"""XFS statistics per filesystem from <sysfs>/fs/xfs/DEVICE/stats/stats (node_exporter's xfs collector).

Per filesystem (``device``, the directory name, e.g. ``sda1``) the counters node_exporter serves:
``node_xfs_extent_allocation_*``, ``node_xfs_allocation_btree_*``, ``node_xfs_block_mapping_*``,
``node_xfs_block_map_btree_*``, ``node_xfs_directory_operation_*``, ``node_xfs_inode_operation_*``,
``node_xfs_{read,write}_calls_total`` and ``node_xfs_vnode_*``, each from its line of the stats file at
prometheus/procfs' position (``rw`` holds writes first). A line of the wrong length fails the collector,
as in node_exporter; a host without XFS has no directory and serves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from . import register
from ._files import list_dir, read_text
from .base import Collector

# family suffix -> (stats line, position, HELP), node_exporter's list.
FAMILIES = (
    ("extent_allocation_extents_allocated_total", "extent_alloc", 0, "Number of extents allocated for a filesystem."),
    ("extent_allocation_blocks_allocated_total", "extent_alloc", 1, "Number of blocks allocated for a filesystem."),
    ("extent_allocation_extents_freed_total", "extent_alloc", 2, "Number of extents freed for a filesystem."),
    ("extent_allocation_blocks_freed_total", "extent_alloc", 3, "Number of blocks freed for a filesystem."),
    ("allocation_btree_lookups_total", "abt", 0, "Number of allocation B-tree lookups for a filesystem."),
    ("allocation_btree_compares_total", "abt", 1, "Number of allocation B-tree compares for a filesystem."),
    ("allocation_btree_records_inserted_total", "abt", 2,
     "Number of allocation B-tree records inserted for a filesystem."),
    ("allocation_btree_records_deleted_total", "abt", 3,
     "Number of allocation B-tree records deleted for a filesystem."),
    ("block_mapping_reads_total", "blk_map", 0, "Number of block map for read operations for a filesystem."),
    ("block_mapping_writes_total", "blk_map", 1, "Number of block map for write operations for a filesystem."),
    ("block_mapping_unmaps_total", "blk_map", 2, "Number of block unmaps (deletes) for a filesystem."),
    ("block_mapping_extent_list_insertions_total", "blk_map", 3, "Number of extent list insertions for a filesystem."),
    ("block_mapping_extent_list_deletions_total", "blk_map", 4, "Number of extent list deletions for a filesystem."),
    ("block_mapping_extent_list_lookups_total", "blk_map", 5, "Number of extent list lookups for a filesystem."),
    ("block_mapping_extent_list_compares_total", "blk_map", 6, "Number of extent list compares for a filesystem."),
    ("block_map_btree_lookups_total", "bmbt", 0, "Number of block map B-tree lookups for a filesystem."),
    ("block_map_btree_compares_total", "bmbt", 1, "Number of block map B-tree compares for a filesystem."),
    ("block_map_btree_records_inserted_total", "bmbt", 2,
     "Number of block map B-tree records inserted for a filesystem."),
    ("block_map_btree_records_deleted_total", "bmbt", 3,
     "Number of block map B-tree records deleted for a filesystem."),
    ("directory_operation_lookup_total", "dir", 0,
     "Number of file name directory lookups which miss the operating systems directory name lookup cache."),
    ("directory_operation_create_total", "dir", 1,
     "Number of times a new directory entry was created for a filesystem."),
    ("directory_operation_remove_total", "dir", 2,
     "Number of times an existing directory entry was created for a filesystem."),
    ("directory_operation_getdents_total", "dir", 3,
     "Number of times the directory getdents operation was performed for a filesystem."),
    ("inode_operation_attempts_total", "ig", 0, "Number of times the OS looked for an XFS inode in the inode cache."),
    ("inode_operation_found_total", "ig", 1,
     "Number of times the OS looked for and found an XFS inode in the inode cache."),
    ("inode_operation_recycled_total", "ig", 2,
     "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled."),
    ("inode_operation_missed_total", "ig", 3,
     "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
    ("inode_operation_duplicates_total", "ig", 4,
     "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had "
     "already been added by another process."),
    ("inode_operation_reclaims_total", "ig", 5,
     "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose."),
    ("inode_operation_attribute_changes_total", "ig", 6,
     "Number of times the OS explicitly changed the attributes of an XFS inode."),
    ("read_calls_total", "rw", 1, "Number of read(2) system calls made to files in a filesystem."),
    ("write_calls_total", "rw", 0, "Number of write(2) system calls made to files in a filesystem."),
    ("vnode_active_total", "vnodes", 0, "Number of vnodes not on free lists for a filesystem."),
    ("vnode_allocate_total", "vnodes", 1, "Number of times vn_alloc called for a filesystem."),
    ("vnode_get_total", "vnodes", 2, "Number of times vn_get called for a filesystem."),
    ("vnode_hold_total", "vnodes", 3, "Number of times vn_hold called for a filesystem."),
    ("vnode_release_total", "vnodes", 4, "Number of times vn_rele called for a filesystem."),
    ("vnode_reclaim_total", "vnodes", 5, "Number of times vn_reclaim called for a filesystem."),
    ("vnode_remove_total", "vnodes", 6, "Number of times vn_remove called for a filesystem."),
)
# Values per line prometheus/procfs requires (vnodes: 7, or 8 with the free count).
LENGTHS = {"extent_alloc": (4,), "abt": (4,), "blk_map": (7,), "bmbt": (4,), "dir": (4,), "ig": (7,), "rw": (2,),
           "vnodes": (7, 8)}


def parse_stats(text: str) -> dict[str, list[int]]:
    """The lines of one XFS stats file that node_exporter serves, by label; ValueError for a wrong length."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0] not in LENGTHS:
            continue
        values = [int(v) for v in fields[1:]]
        if len(values) not in LENGTHS[fields[0]]:
            raise ValueError(f"incorrect number of values for XFS {fields[0]} stats: {len(values)}")
        out[fields[0]] = values
    return out


@register
class XfsCollector(Collector):
    """Serves node_xfs_* from <sysfs>/fs/xfs/*/stats/stats (see the module docstring)."""

    name = "xfs"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("fs", "xfs")
        fams = [(CounterMetricFamily(f"node_xfs_{suffix}", doc, labels=["device"]), line, pos)
                for suffix, line, pos, doc in FAMILIES]
        for device in list_dir(base):
            path = os.path.join(base, device, "stats", "stats")
            if not os.path.isfile(path):
                continue
            stats = parse_stats(read_text(path))
            for fam, line, pos in fams:
                values = stats.get(line)
                fam.add_metric([device], float(values[pos]) if values else 0.0)
        return [fam for fam, _, _ in fams if fam.samples]
