"""node_exporter's default Linux collectors added for issue 9, on the GB10-like fixture tree: names, units, labels."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from test_collectors_host import FIXTURE, collect, make, values

PAGE = os.sysconf("SC_PAGESIZE")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A writable copy of the fixture tree, symlinks kept."""
    dst = tmp_path / "host"
    shutil.copytree(FIXTURE, dst, symlinks=True)
    return dst


def only(fam: Metric) -> float:
    """The value of a family with a single sample."""
    assert len(fam.samples) == 1, fam.samples
    return float(fam.samples[0].value)


class TestVmstat:
    def test_default_fields(self) -> None:
        """The default field regexp keeps paging, swapping, faults and OOM kills, untyped as node_exporter."""
        fams = collect("vmstat")
        assert set(fams) == {
            "node_vmstat_pgpgin",
            "node_vmstat_pgpgout",
            "node_vmstat_pswpin",
            "node_vmstat_pswpout",
            "node_vmstat_pgfault",
            "node_vmstat_pgmajfault",
            "node_vmstat_oom_kill",
        }
        assert fams["node_vmstat_pgmajfault"].type == "unknown"
        assert only(fams["node_vmstat_pgmajfault"]) == 4821

    def test_fields_option(self) -> None:
        """--vmstat.fields selects other fields."""
        assert set(collect("vmstat", "--vmstat.fields=^nr_free")) == {"node_vmstat_nr_free_pages"}


class TestFilefdEntropyConntrack:
    def test_filefd(self) -> None:
        """Allocated is file-nr's first field, maximum its third."""
        fams = collect("filefd")
        assert (only(fams["node_filefd_allocated"]), only(fams["node_filefd_maximum"])) == (4128, float(2**63 - 1))

    def test_entropy(self) -> None:
        """Available bits and pool size come from /proc/sys/kernel/random."""
        fams = collect("entropy")
        assert (only(fams["node_entropy_available_bits"]), only(fams["node_entropy_pool_size_bits"])) == (256, 256)

    def test_conntrack_without_stat_file(self) -> None:
        """Entries and limit are served; without /proc/net/stat/nf_conntrack no stat families appear."""
        fams = collect("conntrack")
        assert set(fams) == {"node_nf_conntrack_entries", "node_nf_conntrack_entries_limit"}
        assert (only(fams["node_nf_conntrack_entries"]), only(fams["node_nf_conntrack_entries_limit"])) == (
            173,
            262144,
        )

    def test_conntrack_absent_is_no_failure(self, tree: Path) -> None:
        """Without the nf_conntrack module the collector serves nothing and does not fail."""
        for f in ("nf_conntrack_count", "nf_conntrack_max"):
            (tree / "proc/sys/net/netfilter" / f).unlink()
        assert collect("conntrack", root=tree) == {}


class TestSockstat:
    def test_ipv4_and_ipv6(self) -> None:
        """Every PROTO: field pair is a gauge; mem is in pages and mem_bytes in bytes."""
        fams = collect("sockstat")
        assert only(fams["node_sockstat_sockets_used"]) == 912
        assert only(fams["node_sockstat_TCP_tw"]) == 11
        assert only(fams["node_sockstat_TCP_mem"]) == 7
        assert only(fams["node_sockstat_TCP_mem_bytes"]) == 7 * PAGE
        assert only(fams["node_sockstat_TCP6_inuse"]) == 12
        assert only(fams["node_sockstat_FRAG6_memory"]) == 0
        assert fams["node_sockstat_UDP_inuse"].documentation == "Number of UDP sockets in state inuse."

    def test_missing_ipv6_is_tolerated(self, tree: Path) -> None:
        """A kernel without IPv6 has no sockstat6: the IPv4 families are still served."""
        (tree / "proc/net/sockstat6").unlink()
        fams = collect("sockstat", root=tree)
        assert "node_sockstat_TCP_inuse" in fams and "node_sockstat_TCP6_inuse" not in fams


class TestNetstat:
    def test_default_fields_from_three_files(self) -> None:
        """netstat, snmp and snmp6 are merged and filtered by current node_exporter's default regexp."""
        fams = collect("netstat")
        assert only(fams["node_netstat_Tcp_RetransSegs"]) == 1045
        assert only(fams["node_netstat_TcpExt_ListenDrops"]) == 5
        assert only(fams["node_netstat_TcpExt_TCPOFOQueue"]) == 1204
        assert only(fams["node_netstat_IpExt_InOctets"]) == 98123456789
        assert only(fams["node_netstat_Ip6_InOctets"]) == 9876543
        assert only(fams["node_netstat_Udp6_InDatagrams"]) == 512
        assert only(fams["node_netstat_Icmp_InErrors"]) == 2
        assert "node_netstat_TcpExt_PruneCalled" not in fams and "node_netstat_Ip_DefaultTTL" not in fams
        assert fams["node_netstat_Tcp_InErrs"].type == "unknown"
        assert fams["node_netstat_Ip6_InOctets"].documentation == "Statistic Ip6InOctets."

    def test_mismatched_lines_fail(self, tree: Path) -> None:
        """A values line that does not match its names line is an error, not a silent shift."""
        (tree / "proc/net/snmp").write_text("Tcp: ActiveOpens PassiveOpens\nTcp: 1\n")
        with pytest.raises(ValueError, match="mismatched"):
            list(make("netstat", root=tree).collect())


