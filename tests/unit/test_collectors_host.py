"""Host collectors on the checked-in GB10-like fixture tree (tests/fixtures/host): names, labels, units."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from helpers.host import FIXTURE, collect, make, parsed, values
from helpers.procs import parse_metrics
from spark_exporter.collectors import filesystem as filesystem_mod
from spark_exporter.collectors import load_all
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.collectors.hwmon import chip_name, clean_name
from spark_exporter.collectors.meminfo import parse_meminfo
from spark_exporter.exporter.collection import Collection
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import ConfigError

HZ = float(os.sysconf("SC_CLK_TCK"))
CX7_PORTS = ("enp1s0f0np0", "enp1s0f1np1", "enP2p1s0f0np0", "enP2p1s0f1np1")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A writable copy of the fixture tree, symlinks kept."""
    dst = tmp_path / "host"
    shutil.copytree(FIXTURE, dst, symlinks=True)
    return dst


class TestCpu:
    def test_seconds_per_cpu_and_mode_in_user_hz(self) -> None:
        """Each CPU's ticks become node_cpu_seconds_total{cpu,mode}, divided by USER_HZ."""
        fam = collect("cpu")["node_cpu_seconds"]
        assert fam.type == "counter"
        got = {(s.labels["cpu"], s.labels["mode"]): s.value for s in fam.samples}
        assert got[("0", "user")] == 301245 / HZ
        assert got[("3", "idle")] == 11284665 / HZ
        assert got[("1", "softirq")] == 1733 / HZ
        assert {c for c, _ in got} == {"0", "1", "2", "3"}  # the aggregate "cpu" line is not a CPU
        assert {m for _, m in got} == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

    def test_guest_seconds(self) -> None:
        """guest and guest_nice columns become node_cpu_guest_seconds_total with modes user and nice."""
        fam = collect("cpu")["node_cpu_guest_seconds"]
        got = {(s.labels["cpu"], s.labels["mode"]): s.value for s in fam.samples}
        assert got[("0", "user")] == 1000 / HZ and got[("0", "nice")] == 20 / HZ

    def test_counter_never_goes_backwards(self, tree: Path) -> None:
        """An idle counter that steps back between reads is held at its previous value."""
        c = make("cpu", root=tree)
        first = parsed(c.collect())["node_cpu_seconds"]
        stat = tree / "proc" / "stat"
        stat.write_text(
            stat.read_text().replace("cpu0 301245 601 90211 11270001", "cpu0 301245 601 90211 11269990")
        )
        second = parsed(c.collect())["node_cpu_seconds"]
        idle = [
            {s.labels["cpu"]: s.value for s in f.samples if s.labels["mode"] == "idle"}
            for f in (first, second)
        ]
        assert idle[1]["0"] == idle[0]["0"] == 11270001 / HZ


class TestStat:
    def test_kernel_counters_and_gauges(self) -> None:
        """btime, ctxt, processes, intr and procs_* map to node_exporter's stat names and types."""
        fams = collect("stat")
        assert fams["node_boot_time_seconds"].samples[0].value == 1764320000
        assert fams["node_context_switches"].type == "counter"
        assert fams["node_context_switches"].samples[0].value == 391745221
        assert fams["node_forks"].samples[0].value == 1062771
        assert fams["node_intr"].samples[0].value == 197568127
        assert fams["node_procs_running"].type == "gauge" and fams["node_procs_running"].samples[0].value == 3
        assert fams["node_procs_blocked"].samples[0].value == 1


