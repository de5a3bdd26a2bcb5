"""node_exporter's end-to-end test, as data: its command line and its expected output.

From prometheus/node_exporter's ``end-to-end-test.sh`` at commit a7dcc3a (2026-08-08), the x86_64 variant
(the captured cpuinfo is an x86 one). The expected output is ``tests/reference/node-exporter/e2e-output.txt.gz``.
"""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

EXPECTED_OUTPUT = Path(__file__).resolve().parents[1] / "reference" / "node-exporter" / "e2e-output.txt.gz"

# The script's ``enabled_collectors`` (each passed as --collector.NAME) and ``disabled_collectors``
# (--no-collector.NAME), as it lists them.
E2E_ENABLED = (
    "arp bcache bcachefs bonding btrfs buddyinfo cgroups conntrack cpu cpufreq cpu_vulnerabilities diskstats dmi "
    "drbd edac entropy fibrechannel filefd hwmon infiniband interrupts ipvs kernel_hung ksmd lnstat loadavg mdadm "
    "meminfo meminfo_numa mountstats netdev netstat nfs nfsd pcidevice pressure processes qdisc rapl schedstat "
    "slabinfo sockstat softirqs stat sysctl textfile thermal_zone udp_queues vmstat watchdog wifi xfrm xfs zfs "
    "zoneinfo"
).split()
E2E_DISABLED = ("selinux", "filesystem", "timex", "uname")

# The script's ``collector_flags``, verbatim.
E2E_COLLECTOR_FLAGS = (
    "--collector.cpu.info",
    "--collector.arp.device-exclude=nope",
    "--collector.bcache.priorityStats",
    "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
    "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
    "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)",
    "--collector.netclass.ignore-invalid-speed",
    "--collector.netclass.ignored-devices=(dmz|int)",
    "--collector.netdev.device-include=lo",
    "--collector.qdisc.device-include=(wlan0|eth0)",
    "--collector.qdisc.fixtures=collector/fixtures/qdisc/",
    "--collector.stat.softirq",
    "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
    "--collector.sysctl.include=fs.file-nr",
    "--collector.sysctl.include=fs.file-nr:total,current,max",
    "--collector.sysctl.include=kernel.threads-max",
    "--collector.textfile.directory=collector/fixtures/textfile/two_metric_files/",
    "--collector.wifi.fixtures=collector/fixtures/wifi",
    "--no-collector.arp.netlink",
)

# Series the script leaves out of its comparison (its skip_re).
SKIP_RE = re.compile(r"^(go_|node_exporter_build_info|node_scrape_collector_duration_seconds|process_|"
                     r"node_textfile_mtime_seconds|node_time_(zone|seconds)|"
                     r"node_network_(receive|transmit)_(bytes|packets)_total)")


#: Where the script's command line expects the fixture trees, relative to its working directory.
FIXTURES = Path("collector", "fixtures")


def e2e_argv() -> list[str]:
    """The script's node_exporter command line (without the listen address and log level): run it in a
    directory holding the trees (``proc``, ``sys``, ``udev``) under :data:`FIXTURES`."""
    return [
        "--path.rootfs=collector/fixtures",
        "--path.procfs=collector/fixtures/proc",
        "--path.sysfs=collector/fixtures/sys",
        "--path.udev.data=collector/fixtures/udev/data",
        *(f"--collector.{c}" for c in E2E_ENABLED),
        *(f"--no-collector.{c}" for c in E2E_DISABLED),
        *E2E_COLLECTOR_FLAGS,
    ]


@dataclass(frozen=True)
class Family:
    """One family of an exposition: type, HELP and series (name and labels -> value), SKIP_RE applied."""

    type: str
    help: str
    series: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)


def families(text: str) -> dict[str, Family]:
    """The families of an exposition text that keep a series after SKIP_RE."""
    out = {}
    for f in text_string_to_metric_families(text):
        series = {(s.name, frozenset(s.labels.items())): float(s.value) for s in f.samples if not SKIP_RE.match(s.name)}
        if series:
            out[f.name] = Family(f.type, f.documentation, series)
    return out


def expected() -> dict[str, Family]:
    """node_exporter's expected end-to-end output."""
    return families(gzip.decompress(EXPECTED_OUTPUT.read_bytes()).decode())


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def differences(want: Family, got: Family) -> list[str]:
    """Every way ``got`` differs from ``want``: type, HELP, a missing, extra or unequal series."""
    out = []
    if got.type != want.type:
        out.append(f"type {got.type}, expected {want.type}")
    if got.help != want.help:
        out.append(f"HELP {got.help!r}, expected {want.help!r}")
    for key, value in want.series.items():
        if key not in got.series:
            out.append(f"missing {key[0]}{dict(key[1])}")
        elif not _same(got.series[key], value):
            out.append(f"{key[0]}{dict(key[1])} = {got.series[key]!r}, expected {value!r}")
    out.extend(f"extra {key[0]}{dict(key[1])}" for key in got.series.keys() - want.series.keys())
    return out


def exact_series(want: Family, got: Family | None) -> int:
    """How many of ``want``'s series ``got`` has with the same name, labels and value."""
    if got is None:
        return 0
    return sum(1 for k, v in want.series.items() if k in got.series and _same(got.series[k], v))
