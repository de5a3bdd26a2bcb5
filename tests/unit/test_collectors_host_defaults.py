"""node_exporter's default Linux collectors on the GB10-like fixture tree: names, units, labels."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from helpers.host import FIXTURE, collect, make, values

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


class TestCpufreqThermal:
    def test_frequencies_in_hertz(self) -> None:
        """kHz values become Hz per CPU policy; a file the driver lacks (cpuinfo_cur_freq) gives no series."""
        fams = collect("cpufreq")
        assert values(fams["node_cpu_scaling_frequency_hertz"], "cpu") == {"0": 2808e6, "10": 1420e6}
        assert values(fams["node_cpu_frequency_max_hertz"], "cpu") == {"0": 3900e6, "10": 2860e6}
        assert "node_cpu_frequency_hertz" not in fams

    def test_governor(self) -> None:
        """The active governor is 1, the other available ones 0; without a list only the active one shows."""
        fam = collect("cpufreq")["node_cpu_scaling_governor"]
        got = {(s.labels["cpu"], s.labels["governor"]): s.value for s in fam.samples}
        assert got[("0", "schedutil")] == 1 and got[("0", "performance")] == 0
        assert [k for k in got if k[0] == "10"] == [("10", "performance")]

    def test_thermal_zone_and_cooling_device(self) -> None:
        """Millidegrees become degrees; an unreadable zone is left out; cooling states are served."""
        fams = collect("thermal_zone")
        assert [(s.labels, s.value) for s in fams["node_thermal_zone_temp"].samples] == [
            ({"zone": "0", "type": "acpitz"}, 47.8)
        ]
        assert fams["node_cooling_device_max_state"].samples[0].labels == {"name": "0", "type": "Processor"}
        assert fams["node_cooling_device_max_state"].samples[0].value == 3


class TestInventoryCollectors:
    def test_nvme_info(self) -> None:
        """node_nvme_info labels the controller with trimmed sysfs attributes, cntlid included."""
        (sample,) = collect("nvme")["node_nvme_info"].samples
        assert sample.labels == {
            "device": "nvme0",
            "firmware_revision": "ERLA8B01",
            "model": "ESL01TBTLCZ-27J2-TYN",
            "serial": "TEST0000000000001",
            "state": "live",
            "cntlid": "0",
        }

    def test_dmi_info_has_only_readable_fields(self) -> None:
        """Fields the tree lacks (serials, UUID) are not labels; an empty field is an empty label."""
        (sample,) = collect("dmi")["node_dmi_info"].samples
        assert sample.labels["system_vendor"] == "NVIDIA" and sample.labels["product_name"] == "DGX Spark"
        assert sample.labels["chassis_asset_tag"] == ""
        assert "product_uuid" not in sample.labels and "board_serial" not in sample.labels

    def test_usb_c_power_supply(self) -> None:
        """The USB-C PD input is served in volts and amperes, with its text attributes on the info series."""
        fams = collect("powersupplyclass")
        supply = "ucsi-source-psy-USBC000:001"
        assert values(fams["node_power_supply_voltage_volt"], "power_supply") == {supply: 20.0}
        assert values(fams["node_power_supply_current_ampere"], "power_supply") == {supply: 4.85}
        assert values(fams["node_power_supply_online"], "power_supply") == {supply: 1}
        (info,) = fams["node_power_supply_info"].samples
        assert info.labels == {"power_supply": supply, "type": "USB", "usb_type": "C [PD] PD_PPS", "scope": "Device"}

    def test_os_release(self) -> None:
        """os-release keys become labels, VERSION_ID's major.minor the version, SUPPORT_END a timestamp."""
        fams = collect("os")
        (info,) = fams["node_os_info"].samples
        assert (info.labels["id"], info.labels["version_id"], info.labels["build_id"]) == ("ubuntu", "24.04", "")
        (version,) = fams["node_os_version"].samples
        assert version.labels == {"id": "ubuntu", "id_like": "debian", "name": "Ubuntu"} and version.value == 24.04
        assert fams["node_os_support_end_timestamp_seconds"].samples[0].value == 1874880000  # 2029-05-31T00:00:00Z

    def test_os_release_falls_back_to_usr_lib(self, tree: Path) -> None:
        """Without /etc/os-release the copy in /usr/lib is read."""
        (tree / "rootfs/usr/lib").mkdir(parents=True)
        (tree / "rootfs/etc/os-release").rename(tree / "rootfs/usr/lib/os-release")
        assert collect("os", root=tree)["node_os_info"].samples[0].labels["id"] == "ubuntu"

    def test_edac_absent(self) -> None:
        """A machine without an EDAC driver gets no series."""
        assert collect("edac") == {}