class TestMeminfo:
    def test_every_field_is_exported(self) -> None:
        """Each /proc/meminfo line gives exactly one node_memory_* gauge."""
        lines = [ln for ln in (FIXTURE / "proc" / "meminfo").read_text().splitlines() if ln.strip()]
        fams = collect("meminfo")
        assert len(fams) == len(lines)
        assert all(name.startswith("node_memory_") and f.type == "gauge" for name, f in fams.items())

    def test_kb_becomes_bytes_and_parentheses_become_underscores(self) -> None:
        """``Active(anon): N kB`` is node_memory_Active_anon_bytes = N * 1024."""
        fams = collect("meminfo")
        assert fams["node_memory_MemTotal_bytes"].samples[0].value == 128479236 * 1024
        assert fams["node_memory_Active_anon_bytes"].samples[0].value == 3012000 * 1024
        assert fams["node_memory_Inactive_file_bytes"].samples[0].value == 14123000 * 1024

    def test_unitless_fields_keep_their_name(self) -> None:
        """HugePages_* are page counts: no _bytes suffix, no scaling, as node_exporter does."""
        fams = collect("meminfo")
        assert fams["node_memory_HugePages_Total"].samples[0].value == 8
        assert fams["node_memory_HugePages_Free"].samples[0].value == 6
        assert "node_memory_HugePages_Total_bytes" not in fams
        assert fams["node_memory_Hugepagesize_bytes"].samples[0].value == 2048 * 1024

    def test_malformed_line_is_an_error(self) -> None:
        """A line with too many fields raises instead of exporting a wrong value."""
        with pytest.raises(ValueError, match="invalid line"):
            parse_meminfo("MemTotal: 1 kB extra\n")


class TestNetdev:
    def test_connectx7_ports_are_reported_by_name(self) -> None:
        """ConnectX-7 names like enp1s0f0np0 and enP2p1s0f1np1 appear as device labels; nothing is eth0."""
        fam = collect("netdev")["node_network_receive_bytes"]
        devices = {s.labels["device"] for s in fam.samples}
        assert set(CX7_PORTS) <= devices
        assert {"lo", "wlP9s9", "docker0"} <= devices  # no default exclusion, as upstream
        assert "eth0" not in devices

    def test_counter_that_touches_the_colon_parses(self) -> None:
        """A 12-digit counter written straight after ``name:`` is read whole."""
        fams = collect("netdev")
        assert values(fams["node_network_receive_bytes"], "device")["enp1s0f0np0"] == 912345678901
        assert values(fams["node_network_transmit_bytes"], "device")["enp1s0f0np0"] == 812345678901
        assert values(fams["node_network_receive_packets"], "device")["enP2p1s0f0np0"] == 98765

    def test_all_proc_net_dev_columns(self) -> None:
        """All 16 /proc/net/dev columns become *_total counters with the device label."""
        fams = collect("netdev")
        cols = {
            "receive_" + c
            for c in ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
        }
        cols |= {
            "transmit_" + c
            for c in ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
        }
        for col in cols:
            assert fams[f"node_network_{col}"].type == "counter", col
        one = {col: values(fams[f"node_network_{col}"], "device")["enp1s0f0np0"] for col in cols}
        assert (one["receive_errs"], one["receive_drop"], one["receive_fifo"], one["receive_frame"]) == (
            1,
            2,
            3,
            4,
        )
        assert one["receive_multicast"] == 12345 and one["transmit_carrier"] == 8

    def test_nohandler_only_where_sysfs_has_it(self) -> None:
        """receive_nohandler comes from sysfs statistics and is absent (not 0) for devices without it."""
        fam = collect("netdev")["node_network_receive_nohandler"]
        assert set(values(fam, "device")) == {"lo", "enp1s0f0np0"}

    def test_device_exclude(self) -> None:
        """--netdev.device-exclude drops matching devices."""
        fam = collect("netdev", "--netdev.device-exclude=^(lo|docker.*)$")["node_network_receive_bytes"]
        devices = {s.labels["device"] for s in fam.samples}
        assert "lo" not in devices and "docker0" not in devices and "enP2p1s0f1np1" in devices


