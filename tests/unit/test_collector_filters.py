"""node_exporter's include/exclude filters of the filesystem, diskstats, hwmon and infiniband collectors, and
--collector.cpu.guest, on the fixture tree.

Semantics from node_exporter HEAD (collector/filesystem_common.go, diskstats_common.go, device_filter.go): a name
is left out when it matches the exclude or an include is set and it does not match it; an include given alone
drops the default exclude; an include with an exclude given too is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from helpers.host import collect, values
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import ConfigError

# Mounts of tests/fixtures/host/proc/1/mounts left by the default excludes.
DEFAULT_MOUNTS = {"/", "/run", "/boot/efi", "/data", "/media/usb stick", "/mnt/nas"}


def _labels(fams: dict[str, Metric], label: str) -> set[str]:
    fam = fams.get("node_filesystem_device_error")
    return {s.labels[label] for s in fam.samples} if fam is not None else set()


def _mounts(fams: dict[str, Metric]) -> set[str]:
    return _labels(fams, "mountpoint")


def _fstypes(fams: dict[str, Metric]) -> set[str]:
    return _labels(fams, "fstype")


class TestFilesystemInclude:
    def test_mount_points_include_alone_drops_the_default_exclude(self) -> None:
        """An include given alone keeps what it matches under /dev too (the default mount-point exclude)."""
        fams = collect("filesystem", "--collector.filesystem.mount-points-include=^/(dev/shm|data)$")
        assert _mounts(fams) == {"/dev/shm", "/data"}

    def test_mount_points_include_still_meets_the_fstype_exclude(self) -> None:
        """The default fs-types-exclude still applies: /dev (devtmpfs) stays out, /dev/shm (tmpfs) is in."""
        fams = collect("filesystem", "--collector.filesystem.mount-points-include=^/(dev|sys)")
        assert _mounts(fams) == {"/dev/shm"}  # /sys sysfs, /sys/fs/cgroup cgroup2, /dev devtmpfs: excluded types

    def test_fs_types_include_alone(self) -> None:
        """fs-types-include keeps only matching types; the default mount-point exclude still applies."""
        fams = collect("filesystem", "--collector.filesystem.fs-types-include=^(ext4|proc)$")
        assert _fstypes(fams) == {"ext4"}  # proc is mounted on /proc, which the mount-point default excludes
        assert _mounts(fams) == {"/", "/data"}

    def test_both_includes(self) -> None:
        """Both includes given: a mount must match both."""
        fams = collect("filesystem", "--collector.filesystem.fs-types-include=^(vfat|proc)$",
                       "--collector.filesystem.mount-points-include=^/(proc|boot/efi|data)$")
        assert _mounts(fams) == {"/proc", "/boot/efi"}

    def test_empty_include_changes_nothing(self) -> None:
        """An empty include is no filter, and the default excludes hold."""
        fams = collect("filesystem", "--collector.filesystem.mount-points-include=",
                       "--collector.filesystem.fs-types-include=")
        assert _mounts(fams) == DEFAULT_MOUNTS

    def test_include_with_an_explicitly_empty_exclude(self) -> None:
        """An exclude given as empty does not conflict with an include."""
        fams = collect("filesystem", "--collector.filesystem.mount-points-exclude=",
                       "--collector.filesystem.mount-points-include=^/data$")
        assert _mounts(fams) == {"/data"}

    @pytest.mark.parametrize("kind", ["mount-points", "fs-types"])
    def test_include_and_given_exclude_are_refused(self, kind: str) -> None:
        """Include and exclude both given (non-empty) is one configuration error naming both flags."""
        with pytest.raises(ConfigError, match=f"--collector.filesystem.{kind}-include and "
                                              f"--collector.filesystem.{kind}-exclude are mutually exclusive"):
            load_config([f"--collector.filesystem.{kind}-include=x", f"--collector.filesystem.{kind}-exclude=y"])

    def test_include_and_deprecated_exclude_are_refused(self) -> None:
        """node_exporter's old spelling of the exclude counts as given."""
        with pytest.raises(ConfigError, match="mutually exclusive"):
            load_config(["--collector.filesystem.mount-points-include=x",
                         "--collector.filesystem.ignored-mount-points=y"])

    def test_exclude_from_the_environment_conflicts_too(self) -> None:
        """An exclude given in the environment is given: with an include flag it is refused."""
        with pytest.raises(ConfigError, match="SPARK_EXPORTER_COLLECTOR_FILESYSTEM_FS_TYPES_EXCLUDE"):
            load_config(["--collector.filesystem.fs-types-include=x"],
                        environ={"SPARK_EXPORTER_COLLECTOR_FILESYSTEM_FS_TYPES_EXCLUDE": "y"})

    def test_check_config_shows_the_dropped_default(self) -> None:
        """--check-config's lines show the default exclude emptied, and why."""
        cfg = load_config(["--collector.filesystem.mount-points-include=^/data$"])
        assert cfg["collector.filesystem.mount-points-exclude"] == ""
        line = next(x for x in cfg.describe() if x.startswith("collector.filesystem.mount-points-exclude="))
        assert line == ("collector.filesystem.mount-points-exclude=none  # default, dropped as "
                        "--collector.filesystem.mount-points-include is given")
        assert cfg["collector.filesystem.fs-types-exclude"]  # the other pair keeps its default

    def test_file_keys(self, tmp_path: Path) -> None:
        """The include is a config-file key like every collector option."""
        f = tmp_path / "c.yml"
        f.write_text("collector:\n  filesystem:\n    mount-points-include: '^/boot'\n")
        cfg = load_config([f"--config.file={f}"])
        assert cfg["collector.filesystem.mount-points-include"] == "^/boot"
        assert cfg["collector.filesystem.mount-points-exclude"] == ""


