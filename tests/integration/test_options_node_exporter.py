"""Collector options side by side with Debian's node_exporter 1.5.0, on node_exporter's own fixture trees or on
this machine's network links: the same flags keep the same devices (diskstats include), series (cpu guest) and
families (netdev detailed metrics, address info), and the flag pair node_exporter refuses is refused here too.

1.5.0 has ``--collector.diskstats.device-include`` but refuses it next to its non-empty default exclude, so the
comparison passes ``--collector.diskstats.device-exclude=`` as a 1.5.0 command line must; an include given alone
(which drops the default exclude, as node_exporter does since 1.6) is covered by tests/unit/test_collector_filters.py.
1.5.0 lacks the filesystem includes: their semantics (node_exporter HEAD's) are tested there too.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.host import FIXTURE
from helpers.procs import PYTHON, Proc, exporter, free_port, http_get, node_exporter, parse_metrics, require_binary
from spark_exporter.collectors.diskstats import parse_diskstats

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory, reference_file: Callable[[str], Path]) -> Path:
    root = tmp_path_factory.mktemp("ne-fixtures")
    with tarfile.open(reference_file("node-exporter-fixtures/fixtures.tar.gz")) as tar:
        tar.extractall(root, filter="tar")
    return root


def _paths(root: Path) -> tuple[str, ...]:
    return (f"--path.procfs={root}/proc", f"--path.sysfs={root}/sys", f"--path.udev.data={root}/udev/data",
            "--collector.disable-defaults", "--collector.diskstats", "--web.disable-exporter-metrics")


def _devices(proc: Proc) -> dict[str, set[str]]:
    """node_disk_* family -> the devices it has samples for."""
    status, body, _ = http_get(proc.url + "/metrics", timeout=20)
    assert status == 200, body[:300]
    return {name: {s.labels["device"] for s in fam.samples if "device" in s.labels}
            for name, fam in parse_metrics(body.decode()).items() if name.startswith("node_disk_")}


class TestDiskstatsIncludeLikeNodeExporter:
    @pytest.mark.parametrize("include", ["^(sd|mmc)", r"p\d+$", "^nvme0n1$"])
    def test_same_devices(self, trees: Path, include: str) -> None:
        """Every node_disk_* family both serve has the same devices, those the include matches anywhere."""
        flags = (*_paths(trees), "--collector.diskstats.device-exclude=",
                 f"--collector.diskstats.device-include={include}")
        with exporter(*flags) as ours_proc, node_exporter(*flags) as theirs_proc:
            ours, theirs = _devices(ours_proc), _devices(theirs_proc)
        all_devices = {dev for _, _, dev, _ in parse_diskstats((trees / "proc" / "diskstats").read_text())}
        want = {d for d in all_devices if re.search(include, d)}
        assert want and want != all_devices  # the filter keeps some and drops some
        assert ours["node_disk_reads_completed"] == want
        shared = set(ours) & set(theirs)
        assert {"node_disk_reads_completed", "node_disk_io_now", "node_disk_info"} <= shared
        assert {n: ours[n] for n in shared} == {n: theirs[n] for n in shared}


class TestCpuGuestLikeNodeExporter:
    @pytest.mark.parametrize("guest", [(), ("--collector.cpu.guest",), ("--no-collector.cpu.guest",)],
                             ids=["default", "on", "off"])
    def test_same_guest_series(self, trees: Path, guest: tuple[str, ...]) -> None:
        """Both serve node_cpu_guest_seconds_total for the same (cpu, mode) pairs, or both leave it out."""
        flags = (f"--path.procfs={trees}/proc", f"--path.sysfs={trees}/sys", "--collector.disable-defaults",
                 "--collector.cpu", "--web.disable-exporter-metrics", *guest)
        pairs = []
        for start in (exporter, node_exporter):
            with start(*flags) as proc:
                status, body, _ = http_get(proc.url + "/metrics", timeout=20)
            assert status == 200
            fams = parse_metrics(body.decode())
            assert "node_cpu_seconds" in fams
            fam = fams.get("node_cpu_guest_seconds")
            pairs.append({(s.labels["cpu"], s.labels["mode"]) for s in fam.samples} if fam else set())
        ours, theirs = pairs
        assert ours == theirs
        assert bool(ours) is (guest != ("--no-collector.cpu.guest",))


def _network(proc: Proc, with_values: bool = False) -> dict[str, set[tuple[object, ...]]]:
    """node_network_* family -> its samples' label sets (with each value, when asked)."""
    status, body, _ = http_get(proc.url + "/metrics", timeout=20)
    assert status == 200, body[:300]
    return {name: {(*sorted(s.labels.items()), *((s.value,) if with_values else ())) for s in fam.samples}
            for name, fam in parse_metrics(body.decode()).items() if name.startswith("node_network_")}