class TestNetclass:
    def test_up_follows_operstate(self) -> None:
        """node_network_up is 1 only for operstate "up"; lo ("unknown") is 0; bonding_masters is no device."""
        up = values(collect("netclass")["node_network_up"], "device")
        assert up == {"enp1s0f0np0": 1.0, "enP2p1s0f1np1": 0.0, "lo": 0.0}

    def test_info_labels(self) -> None:
        """node_network_info carries current node_exporter's label set; unreadable text attributes are empty."""
        fam = collect("netclass")["node_network_info"]
        by_dev = {s.labels["device"]: s.labels for s in fam.samples}
        assert set(by_dev["enp1s0f0np0"]) == {
            "device",
            "address",
            "broadcast",
            "duplex",
            "ifalias",
            "operstate",
            "adminstate",
        }
        assert (
            by_dev["enp1s0f0np0"]["duplex"] == "full"
            and by_dev["enp1s0f0np0"]["address"] == "4c:bb:47:00:10:01"
        )
        assert by_dev["enP2p1s0f1np1"]["operstate"] == "down" and by_dev["enP2p1s0f1np1"]["duplex"] == ""

    def test_adminstate_follows_iff_up(self) -> None:
        """adminstate is "up" when the IFF_UP bit of flags is set (0x1003) and "down" when not (0x1002)."""
        fam = collect("netclass")["node_network_info"]
        admin = {s.labels["device"]: s.labels["adminstate"] for s in fam.samples}
        assert admin == {"enp1s0f0np0": "up", "enP2p1s0f1np1": "down", "lo": "up"}

    def test_invalid_speed_is_left_out(self, tree: Path) -> None:
        """A link speed of -1 gives no speed series by default, and -125000 only when asked for."""
        (tree / "sys/class/net/lo/speed").write_text("-1\n")
        speeds = values(collect("netclass", root=tree)["node_network_speed_bytes"], "device")
        assert "lo" not in speeds and speeds["enp1s0f0np0"] == 200000 * 125000
        passed = collect("netclass", "--no-netclass.ignore-invalid-speed", root=tree)["node_network_speed_bytes"]
        assert values(passed, "device")["lo"] == -125000

    def test_numeric_attributes(self) -> None:
        """mtu, speed (Mbit/s to bytes/s), hex flags and carrier counters are parsed as node_exporter does."""
        fams = collect("netclass")
        assert values(fams["node_network_mtu_bytes"], "device")["enp1s0f0np0"] == 9000
        assert values(fams["node_network_speed_bytes"], "device") == {"enp1s0f0np0": 200000 * 125000}
        assert values(fams["node_network_flags"], "device")["enp1s0f0np0"] == 0x1003
        assert values(fams["node_network_protocol_type"], "device")["lo"] == 772
        assert fams["node_network_carrier_changes"].type == "counter"
        assert values(fams["node_network_carrier_up_changes"], "device")["enp1s0f0np0"] == 1

    def test_unreadable_attribute_is_left_out(self) -> None:
        """A down port without carrier/speed has no such series rather than a 0."""
        fams = collect("netclass")
        assert "enP2p1s0f1np1" not in values(fams["node_network_carrier"], "device")
        assert "enP2p1s0f1np1" not in values(fams["node_network_speed_bytes"], "device")

    def test_ignored_devices(self) -> None:
        """--netclass.ignored-devices drops matching interfaces from every netclass family."""
        up = values(collect("netclass", "--netclass.ignored-devices=^lo$")["node_network_up"], "device")
        assert set(up) == {"enp1s0f0np0", "enP2p1s0f1np1"}