class TestDiskstatsInclude:
    def test_include_alone_drops_the_default_exclude(self) -> None:
        """device-include keeps what it matches, partitions included (the default exclude is dropped)."""
        fam = collect("diskstats", "--collector.diskstats.device-include=^(nvme|loop)")["node_disk_reads_completed"]
        assert set(values(fam, "device")) == {"nvme0n1", "nvme0n1p1", "nvme0n1p2", "loop0"}

    def test_include_filters_every_family(self) -> None:
        """No family keeps a device the include leaves out."""
        fams = collect("diskstats", "--collector.diskstats.device-include=^sda$")
        devices = {s.labels["device"] for f in fams.values() for s in f.samples if "device" in s.labels}
        assert devices == {"sda"}

    def test_include_and_given_exclude_are_refused(self) -> None:
        """Both given non-empty is one configuration error, old spelling of the exclude included."""
        for exclude in ("--collector.diskstats.device-exclude=^x", "--collector.diskstats.ignored-devices=^x"):
            with pytest.raises(ConfigError, match="mutually exclusive"):
                load_config(["--collector.diskstats.device-include=^sd", exclude])


def _sensors(fams: dict[str, Metric]) -> set[tuple[str, str]]:
    """(chip, sensor) of every node_hwmon_* sample but node_hwmon_chip_names."""
    return {(s.labels["chip"], s.labels["sensor"]) for name, f in fams.items() if name != "node_hwmon_chip_names"
            for s in f.samples}


class TestHwmonSensorFilters:
    """node_exporter HEAD (collector/hwmon_linux.go) matches both against ``CHIP;SENSOR``."""

    def test_exclude_one_sensor_of_one_chip(self) -> None:
        """``nvme_nvme0;temp2`` drops that sensor from every family and keeps nvme_nvme0's temp1."""
        every = _sensors(collect("hwmon"))
        fams = collect("hwmon", "--collector.hwmon.sensor-exclude=^nvme_nvme0;temp2$")
        assert ("nvme_nvme0", "temp2") in every
        assert _sensors(fams) == every - {("nvme_nvme0", "temp2")}

    def test_include_keeps_only_matching_sensors(self) -> None:
        """An include keeps the sensors whose CHIP;SENSOR it matches; chip_names still names every chip."""
        fams = collect("hwmon", "--collector.hwmon.sensor-include=^acpi_fan;(fan|pwm)")
        assert _sensors(fams) == {("acpi_fan", "fan1"), ("acpi_fan", "pwm1")}
        assert values(fams["node_hwmon_chip_names"], "chip") == values(
            collect("hwmon")["node_hwmon_chip_names"], "chip")

    def test_match_is_a_search(self) -> None:
        """Unanchored, as Go's MatchString: ``;temp`` drops every temperature sensor of every chip."""
        fams = collect("hwmon", "--collector.hwmon.sensor-exclude=;temp")
        assert not any(name.startswith("node_hwmon_temp") for name in fams)
        assert ("acpi_fan", "fan1") in _sensors(fams)

    def test_with_the_chip_filter(self) -> None:
        """Chip and sensor filters both apply: a sensor must pass both."""
        fams = collect("hwmon", "--collector.hwmon.chip-include=^nvme", "--collector.hwmon.sensor-exclude=temp1$")
        assert _sensors(fams) == {("nvme_nvme0", "temp2")}

    def test_include_and_exclude_together(self) -> None:
        """node_exporter takes both sensor filters together (it does not refuse them): excluded, or not included."""
        fams = collect("hwmon", "--collector.hwmon.sensor-include=^nvme_nvme0;",
                       "--collector.hwmon.sensor-exclude=temp1")
        assert _sensors(fams) == {("nvme_nvme0", "temp2")}