class TestNetdevOptionsLikeNodeExporter:
    @pytest.mark.parametrize("extra", [(), ("--collector.netdev.device-include=^lo$",)], ids=["all", "lo"])
    def test_detailed_metrics_and_address_info_over_netlink(self, extra: tuple[str, ...]) -> None:
        """This machine's links over netlink: the same detailed families for the same devices, and the same
        node_network_address_info label sets (device, address, netmask, scope)."""
        flags = ("--collector.disable-defaults", "--collector.netdev", "--collector.netdev.netlink",
                 "--collector.netdev.enable-detailed-metrics", "--collector.netdev.address-info",
                 "--web.disable-exporter-metrics", "--collector.netdev.device-exclude=", *extra)  # Debian's: ^lo$
        with exporter(*flags) as ours_proc, node_exporter(*flags) as theirs_proc:
            ours, theirs = _network(ours_proc), _network(theirs_proc)
        assert "node_network_receive_crc_errors" in ours and "node_network_receive_errs" not in ours
        assert ("node_network_address_info" in ours) and ours["node_network_address_info"]
        if extra:
            # 1.5.0 lists every device's addresses whatever the device filter; node_exporter applies the filter
            # since commit b644734d ("respect deviceFilter for node_network_address_info"), as ours does.
            theirs["node_network_address_info"] = {
                labels for labels in theirs["node_network_address_info"] if ("device", "lo") in labels}
        assert ours == theirs

    def test_detailed_metrics_from_proc_net_dev(self) -> None:
        """Our fixture tree's /proc/net/dev (node_exporter's trees have none), --no-collector.netdev.netlink: the
        same detailed families, devices and values (the file does not change); ours adds receive_nohandler from
        sysfs statistics, where node_exporter reads the file alone."""
        flags = (f"--path.procfs={FIXTURE}/proc", f"--path.sysfs={FIXTURE}/sys", "--collector.disable-defaults",
                 "--collector.netdev", "--no-collector.netdev.netlink", "--collector.netdev.enable-detailed-metrics",
                 "--web.disable-exporter-metrics", "--collector.netdev.device-exclude=")
        with exporter(*flags) as ours_proc, node_exporter(*flags) as theirs_proc:
            ours, theirs = _network(ours_proc, with_values=True), _network(theirs_proc, with_values=True)
        assert "node_network_receive_errors" in theirs
        ours.pop("node_network_receive_nohandler", None)
        assert ours == theirs


def test_include_with_exclude_is_refused_by_both(trees: Path) -> None:
    """device-include with a non-empty device-exclude: node_exporter does not start, ours exits 2 with one line."""
    flags = [*_paths(trees), "--collector.diskstats.device-include=^sd", "--collector.diskstats.device-exclude=^x"]
    binary = require_binary("prometheus-node-exporter")
    theirs = subprocess.run([binary, f"--web.listen-address=127.0.0.1:{free_port()}", *flags],
                            capture_output=True, text=True, timeout=30)
    assert theirs.returncode != 0 and "mutually exclusive" in theirs.stderr
    ours = subprocess.run([PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{free_port()}", *flags],
                          capture_output=True, text=True, timeout=60)
    assert ours.returncode == 2
    lines = ours.stderr.strip().splitlines()
    assert len(lines) == 1 and "mutually exclusive" in lines[0] and "Traceback" not in ours.stderr