class TestDiskstats:
    def test_partitions_and_pseudo_devices_are_excluded(self) -> None:
        """nvme0n1p1, sda1 and loop0 are dropped by the default exclude; whole disks and dm-0 stay."""
        fam = collect("diskstats")["node_disk_reads_completed"]
        assert set(values(fam, "device")) == {"nvme0n1", "sda", "dm-0"}

    def test_units(self) -> None:
        """Sectors are 512 bytes and times are milliseconds, whatever the device."""
        fams = collect("diskstats")
        assert values(fams["node_disk_read_bytes"], "device")["nvme0n1"] == 98765432 * 512
        assert values(fams["node_disk_written_bytes"], "device")["sda"] == 48000 * 512
        assert values(fams["node_disk_read_time_seconds"], "device")["nvme0n1"] == 456789 * 0.001
        assert values(fams["node_disk_io_time_seconds"], "device")["nvme0n1"] == 1234567 * 0.001
        assert values(fams["node_disk_io_now"], "device")["nvme0n1"] == 2
        assert fams["node_disk_io_now"].type == "gauge"

    def test_discard_and_flush_only_when_the_kernel_writes_them(self) -> None:
        """A device line with 11 stat columns has no discard or flush series."""
        fams = collect("diskstats")
        assert set(values(fams["node_disk_discards_completed"], "device")) == {"nvme0n1", "dm-0"}
        assert values(fams["node_disk_flush_requests"], "device")["nvme0n1"] == 678901
        assert "sda" not in values(fams["node_disk_flush_requests"], "device")

    def test_info_from_udev(self) -> None:
        """node_disk_info takes model, serial, wwn, path and revision from the udev database."""
        fam = collect("diskstats")["node_disk_info"]
        by_dev = {s.labels["device"]: s.labels for s in fam.samples}
        assert by_dev["nvme0n1"]["model"] == "Samsung SSD 990 PRO 4TB"
        assert by_dev["nvme0n1"]["serial"] == "S7DNNJ0X123456A"
        assert by_dev["nvme0n1"]["major"] == "259" and by_dev["nvme0n1"]["minor"] == "0"
        assert by_dev["sda"]["serial"] == "WD-WCC7K0123456"  # SCSI_IDENT_SERIAL wins over ID_SERIAL_SHORT
        assert by_dev["dm-0"]["model"] == ""  # no udev fields: empty labels, as node_exporter

    def test_udev_filesystem_mapper_and_ata(self) -> None:
        """udev properties give filesystem_info, device_mapper_info and ATA gauges where present."""
        fams = collect("diskstats")
        fs = fams["node_disk_filesystem_info"].samples
        assert [(s.labels["device"], s.labels["type"]) for s in fs] == [("dm-0", "ext4")]
        assert fams["node_disk_device_mapper_info"].samples[0].labels["vg_name"] == "vg0"
        assert values(fams["node_disk_ata_rotation_rate_rpm"], "device") == {"sda": 7200}
        assert values(fams["node_disk_ata_write_cache_enabled"], "device") == {"sda": 0}

    def test_custom_exclude(self) -> None:
        """--diskstats.device-exclude replaces the default."""
        fam = collect("diskstats", "--diskstats.device-exclude=^(sd|dm-)")["node_disk_reads_completed"]
        assert set(values(fam, "device")) == {"nvme0n1", "nvme0n1p1", "nvme0n1p2", "loop0"}


def _by_mount(fam: Metric) -> dict[str, float]:
    return {s.labels["mountpoint"]: s.value for s in fam.samples}