class TestArpSoftnetSchedstat:
    def test_arp_entries_per_device(self) -> None:
        """Entries are counted per interface, incomplete ones included, as node_exporter's file mode does."""
        assert values(collect("arp")["node_arp_entries"], "device") == {"enp1s0f0np0": 1, "enP7s7": 3}

    def test_arp_device_exclude(self) -> None:
        """--arp.device-exclude drops matching interfaces."""
        assert values(collect("arp", "--arp.device-exclude=^enP")["node_arp_entries"], "device") == {"enp1s0f0np0": 1}

    def test_softnet_columns_and_cpu_index(self) -> None:
        """Hex columns become counters per CPU; the CPU comes from column 13 when the kernel writes it."""
        fams = collect("softnet")
        assert values(fams["node_softnet_processed"], "cpu") == {"0": 0x4A2F1, "1": 0x12B0AA, "2": 0x9C40}
        assert values(fams["node_softnet_dropped"], "cpu")["1"] == 2
        assert values(fams["node_softnet_received_rps"], "cpu")["1"] == 7
        assert values(fams["node_softnet_backlog_len"], "cpu")["2"] == 1
        assert fams["node_softnet_times_squeezed"].type == "counter"

    def test_softnet_old_kernel_has_no_missing_columns(self, tree: Path) -> None:
        """A kernel writing 9 columns gets no flow-limit or backlog series rather than zeros."""
        (tree / "proc/net/softnet_stat").write_text("00000010 00000001 00000002 0 0 0 0 0 00000003\n")
        fams = collect("softnet", root=tree)
        assert set(fams) == {
            "node_softnet_processed",
            "node_softnet_dropped",
            "node_softnet_times_squeezed",
            "node_softnet_cpu_collision",
        }
        assert values(fams["node_softnet_cpu_collision"], "cpu") == {"0": 3}

    def test_schedstat_seconds(self) -> None:
        """Running and waiting time are nanoseconds served as seconds; timeslices are counted."""
        fams = collect("schedstat")
        assert values(fams["node_schedstat_running_seconds"], "cpu") == {
            "0": 1234567890123 / 1e9,
            "1": 2234567890123 / 1e9,
        }
        assert values(fams["node_schedstat_waiting_seconds"], "cpu")["1"] == pytest.approx(8.7654321)
        assert values(fams["node_schedstat_timeslices"], "cpu") == {"0": 456789, "1": 356789}


class TestInfiniband:
    PORT = {"device": "rocep1s0f0", "port": "1"}

    def series(self, name: str, device: str = "rocep1s0f0") -> float:
        fam = collect("infiniband")[name]
        return next(float(s.value) for s in fam.samples if s.labels == {"device": device, "port": "1"})

    def test_data_counters_are_bytes(self) -> None:
        """port_rcv_data/port_xmit_data count 4-byte words and are served in bytes."""
        assert self.series("node_infiniband_port_data_received_bytes") == 2500000000 * 4
        assert self.series("node_infiniband_port_data_transmitted_bytes") == 2250000000 * 4

    def test_state_rate_and_info(self) -> None:
        """State numbers come from "4: ACTIVE"-style files; 200 Gb/s is 25 GB/s; info labels the HCA."""
        assert self.series("node_infiniband_state_id") == 4
        assert self.series("node_infiniband_state_id", "rocep1s0f1") == 1
        assert self.series("node_infiniband_physical_state_id", "rocep1s0f1") == 3
        assert self.series("node_infiniband_rate_bytes_per_second") == 25e9
        info = collect("infiniband")["node_infiniband_info"]
        assert {s.labels["device"]: s.labels["hca_type"] for s in info.samples} == dict.fromkeys(
            ("roceP2p1s0f0", "roceP2p1s0f1", "rocep1s0f0", "rocep1s0f1"), "MT4129"
        )

    def test_error_and_roce_counters(self) -> None:
        """Link and RoCE hardware counters are counters under node_exporter's names."""
        fams = collect("infiniband")
        assert fams["node_infiniband_link_downed"].type == "counter"
        assert self.series("node_infiniband_link_downed", "rocep1s0f1") == 3
        assert self.series("node_infiniband_out_of_sequence_packets_received") == 2
        assert self.series("node_infiniband_np_cnp_packets_sent") == 17
        assert self.series("node_infiniband_lifespan_seconds") == 0  # 10 ms, whole seconds as upstream

    def test_unavailable_counter_is_left_out(self) -> None:
        """A counter reading "N/A (no PMA)" is left out, never served as 0."""
        assert "node_infiniband_unicast_packets_received" not in collect("infiniband")

    def test_no_infiniband_class(self, tree: Path) -> None:
        """A machine without RDMA devices gets no series and no failure."""
        shutil.rmtree(tree / "sys/class/infiniband")
        assert collect("infiniband", root=tree) == {}