def _ib_devices(fams: dict[str, Metric]) -> set[str]:
    return {s.labels["device"] for f in fams.values() for s in f.samples}


class TestInfinibandDeviceFilters:
    """node_exporter HEAD (collector/infiniband_linux.go): a deviceFilter on the device name; both may be given."""

    def test_every_device_by_default(self) -> None:
        """Without filters the fixture's four RDMA devices are served."""
        assert _ib_devices(collect("infiniband")) == {"roceP2p1s0f0", "roceP2p1s0f1", "rocep1s0f0", "rocep1s0f1"}

    def test_include(self) -> None:
        """An include keeps the devices it matches anywhere in the name, in every family."""
        fams = collect("infiniband", "--collector.infiniband.device-include=s0f0$")
        assert _ib_devices(fams) == {"roceP2p1s0f0", "rocep1s0f0"}
        assert values(fams["node_infiniband_info"], "device").keys() == {"roceP2p1s0f0", "rocep1s0f0"}

    def test_exclude(self) -> None:
        """An exclude drops the devices it matches."""
        fams = collect("infiniband", "--collector.infiniband.device-exclude=^roceP2")
        assert _ib_devices(fams) == {"rocep1s0f0", "rocep1s0f1"}

    def test_both(self) -> None:
        """Both given: kept when included and not excluded (node_exporter does not refuse the pair)."""
        fams = collect("infiniband", "--collector.infiniband.device-include=^rocep",
                       "--collector.infiniband.device-exclude=f1$")
        assert _ib_devices(fams) == {"rocep1s0f0"}

    def test_everything_filtered_out(self) -> None:
        """No device left: no families at all, not an empty info family."""
        assert collect("infiniband", "--collector.infiniband.device-include=^mlx") == {}


class TestCpuGuest:
    def test_on_by_default(self) -> None:
        """node_cpu_guest_seconds_total is served by default, as node_exporter's --collector.cpu.guest default."""
        fams = collect("cpu")
        assert {s.labels["mode"] for s in fams["node_cpu_guest_seconds"].samples} == {"user", "nice"}

    def test_off(self) -> None:
        """--no-collector.cpu.guest leaves the family out and node_cpu_seconds_total as it is."""
        on, off = collect("cpu"), collect("cpu", "--no-collector.cpu.guest")
        assert "node_cpu_guest_seconds" not in off
        assert off["node_cpu_seconds"].samples == on["node_cpu_seconds"].samples

    def test_environment(self) -> None:
        """The setting follows the project's environment rule like every collector option."""
        cfg = load_config([], environ={"SPARK_EXPORTER_COLLECTOR_CPU_GUEST": "false"})
        assert cfg["collector.cpu.guest"] is False


class TestNoLongerIgnored:
    @pytest.mark.parametrize("flag", [
        "--collector.filesystem.mount-points-include=^/data$",
        "--collector.filesystem.fs-types-include=^ext4$",
        "--collector.diskstats.device-include=^sd",
        "--collector.hwmon.sensor-include=^acpi_fan;fan1$",
        "--collector.hwmon.sensor-exclude=;temp",
        "--collector.infiniband.device-include=^roce",
        "--collector.infiniband.device-exclude=^mlx",
        "--no-collector.cpu.guest",
    ])
    def test_no_ignored_warning(self, flag: str) -> None:
        """The flag is implemented: it sets its setting and gives no "flag ignored" warning."""
        cfg = load_config([flag])
        if flag.startswith("--no-"):
            assert cfg[flag.removeprefix("--no-")] is False
        else:
            key, value = flag.removeprefix("--").split("=", 1)
            assert cfg[key] == value
        assert not [w for w in cfg.warnings if "ignored" in w]