class TestFilesystem:
    def test_default_exclusions(self) -> None:
        """/proc, /sys, /dev, /run/credentials, docker overlays, cgroup, squashfs are out; /run is in."""
        fam = collect("filesystem")["node_filesystem_device_error"]
        assert set(_by_mount(fam)) == {"/", "/run", "/boot/efi", "/data", "/media/usb stick", "/mnt/nas"}

    def test_labels_and_sizes_from_statvfs(self) -> None:
        """Size, free, avail and inodes come from statvfs of <rootfs>/<mountpoint>, with f_bsize units."""
        fams = collect("filesystem")
        st = os.statvfs(FIXTURE / "rootfs" / "data")
        sample = next(
            s for s in fams["node_filesystem_size_bytes"].samples if s.labels["mountpoint"] == "/data"
        )
        assert sample.labels == {"device": "/dev/mapper/vg0-data", "fstype": "ext4", "mountpoint": "/data"}
        assert sample.value == st.f_blocks * st.f_bsize
        assert _by_mount(fams["node_filesystem_files"])["/data"] == st.f_files

    def test_readonly_from_mount_options(self) -> None:
        """A mount with the ro option has node_filesystem_readonly 1."""
        ro = _by_mount(collect("filesystem")["node_filesystem_readonly"])
        assert ro["/boot/efi"] == 1 and ro["/"] == 0

    def test_duplicate_mount_is_reported_once(self) -> None:
        """The same device, fstype and mount point listed twice gives one series."""
        fam = collect("filesystem")["node_filesystem_size_bytes"]
        assert [s.labels["mountpoint"] for s in fam.samples].count("/") == 1

    def test_unstatable_mount_is_a_device_error(self) -> None:
        """A mount point that cannot be stat'ed has device_error 1 and no size series (not 0)."""
        fams = collect("filesystem")
        assert _by_mount(fams["node_filesystem_device_error"])["/mnt/nas"] == 1
        assert "/mnt/nas" not in _by_mount(fams["node_filesystem_size_bytes"])

    def test_rootfs_prefix_is_stripped(self) -> None:
        """With --path.rootfs=/host, a mount at /host/data is reported as /data."""
        mounts = filesystem_mod.parse_mounts(
            "/dev/sda1 /host/data ext4 rw 0 0\n/dev/sda2 /host ext4 rw 0 0\n", "/host"
        )
        assert [m.mountpoint for m in mounts] == ["/data", "/"]

    def test_hung_statvfs_does_not_hold_other_mounts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A statvfs that hangs marks its mount stuck (device_error 1) and is not called again while hung."""
        release = threading.Event()
        calls: list[str] = []
        real = os.statvfs

        def fake(path: str | os.PathLike[str]) -> os.statvfs_result:
            calls.append(str(path))
            if str(path).endswith("/data"):
                release.wait(10)
            return real(path)

        monkeypatch.setattr(filesystem_mod.os, "statvfs", fake)
        c = make("filesystem", "--filesystem.mount-timeout=200ms")
        try:
            first = parsed(c.collect())
            assert _by_mount(first["node_filesystem_device_error"])["/data"] == 1
            second = parsed(c.collect())
            assert _by_mount(second["node_filesystem_device_error"])["/data"] == 1
            assert _by_mount(second["node_filesystem_device_error"])["/media/usb stick"] == 0
            assert sum(p.endswith("/data") for p in calls) == 1
        finally:
            release.set()


class TestHwmon:
    def test_chip_label_rules(self) -> None:
        """chip is <parent>_<device> from the device link, else the name file, else hwmonN."""
        fam = collect("hwmon")["node_hwmon_temp_celsius"]
        chips = {s.labels["chip"] for s in fam.samples}
        assert chips == {
            "thermal_thermal_zone0",
            "nvme_nvme0",
            "0002:00:00_0_0002:01:00_0",
            "hwmon4",
            "platform_coretemp_0",
        }
        assert chip_name(str(FIXTURE / "sys" / "class" / "hwmon" / "hwmon3")) == "acpi_fan"

    def test_clean_name(self) -> None:
        """Names are lower-cased and reduced to [a-z0-9:_] with outer underscores trimmed."""
        assert clean_name("Platform.CoreTemp.0\n") == "platform_coretemp_0"
        assert clean_name("0000:00:01.1") == "0000:00:01_1"

    def test_chip_names_and_sensor_labels(self) -> None:
        """node_hwmon_chip_names maps chip to the name file; sensor labels keep their original text."""
        fams = collect("hwmon")
        names = {s.labels["chip"]: s.labels["chip_name"] for s in fams["node_hwmon_chip_names"].samples}
        assert names["0002:00:00_0_0002:01:00_0"] == "mlx5" and names["nvme_nvme0"] == "nvme"
        assert "hwmon4" not in names
        labels = {
            (s.labels["chip"], s.labels["sensor"]): s.labels["label"]
            for s in fams["node_hwmon_sensor_label"].samples
        }
        assert labels[("platform_coretemp_0", "temp1")] == "Package id 0"
        assert labels[("nvme_nvme0", "temp2")] == "Sensor 1"

    def test_units(self) -> None:
        """Millidegrees, millivolts, milliamps, microwatts and microjoules are scaled to SI units."""
        fams = collect("hwmon")
        temps = {
            (s.labels["chip"], s.labels["sensor"]): s.value for s in fams["node_hwmon_temp_celsius"].samples
        }
        assert temps[("nvme_nvme0", "temp1")] == 38.85
        assert {s.labels["chip"]: s.value for s in fams["node_hwmon_temp_crit_celsius"].samples}[
            "0002:00:00_0_0002:01:00_0"
        ] == 105.0
        assert fams["node_hwmon_fan_rpm"].samples[0].value == 2400
        assert fams["node_hwmon_in_volts"].samples[0].value == 12.0
        assert fams["node_hwmon_curr_amps"].samples[0].value == 1.5
        assert fams["node_hwmon_power_watt"].samples[0].value == 45.0
        assert fams["node_hwmon_energy_joule"].type == "counter"
        assert fams["node_hwmon_energy_joule"].samples[0].value == pytest.approx(123.456789)

    def test_crit_alarm_is_named_like_node_exporter(self) -> None:
        """temp1_crit_alarm is exported as node_hwmon_temp_crit_alarm_celsius, node_exporter's name for it."""
        fams = collect("hwmon")
        assert {s.labels["chip"] for s in fams["node_hwmon_temp_crit_alarm_celsius"].samples} == {
            "platform_coretemp_0"
        }
        assert "node_hwmon_temp_crit_alarm" not in fams

    def test_no_hwmon_directory(self, tree: Path) -> None:
        """A machine without /sys/class/hwmon gets no series and no error."""
        shutil.rmtree(tree / "sys" / "class" / "hwmon")
        assert collect("hwmon", root=tree) == {}


