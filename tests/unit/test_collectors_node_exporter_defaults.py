"""The collectors node_exporter enables by default that were added last (mdadm, bonding, bcache, btrfs, rapl,
tapestats, fibrechannel, ipvs, nfs, nfsd, xfs, zfs, selinux) on crafted trees: the states node_exporter's alerts
read, edge cases of the files, and hosts without the feature. node_exporter's own trees are
compared in tests/integration/test_parity_node_exporter.py (Debian's 1.5.0) and
tests/integration/test_node_exporter_e2e.py (current node_exporter's expected output)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from spark_exporter.collectors import load_all
from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.bcache import dehumanize
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import ConfigError

NEW = ("mdadm", "bonding", "bcache", "btrfs", "rapl", "tapestats", "fibrechannel", "ipvs", "nfs", "nfsd", "xfs", "zfs",
       "selinux")


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def collect(root: Path, name: str, *flags: str) -> dict[str, Metric]:
    cfg = load_config(list(flags), {})
    collector = load_all()[name](cfg, Paths(str(root / "proc"), str(root / "sys"), str(root)))
    return {f.name: f for f in collector.collect()}


def values(fam: Metric, *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels[k] for k in labels): s.value for s in fam.samples}


class TestRegistry:
    def test_all_are_registered_and_on_by_default(self) -> None:
        """Each is a registered collector, on by default as in node_exporter."""
        registry = load_all()
        assert {n: registry[n].default_enabled for n in NEW} == dict.fromkeys(NEW, True)

    @pytest.mark.parametrize("name", NEW)
    def test_host_without_the_feature_serves_nothing(self, tmp_path: Path, name: str) -> None:
        """On empty /proc and /sys roots a collector serves no family and does not fail (except selinux's 0)."""
        (tmp_path / "proc").mkdir()
        (tmp_path / "sys").mkdir()
        fams = collect(tmp_path, name)
        if name == "selinux":
            assert {n: f.samples[0].value for n, f in fams.items()} == {"node_selinux_enabled": 0.0}
        else:
            assert fams == {}


MDSTAT = """Personalities : [raid1] [raid6] [raid5] [raid4]
md0 : active raid1 sdb1[1](F) sda1[0]
      1046528 blocks super 1.2 [2/1] [U_]

md1 : active raid5 sdc1[0] sdd1[1] sde1[3] sdf1[4](S)
      2093056 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]
      [==>..................]  resync = 12.5% (131072/1046528) finish=1.0min speed=10000K/sec

unused devices: <none>
"""


class TestMdadm:
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        write(tmp_path, {
            "proc/mdstat": MDSTAT,
            "sys/block/md0/md/level": "raid1\n", "sys/block/md0/md/raid_disks": "2\n",
            "sys/block/md0/md/degraded": "1\n",
            "sys/block/md1/md/level": "raid5\n", "sys/block/md1/md/raid_disks": "3\n",
            "sys/block/md1/md/degraded": "0\n",
        })
        return tmp_path

    def test_degraded_array_is_visible(self, root: Path) -> None:
        """A mirror with a failed member: node_md_degraded 1 and one failed disk (NodeRAIDDegraded, ...DiskFailure)."""
        fams = collect(root, "mdadm")
        assert values(fams["node_md_degraded"], "device") == {("md0",): 1.0, ("md1",): 0.0}
        disks = values(fams["node_md_disks"], "device", "state")
        assert disks[("md0", "failed")] == 1 and disks[("md0", "active")] == 1 and disks[("md1", "spare")] == 1
        assert values(fams["node_md_disks_required"], "device") == {("md0",): 2.0, ("md1",): 3.0}
        assert values(fams["node_md_raid_disks"], "device") == {("md0",): 2.0, ("md1",): 3.0}

    def test_resync_state_and_progress(self, root: Path) -> None:
        """An array in resync is state resync (not active) with the blocks done so far."""
        fams = collect(root, "mdadm")
        state = values(fams["node_md_state"], "device", "state")
        assert state[("md1", "resync")] == 1 and state[("md1", "active")] == 0 and state[("md0", "active")] == 1
        assert values(fams["node_md_blocks_synced"], "device")[("md1",)] == 131072

    def test_malformed_mdstat_fails_the_collector(self, tmp_path: Path) -> None:
        """A status line without block counts is an error, as in node_exporter."""
        write(tmp_path, {"proc/mdstat": "md0 : active raid1 sda1[0]\n      garbage\n\n\n"})
        with pytest.raises(ValueError):
            collect(tmp_path, "mdadm")


class TestBonding:
    def test_degraded_bond(self, tmp_path: Path) -> None:
        """One of two members down: slaves 2, active 1 (NodeBondingDegraded); lower_ and slave_ links both read."""
        write(tmp_path, {
            "sys/class/net/bonding_masters": "bond0 bond1\n",
            "sys/class/net/bond0/bonding/slaves": "eth0 eth1\n",
            "sys/class/net/bond0/lower_eth0/bonding_slave/mii_status": "up\n",
            "sys/class/net/bond0/slave_eth1/bonding_slave/mii_status": "down\n",
            "sys/class/net/bond1/bonding/slaves": "\n",
        })
        fams = collect(tmp_path, "bonding")
        assert values(fams["node_bonding_slaves"], "master") == {("bond0",): 2.0, ("bond1",): 0.0}
        assert values(fams["node_bonding_active"], "master") == {("bond0",): 1.0, ("bond1",): 0.0}

    def test_unreadable_member_fails_the_collector(self, tmp_path: Path) -> None:
        """A member without mii_status is an error, as in node_exporter."""
        write(tmp_path, {"sys/class/net/bonding_masters": "bond0\n", "sys/class/net/bond0/bonding/slaves": "eth9\n"})
        with pytest.raises(OSError):
            collect(tmp_path, "bonding")


class TestRapl:
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        base = "sys/class/powercap/"
        write(tmp_path, {
            base + "intel-rapl:0/name": "package-0\n", base + "intel-rapl:0/energy_uj": "2500000\n",
            base + "intel-rapl:0/max_energy_range_uj": "262143328850\n",
            base + "intel-rapl:0:0/name": "dram\n", base + "intel-rapl:0:0/energy_uj": "1000000\n",
            base + "intel-rapl:0:0/max_energy_range_uj": "262143328850\n",
        })
        return tmp_path

    def test_one_family_per_zone(self, root: Path) -> None:
        """package-0 is node_rapl_package_joules_total{index="0"}; µJ become J; path is the zone directory."""
        fams = collect(root, "rapl")
        assert set(fams) == {"node_rapl_package_joules", "node_rapl_dram_joules"}
        sample = fams["node_rapl_package_joules"].samples[0]
        assert sample.value == 2.5 and sample.labels["index"] == "0"
        assert sample.labels["path"] == str(root / "sys/class/powercap/intel-rapl:0")

    def test_zone_label(self, root: Path) -> None:
        """--collector.rapl.enable-zone-label serves one family with rapl_zone."""
        fams = collect(root, "rapl", "--collector.rapl.enable-zone-label")
        assert values(fams["node_rapl_joules"], "rapl_zone", "index") == {("package", "0"): 2.5, ("dram", "0"): 1.0}


class TestTapestatsAndFibrechannel:
    def test_ignored_devices_and_nanoseconds(self, tmp_path: Path) -> None:
        """st0 is served (ns as s), st1 ignored by the flag, nst0 (an alias) never."""
        for dev in ("st0", "st1", "nst0"):
            write(tmp_path, {f"sys/class/scsi_tape/{dev}/stats/io_ns": "2000000000\n",
                             f"sys/class/scsi_tape/{dev}/stats/read_cnt": "7\n"})
        fams = collect(tmp_path, "tapestats", "--collector.tapestats.ignored-devices=^st1$")
        assert values(fams["node_tape_io_time_seconds"], "device") == {("st0",): 2.0}
        assert values(fams["node_tape_reads_completed"], "device") == {("st0",): 7.0}
        assert values(fams["node_tape_writes_completed"], "device") == {("st0",): 0.0}  # missing file: 0

    def test_unknown_port_reports_zeros_and_all_ones_is_left_out(self, tmp_path: Path) -> None:
        """A port in state Unknown counts 0 everywhere; an all-ones counter of an online port is left out."""
        write(tmp_path, {
            "sys/class/fc_host/host0/port_state": "Unknown\n",
            "sys/class/fc_host/host0/statistics/rx_frames": "0x10\n",
            "sys/class/fc_host/host1/port_state": "Online\n", "sys/class/fc_host/host1/port_id": "0x000002\n",
            "sys/class/fc_host/host1/statistics/rx_frames": "0x10\n",
            "sys/class/fc_host/host1/statistics/tx_frames": "0xffffffffffffffff\n",
        })
        fams = collect(tmp_path, "fibrechannel")
        assert values(fams["node_fibrechannel_rx_frames"], "fc_host") == {("host0",): 0.0, ("host1",): 16.0}
        assert values(fams["node_fibrechannel_tx_frames"], "fc_host") == {("host0",): 0.0}
        assert values(fams["node_fibrechannel_info"], "fc_host", "port_id")[("host1", "000002")] == 1


IP_VS = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    10         1
"""
IP_VS_STATS = """   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
      10       1F        0               FF                0

"""


class TestIpvs:
    def test_backend_labels_subset_sums(self, tmp_path: Path) -> None:
        """With only local_address and proto, two backends of one service are summed; totals are hex."""
        write(tmp_path, {"proc/net/ip_vs": IP_VS, "proc/net/ip_vs_stats": IP_VS_STATS})
        fams = collect(tmp_path, "ipvs", "--collector.ipvs.backend-labels=proto,local_address")
        assert values(fams["node_ipvs_backend_connections_active"], "local_address", "proto") == {
            ("192.168.0.22", "TCP"): 258.0}
        assert fams["node_ipvs_connections"].samples[0].value == 16
        assert fams["node_ipvs_incoming_bytes"].samples[0].value == 255

    def test_unknown_label_is_a_config_error(self) -> None:
        """A label node_exporter does not know is refused when the settings load, naming it."""
        with pytest.raises(ConfigError, match="bogus"):
            load_config(["--collector.ipvs.backend-labels=proto,bogus"], {})


class TestNfs:
    def test_missing_versions_count_zero_and_short_v4_is_padded(self, tmp_path: Path) -> None:
        """Without proc2/proc3 every v2/v3 procedure is 0; a v4 line shorter than 59 is padded with zeros."""
        write(tmp_path, {"proc/net/rpc/nfs": "net 1 2 3 4\nrpc 5 6 7\nproc4 3 9 8 7\n"})
        fams = collect(tmp_path, "nfs")
        requests = values(fams["node_nfs_requests"], "proto", "method")
        assert requests[("4", "Null")] == 9 and requests[("4", "Write")] == 7 and requests[("4", "Clone")] == 0
        assert requests[("3", "Commit")] == 0 and len([k for k in requests if k[0] == "2"]) == 18
        assert values(fams["node_nfs_packets"], "protocol") == {("udp",): 2.0, ("tcp",): 3.0}

    def test_bad_line_fails(self, tmp_path: Path) -> None:
        """A procedure count that does not match the values is an error."""
        write(tmp_path, {"proc/net/rpc/nfs": "proc3 22 1 2\n"})
        with pytest.raises(ValueError):
            collect(tmp_path, "nfs")

    def test_server_threads_and_v4_ops(self, tmp_path: Path) -> None:
        """nfsd: th's first value is the thread count; v4 operations from Access on, plus WdelegGetattr."""
        ops = " ".join(str(i) for i in range(40))
        write(tmp_path, {"proc/net/rpc/nfsd": f"th 8 0 0.000 0.000\nproc4ops 40 {ops}\nwdeleg_getattr 15\n"})
        fams = collect(tmp_path, "nfsd")
        assert fams["node_nfsd_server_threads"].samples[0].value == 8
        requests = values(fams["node_nfsd_requests"], "proto", "method")
        assert requests[("4", "Access")] == 3 and requests[("4", "RelLockOwner")] == 39
        assert requests[("4", "WdelegGetattr")] == 15 and ("4", "Op0Unused") not in requests


class TestXfsZfsSelinux:
    def test_xfs_wrong_length_fails(self, tmp_path: Path) -> None:
        """An XFS stats line with the wrong number of values is an error, as in procfs."""
        write(tmp_path, {"sys/fs/xfs/sda1/stats/stats": "extent_alloc 1 2 3\n"})
        with pytest.raises(ValueError):
            collect(tmp_path, "xfs")

    def test_xfs_rw_holds_writes_first(self, tmp_path: Path) -> None:
        """The rw line is writes then reads."""
        write(tmp_path, {"sys/fs/xfs/sda1/stats/stats": "rw 28 5\n"})
        fams = collect(tmp_path, "xfs")
        assert fams["node_xfs_write_calls"].samples[0].value == 28
        assert fams["node_xfs_read_calls"].samples[0].value == 5

    def test_zfs_pool_state_and_kstat_without_header(self, tmp_path: Path) -> None:
        """A pool's state is one of seven, 1 for the current one; a kstat file without header fails."""
        write(tmp_path, {"proc/spl/kstat/zfs/tank/state": "DEGRADED\n",
                         "proc/spl/kstat/zfs/arcstats": "6 1 0x01\nname type data\nhits 4 12\nc-min 4 3\n"})
        fams = collect(tmp_path, "zfs")
        assert values(fams["node_zfs_zpool_state"], "state")[("degraded",)] == 1
        assert sum(values(fams["node_zfs_zpool_state"], "state").values()) == 1
        assert fams["node_zfs_arc_c_min"].documentation == "kstat.zfs.misc.arcstats.c-min"
        assert fams["node_zfs_arc_hits"].type == "unknown"
        write(tmp_path, {"proc/spl/kstat/zfs/arcstats": "hits 4 12\n"})
        with pytest.raises(ValueError):
            collect(tmp_path, "zfs")

    def test_selinux_enforcing_with_permissive_config(self, tmp_path: Path) -> None:
        """selinuxfs mounted and a confined process: enabled, current mode 1, configured mode 0."""
        write(tmp_path, {"sys/fs/selinux/enforce": "1", "proc/self/attr/current": "system_u:system_r:init_t:s0\x00",
                         "etc/selinux/config": "# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n"})
        fams = collect(tmp_path, "selinux")
        assert {n: f.samples[0].value for n, f in fams.items()} == {
            "node_selinux_enabled": 1.0, "node_selinux_current_mode": 1.0, "node_selinux_config_mode": 0.0}


class TestCpuinfoFrequency:
    CPUINFO = "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\ncpu MHz\t\t: 799.998\n\n" \
              "processor\t: 1\nphysical id\t: 0\ncore id\t: 1\n\n"

    def test_served_with_cpu_info_while_cpufreq_is_enabled(self, tmp_path: Path) -> None:
        """node_cpu_frequency_hertz{package,core,cpu} from cpu MHz; a CPU without the line is left out."""
        write(tmp_path, {"proc/cpuinfo": self.CPUINFO, "proc/stat": "cpu  1 2 3 4 5 6 7 8 0 0\n"})
        fams = collect(tmp_path, "cpu", "--collector.cpu.info")
        assert values(fams["node_cpu_frequency_hertz"], "package", "core", "cpu") == {("0", "0", "0"): 799.998 * 1e6}
        without_cpufreq = collect(tmp_path, "cpu", "--collector.cpu.info", "--no-collector.cpufreq")
        assert "node_cpu_frequency_hertz" not in without_cpufreq
        assert "node_cpu_frequency_hertz" not in collect(tmp_path, "cpu")


class TestBcache:
    @pytest.mark.parametrize(("text", "value"), [("512", 512), ("2.0G", 2 << 30), ("1.5k", int((1 + 5 / 10.24) * 1024)),
                                                 ("0", 0)])
    def test_sizes_read_as_procfs_reads_them(self, text: str, value: int) -> None:
        """bcache's human sizes: the digit after the point counts in 1/10.24 steps, as prometheus/procfs reads it."""
        assert dehumanize(text) == value

    def test_priority_stats_only_with_the_flag(self, tmp_path: Path) -> None:
        """priority_stats is read only with --collector.bcache.priorityStats; readaheads only when non-zero."""
        uuid = "sys/fs/bcache/0f0e-11/"
        write(tmp_path, {uuid + "btree_cache_size": "2.0M\n", uuid + "cache0/written": "1.0k\n",
                         uuid + "cache0/priority_stats": "Unused:\t\t99%\nMetadata:\t0%\n",
                         uuid + "bdev0/writeback_rate_debug": "rate:\t\t1.1M/sec\nproportional:\t-2.0k\n",
                         uuid + "bdev0/stats_total/cache_hits": "546\n"})
        plain = collect(tmp_path, "bcache")
        assert "node_bcache_priority_stats_unused_percent" not in plain
        assert "node_bcache_cache_readaheads" not in plain
        assert plain["node_bcache_btree_cache_size_bytes"].samples[0].value == 2 << 20
        assert plain["node_bcache_writeback_rate_proportional_term"].samples[0].value == -2048
        assert values(plain["node_bcache_cache_hits"], "backing_device") == {("bdev0",): 546.0}
        full = collect(tmp_path, "bcache", "--collector.bcache.priorityStats")
        assert full["node_bcache_priority_stats_unused_percent"].samples[0].value == 99


class TestBtrfs:
    def test_raid_ratio_follows_the_device_count(self, tmp_path: Path) -> None:
        """raid5 on three devices stores 3/2 of the data; sizes are 512-byte sectors; commit ms become s."""
        fs = "sys/fs/btrfs/aaaa-bbbb/"
        write(tmp_path, {fs + "label": "tank\n", fs + "commit_stats": "commits 3\nmax_commit_ms 1500\n",
                         **{fs + f"devices/sd{d}/size": "2048\n" for d in "abc"},
                         fs + "allocation/data/raid5/used_bytes": "100\n",
                         fs + "allocation/metadata/raid1/total_bytes": "64\n",
                         fs + "allocation/system/single/total_bytes": "8\n"})
        fams = collect(tmp_path, "btrfs")
        ratio = values(fams["node_btrfs_allocation_ratio"], "block_group_type", "mode")
        assert ratio == {("data", "raid5"): 1.5, ("metadata", "raid1"): 2.0, ("system", "single"): 1.0}
        assert values(fams["node_btrfs_device_size_bytes"], "device")[("sda",)] == 2048 * 512
        assert fams["node_btrfs_max_commit_seconds"].samples[0].value == 1.5
        assert values(fams["node_btrfs_info"], "uuid", "label") == {("aaaa-bbbb", "tank"): 1.0}

    def test_malformed_commit_stats_fails(self, tmp_path: Path) -> None:
        """A commit_stats line that is not NAME VALUE is an error, as in procfs."""
        write(tmp_path, {"sys/fs/btrfs/aaaa-bbbb/commit_stats": "commits\n"})
        with pytest.raises(ValueError):
            collect(tmp_path, "btrfs")