class TestTextfile:
    def test_files_are_served_with_mtime(self, tmp_path: Path) -> None:
        """Each *.prom file's families are served; mtime is per file; no error when all parse."""
        (tmp_path / "nccl.prom").write_text(
            "# HELP nccl_allreduce_busbw_gbps Bus bandwidth.\n# TYPE nccl_allreduce_busbw_gbps gauge\n"
            'nccl_allreduce_busbw_gbps{size="1G"} 21.5\n'
        )
        (tmp_path / "ignored.txt").write_text("x 1\n")
        os.utime(tmp_path / "nccl.prom", (1700000000, 1700000000))
        fams = collect("textfile", f"--textfile.directory={tmp_path}")
        assert fams["nccl_allreduce_busbw_gbps"].samples[0].value == 21.5
        assert values(fams["node_textfile_mtime_seconds"], "file") == {str(tmp_path / "nccl.prom"): 1700000000}
        assert fams["node_textfile_scrape_error"].samples[0].value == 0

    def test_bad_file_is_left_out_whole(self, tmp_path: Path) -> None:
        """A file that does not parse or carries timestamps is skipped and scrape_error is 1; others are served."""
        (tmp_path / "good.prom").write_text("good_metric 1\n")
        (tmp_path / "broken.prom").write_text("half_metric 1\nthis is { not prometheus\n")
        (tmp_path / "stamped.prom").write_text("stamped_metric 1 1700000000000\n")
        fams = collect("textfile", f"--textfile.directory={tmp_path}")
        assert "good_metric" in fams and "half_metric" not in fams and "stamped_metric" not in fams
        assert set(values(fams["node_textfile_mtime_seconds"], "file")) == {str(tmp_path / "good.prom")}
        assert fams["node_textfile_scrape_error"].samples[0].value == 1

    def test_no_directory_serves_only_the_error_gauge(self) -> None:
        """Without --textfile.directory only node_textfile_scrape_error 0 is served, as node_exporter does."""
        fams = collect("textfile")
        assert list(fams) == ["node_textfile_scrape_error"] and fams["node_textfile_scrape_error"].samples[0].value == 0

    def test_samples_of_all_files_are_bounded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A file that would take all files' samples past the limit is left out whole (scrape_error 1); files
        that fit are served."""
        from spark_exporter.collectors import textfile

        monkeypatch.setattr(textfile, "MAX_SAMPLES", 5)
        (tmp_path / "a.prom").write_text("# TYPE small gauge\n" + "".join(f'small{{i="{i}"}} 1\n' for i in range(3)))
        (tmp_path / "b.prom").write_text("".join(f'big{{i="{i}"}} 1\n' for i in range(3)))
        fams = collect("textfile", f"--textfile.directory={tmp_path}")
        assert len(fams["small"].samples) == 3 and "big" not in fams
        assert fams["node_textfile_scrape_error"].samples[0].value == 1

    def test_missing_directory_is_an_error(self, tmp_path: Path) -> None:
        """A directory that does not exist sets node_textfile_scrape_error to 1."""
        fams = collect("textfile", f"--textfile.directory={tmp_path / 'nope'}")
        assert fams["node_textfile_scrape_error"].samples[0].value == 1


class TestNewerFamilies:
    def test_pressure_irq(self) -> None:
        """IRQ pressure (Linux 6.1+) is served as stalled seconds; microseconds become seconds."""
        fam = collect("pressure")["node_pressure_irq_stalled_seconds"]
        assert fam.type == "counter" and fam.samples[0].value == 0.123456

    def test_pressure_without_irq_file(self, tree: Path) -> None:
        """A kernel with PSI but no irq file serves the other resources and no irq series."""
        (tree / "proc/pressure/irq").unlink()
        fams = collect("pressure", root=tree)
        assert "node_pressure_irq_stalled_seconds" not in fams and "node_pressure_cpu_waiting_seconds" in fams

    def test_softirq_vectors_only_when_asked(self) -> None:
        """node_softirqs_total comes with --stat.softirq, one series per vector of the softirq line."""
        assert "node_softirqs" not in collect("stat")
        fam = collect("stat", "--stat.softirq")["node_softirqs"]
        assert [s.labels["vector"] for s in fam.samples] == [
            "hi",
            "timer",
            "net_tx",
            "net_rx",
            "block",
            "block_iopoll",
            "tasklet",
            "sched",
            "hrtimer",
            "rcu",
        ]


class TestUdpQueues:
    def test_queues_summed_per_address_family(self, tree: Path) -> None:
        """tx_queue:rx_queue columns (hex) are summed over sockets, per IPv4 and IPv6 table."""
        header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        (tree / "proc/net/udp").write_text(
            header
            + "   0: 00000000:0016 00000000:0000 07 00000015:00000100 00:00000000 00000000     0        0 2740\n"
            + "   1: 00000000:0017 00000000:0000 07 00000001:00000001 00:00000000 00000000     0        0 2741\n"
        )
        fam = collect("udp_queues", root=tree)["node_udp_queues"]
        assert {(s.labels["ip"], s.labels["queue"]): s.value for s in fam.samples} == {
            ("v4", "tx"): 0x16,
            ("v4", "rx"): 0x101,
        }


class TestCpuInfo:
    def test_off_by_default(self) -> None:
        """node_cpu_info needs --cpu.info, as in node_exporter."""
        assert "node_cpu_info" not in collect("cpu")

    def test_arm64_cpuinfo(self) -> None:
        """On arm64 the implementer, architecture, part and revision fill vendor, family, model and stepping."""
        fams = collect("cpu", "--cpu.info")
        info = {s.labels["cpu"]: s.labels for s in fams["node_cpu_info"].samples}
        assert set(info) == {"0", "1", "10"}
        assert (info["10"]["vendor"], info["10"]["family"], info["10"]["model"], info["10"]["stepping"]) == (
            "0x41",
            "8",
            "0xd87",
            "1",
        )
        assert info["0"]["package"] == "" and info["0"]["model_name"] == ""
        assert "node_cpu_flag_info" not in fams  # no include filter: no flag series

    def test_flag_filter(self) -> None:
        """--cpu.info.flags-include selects Features words of the first CPU."""
        fams = collect("cpu", "--cpu.info", "--cpu.info.flags-include=^(sve2?|bf16)$")
        assert sorted(s.labels["flag"] for s in fams["node_cpu_flag_info"].samples) == ["bf16", "sve", "sve2"]


class TestFallbacksAndFilters:
    def test_netdev_from_sysfs_without_proc_net_dev(self, tree: Path) -> None:
        """Without /proc/net/dev the counters come from sysfs statistics, summed as the kernel sums them."""
        (tree / "proc/net/dev").unlink()
        stats = tree / "sys/class/net/enp1s0f0np0/statistics"
        stats.mkdir(exist_ok=True)
        for name, value in {
            "rx_bytes": 1000,
            "tx_bytes": 2000,
            "rx_dropped": 3,
            "rx_missed_errors": 4,
            "rx_crc_errors": 5,
            "rx_frame_errors": 6,
        }.items():
            (stats / name).write_text(f"{value}\n")
        fams = collect("netdev", root=tree)
        assert values(fams["node_network_receive_bytes"], "device") == {"enp1s0f0np0": 1000}
        assert values(fams["node_network_transmit_bytes"], "device") == {"enp1s0f0np0": 2000}
        assert values(fams["node_network_receive_drop"], "device") == {"enp1s0f0np0": 7}
        assert values(fams["node_network_receive_frame"], "device") == {"enp1s0f0np0": 11}

    def test_filesystem_from_mountinfo_only(self, tree: Path) -> None:
        """A root with only proc/1/mountinfo (no mounts files) still lists its mounts."""
        (tree / "proc/1/mounts").unlink()
        (tree / "proc/1/mountinfo").write_text(
            "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
            "35 29 259:1 / /boot/efi rw,relatime shared:7 - vfat /dev/nvme0n1p1 rw,fmask=0077\n"
            "40 29 0:40 / /media/usb\\040stick ro,relatime - vfat /dev/sda1 ro\n"
        )
        fam = collect("filesystem", root=tree)["node_filesystem_readonly"]
        got = {s.labels["mountpoint"]: (s.labels["device"], s.labels["fstype"], s.value) for s in fam.samples}
        assert got["/"] == ("/dev/nvme0n1p2", "ext4", 0) and got["/media/usb stick"] == ("/dev/sda1", "vfat", 1)

    def test_uname_domainname_from_the_kernel(self, tree: Path) -> None:
        """uname reads the running kernel (as node_exporter's syscall does), not a file under --path.procfs."""
        (tree / "proc/sys/kernel/domainname").unlink(missing_ok=True)
        (sample,) = collect("uname", root=tree)["node_uname_info"].samples
        with open("/proc/sys/kernel/domainname") as fh:
            assert sample.labels["domainname"] == fh.read().strip()
        assert sample.labels["release"] == os.uname().release

    def test_hwmon_freq_sensor(self, tree: Path) -> None:
        """A labelled freq sensor gives node_hwmon_freq_freq_mhz with the cleaned label as sensor (Hz -> MHz)."""
        chip = tree / "sys/class/hwmon/hwmon0"
        (chip / "freq1_input").write_text("1500000000\n")
        (chip / "freq1_label").write_text("sclk\n")
        (chip / "freq2_input").write_text("800000000\n")  # no label: not served, as node_exporter
        fam = collect("hwmon", root=tree)["node_hwmon_freq_freq_mhz"]
        assert [(s.labels["sensor"], s.value) for s in fam.samples] == [("sclk", 1500.0)]

    def test_hwmon_chip_filters(self) -> None:
        """--hwmon.chip-include keeps only matching chips, --hwmon.chip-exclude drops them."""
        all_chips = {s.labels["chip"] for s in collect("hwmon")["node_hwmon_temp_celsius"].samples}
        kept = collect("hwmon", "--hwmon.chip-include=^nvme")["node_hwmon_temp_celsius"].samples
        assert {s.labels["chip"] for s in kept} == {c for c in all_chips if c.startswith("nvme")} != set()
        dropped = collect("hwmon", "--hwmon.chip-exclude=^nvme")["node_hwmon_temp_celsius"].samples
        assert {s.labels["chip"] for s in dropped} == {c for c in all_chips if not c.startswith("nvme")}

    def test_cpu_list_parsing(self) -> None:
        """A kernel cpulist expands ranges; an empty list is no CPU."""
        from spark_exporter.collectors.cpu import parse_cpu_list

        assert parse_cpu_list("1,3-5,9\n") == [1, 3, 4, 5, 9]
        assert parse_cpu_list("") == []