class TestPressure:
    def test_microseconds_to_seconds(self) -> None:
        """PSI totals (microseconds) become *_seconds_total counters; cpu has no stalled family."""
        fams = collect("pressure")
        assert fams["node_pressure_cpu_waiting_seconds"].samples[0].value == pytest.approx(123.456789)
        assert fams["node_pressure_io_stalled_seconds"].samples[0].value == pytest.approx(1.234567)
        assert fams["node_pressure_memory_waiting_seconds"].type == "counter"
        assert "node_pressure_cpu_stalled_seconds" not in fams

    def test_kernel_cpu_full_line_is_ignored(self, tree: Path) -> None:
        """Newer kernels write a "full" line for cpu too; node_exporter 1.5 does not export it, nor do we."""
        (tree / "proc" / "pressure" / "cpu").write_text(
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n"
        )
        assert "node_pressure_cpu_stalled_seconds" not in collect("pressure", root=tree)

    def test_no_psi(self, tree: Path) -> None:
        """Without /proc/pressure the collector emits nothing and does not fail."""
        shutil.rmtree(tree / "proc" / "pressure")
        assert collect("pressure", root=tree) == {}


class TestUnameAndTime:
    def test_uname_labels(self) -> None:
        """node_uname_info carries the uname(2) fields and the domainname from procfs."""
        labels = collect("uname")["node_uname_info"].samples[0].labels
        u = os.uname()
        assert labels == {
            "domainname": "(none)",
            "machine": u.machine,
            "nodename": u.nodename,
            "release": u.release,
            "sysname": u.sysname,
            "version": u.version,
        }

    def test_time_and_clocksource(self) -> None:
        """node_time_seconds is the wall clock at collection; clocksources come from sysfs."""
        before = time.time()
        fams = collect("time")
        after = time.time()
        assert before <= fams["node_time_seconds"].samples[0].value <= after
        zone = fams["node_time_zone_offset_seconds"].samples[0]
        assert zone.labels["time_zone"] == time.localtime().tm_zone
        assert [s.labels for s in fams["node_time_clocksource_current_info"].samples] == [
            {"clocksource": "arch_sys_counter", "device": "0"}
        ]


class TestConfig:
    def test_bad_regex_is_a_config_error(self) -> None:
        """An invalid exclude regexp is refused at start-up with the flag named."""
        with pytest.raises(ConfigError, match="diskstats.device-exclude"):
            load_config(["--diskstats.device-exclude=(unclosed"])


class _Broken(Collector):
    name = "broken"

    def collect(self) -> Iterable[Metric]:
        raise OSError("simulated: /proc vanished")


class TestFailureIsolation:
    def test_raising_collector_scores_zero_others_served(self) -> None:
        """A collector that raises gets success=0 and no series; the other collectors' series are served."""
        cfg = load_config([f"--path.procfs={FIXTURE}/proc"])
        paths = Paths.from_config(cfg)
        loop = Collection([load_all()["meminfo"](cfg, paths), _Broken(cfg, paths)], timeout=5.0)
        fams = parse_metrics(loop.collect_once().body.decode())
        success = values(fams["spark_exporter_collector_success"], "collector")
        assert success == {"meminfo": 1.0, "broken": 0.0}
        assert fams["node_memory_MemTotal_bytes"].samples[0].value == 128479236 * 1024

