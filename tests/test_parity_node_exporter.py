"""Parity with the real node_exporter: both exporters on this machine, compared family by family over HTTP.

Debian's ``prometheus-node-exporter`` 1.5 runs with only the collectors we implement and with upstream's
default exclusions (Debian patches its defaults: it drops ``lo`` from netdev and ``/run``, ``/mnt``,
``/media`` from filesystem). Our exporter runs with its own defaults, so a default that drifts from
upstream's shows up as a label-set mismatch.

The scrapes are ordered node_exporter, ours, node_exporter, and ours is only taken once its collection
cycle started after the first node_exporter scrape ended. A counter of ours must therefore lie between
the two node_exporter readings: that is exactly "what the time between the scrapes allows".
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from procs import Proc, exporter, http_get, node_exporter, wait_for

# The node_exporter collectors this project implements (all of them; see docs/host-collectors.md).
COLLECTORS = (
    "cpu",
    "meminfo",
    "netdev",
    "netclass",
    "diskstats",
    "filesystem",
    "hwmon",
    "loadavg",
    "uname",
    "stat",
    "time",
    "pressure",
)

# Upstream node_exporter 1.5.0's defaults, written out here on purpose: our collectors are not told
# them, so the comparison checks that our defaults equal upstream's.
UPSTREAM_FLAGS = (
    "--collector.filesystem.mount-points-exclude="
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "--collector.filesystem.fs-types-exclude="
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|"
    r"overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
    "--collector.netdev.device-exclude=",
    r"--collector.diskstats.device-exclude=^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",
)

# Families node_exporter's collectors above can emit that we do not. Each is absent on GB10 anyway.
KNOWN_GAPS = frozenset(
    {
        "node_cpu_core_throttles",  # x86 thermal_throttle sysfs; GB10 is aarch64
        "node_cpu_package_throttles",  # same
        "node_cpu_isolated",  # only with isolcpus= on the kernel command line
    }
)

# Self-metrics and runtime families of either exporter: not host series.
_SKIP_PREFIXES = (
    "go_",
    "process_",
    "promhttp_",
    "python_",
    "spark_exporter_",
    "node_scrape_",
    "node_exporter_build_info",
    "node_textfile_",
)

# Gauges whose value is fixed while the machine runs: ours must equal node_exporter's exactly.
# An entry ending in "_" is a prefix; any other entry is one family name.
EXACT_GAUGES = (
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_HugePages_Total",
    "node_memory_Hugepagesize_bytes",
    "node_memory_VmallocTotal_bytes",
    "node_boot_time_seconds",
    "node_network_",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_filesystem_device_error",
    "node_time_zone_offset_seconds",
    "node_time_clocksource_",
    "node_uname_info",
    "node_disk_info",
    "node_disk_filesystem_info",
    "node_disk_device_mapper_info",
    "node_disk_ata_",
    "node_hwmon_chip_names",
    "node_hwmon_sensor_label",
)


@dataclass(frozen=True)
class Band:
    """Allowed deviation beyond the [min, max] of the two node_exporter readings, in the metric's unit."""

    absolute: float = 0.0
    relative_to: str | None = None  # a family whose (first) value scales ``fraction``
    fraction: float = 0.0


# Gauges that move on their own: the tolerance says how far outside the two readings ours may be.
FLUCTUATING: dict[str, Band] = {  # first matching prefix wins
    "node_memory_HugePages_": Band(absolute=2),  # page counts, not bytes
    "node_memory_": Band(relative_to="node_memory_MemTotal_bytes", fraction=0.02),  # 2% of RAM
    "node_load": Band(absolute=0.1),
    "node_procs_running": Band(absolute=2 * (os.cpu_count() or 1) + 4),  # an instantaneous count
    "node_procs_blocked": Band(absolute=2 * (os.cpu_count() or 1) + 4),
    "node_disk_io_now": Band(absolute=4),
    "node_filesystem_free_bytes": Band(relative_to="node_filesystem_size_bytes", fraction=0.005),
    "node_filesystem_avail_bytes": Band(relative_to="node_filesystem_size_bytes", fraction=0.005),
    "node_filesystem_files_free": Band(relative_to="node_filesystem_files", fraction=0.005),
    "node_time_seconds": Band(absolute=0.0),  # read between the two node_exporter reads
    "node_hwmon_": Band(absolute=2.0),  # degrees, volts, rpm jitter of sensors
}


def families(text: str) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(text) if not f.name.startswith(_SKIP_PREFIXES)}


def _key(sample: Sample) -> tuple[str, frozenset[tuple[str, str]]]:
    return sample.name, frozenset(sample.labels.items())


def _first_value(fams: dict[str, Metric], name: str, labels: dict[str, str]) -> float:
    fam = fams[name]
    for s in fam.samples:
        if all(s.labels.get(k) == v for k, v in labels.items() if k in s.labels):
            return float(s.value)
    return float(fam.samples[0].value)


def _rule(name: str, mtype: str) -> Band | None:
    """The tolerance for a family: None means exact; counters are bracketed by the two readings."""
    exact = any(name.startswith(e) if e.endswith("_") else name == e for e in EXACT_GAUGES)
    if exact and mtype != "counter":
        return None
    if mtype == "counter":
        return Band()
    for prefix, band in FLUCTUATING.items():
        if name.startswith(prefix):
            return band
    return None


def compare_values(ne1: dict[str, Metric], ours: dict[str, Metric], ne2: dict[str, Metric]) -> list[str]:
    """Every sample of a shared family: exact, or inside the node_exporter readings widened by its band."""
    problems = []
    for name in sorted(set(ne1) & set(ours) & set(ne2)):
        rule = _rule(name, ne1[name].type)
        before = {_key(s): float(s.value) for s in ne1[name].samples}
        after = {_key(s): float(s.value) for s in ne2[name].samples}
        for s in ours[name].samples:
            k = _key(s)
            if k not in before or k not in after:
                continue  # label-set differences are reported by compare_labels
            got, a, b = float(s.value), before[k], after[k]
            if rule is None:
                ok = got == a or got == b or (math.isnan(got) and math.isnan(a))
                limits = f"exactly {a!r}"
            else:
                scale = _first_value(ne1, rule.relative_to, s.labels) if rule.relative_to else 0.0
                slack = rule.absolute + rule.fraction * scale + 1e-9 * max(abs(a), abs(b), 1.0)
                lo, hi = min(a, b) - slack, max(a, b) + slack
                ok = lo <= got <= hi
                limits = f"within [{lo!r}, {hi!r}]"
            if not ok:
                problems.append(f"{s.name}{dict(s.labels)}: ours {got!r}, node_exporter {limits}")
    return problems


def compare_metadata(ne: dict[str, Metric], ours: dict[str, Metric]) -> list[str]:
    """Type and label names of every shared family."""
    problems = []
    for name in sorted(set(ne) & set(ours)):
        if ne[name].type != ours[name].type:
            problems.append(f"{name}: type {ours[name].type}, node_exporter {ne[name].type}")
        ne_labels = {frozenset(s.labels) for s in ne[name].samples}
        our_labels = {frozenset(s.labels) for s in ours[name].samples}
        if ne_labels != our_labels:
            problems.append(
                f"{name}: label names {sorted(map(sorted, our_labels))}, "
                f"node_exporter {sorted(map(sorted, ne_labels))}"
            )
    return problems


def compare_labels(ne: dict[str, Metric], ours: dict[str, Metric]) -> list[str]:
    """The set of label-value combinations of every shared family."""
    problems = []
    for name in sorted(set(ne) & set(ours)):
        ne_sets = {_key(s) for s in ne[name].samples}
        our_sets = {_key(s) for s in ours[name].samples}
        for missing in sorted(ne_sets - our_sets, key=str):
            problems.append(f"{name}: missing {missing[0]}{dict(missing[1])}")
        for extra in sorted(our_sets - ne_sets, key=str):
            problems.append(f"{name}: extra {extra[0]}{dict(extra[1])}")
    return problems


def missing_families(ne: dict[str, Metric], ours: dict[str, Metric]) -> set[str]:
    return set(ne) - set(ours) - KNOWN_GAPS


@dataclass
class Scrapes:
    ne1: dict[str, Metric]
    ours: dict[str, Metric]
    ne2: dict[str, Metric]


def _scrape(proc: Proc) -> str:
    status, body, _ = http_get(proc.url + "/metrics", timeout=10)
    assert status == 200, body[:500]
    return body.decode()


def _cycle_start(text: str) -> float:
    """When our snapshot's collection cycle began: its end time minus the slowest collector's duration."""
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    end = float(fams["spark_exporter_last_collection_timestamp_seconds"].samples[0].value)
    durations = [float(s.value) for s in fams["spark_exporter_collector_duration_seconds"].samples]
    return end - max(durations, default=0.0)


@pytest.fixture(scope="module")
def scrapes() -> Iterator[Scrapes]:
    ne_args = ["--collector.disable-defaults", *(f"--collector.{c}" for c in COLLECTORS), *UPSTREAM_FLAGS]
    with node_exporter(*ne_args) as ne, exporter("--no-collector.gpu", "--collect.min-age=0s") as ours:
        text_ne1 = _scrape(ne)
        ne1_done = time.time()
        text_ours = wait_for(
            lambda: (t := _scrape(ours)) and _cycle_start(t) > ne1_done and t,
            timeout=20,
            interval=0.1,
            what="a collection cycle after the node_exporter scrape",
        )
        text_ne2 = _scrape(ne)
        yield Scrapes(families(text_ne1), families(text_ours), families(text_ne2))


class TestParityWithNodeExporter:
    def test_every_node_exporter_family_is_emitted(self, scrapes: Scrapes) -> None:
        """Every family that node_exporter's matching collectors emit here is ours too, known gaps aside."""
        assert scrapes.ne1, "node_exporter emitted no host families"
        assert missing_families(scrapes.ne1, scrapes.ours) == set()

    def test_types_and_label_names_match(self, scrapes: Scrapes) -> None:
        """Each shared family has the same type and the same label names in both exporters."""
        assert compare_metadata(scrapes.ne1, scrapes.ours) == []

    def test_label_value_sets_match(self, scrapes: Scrapes) -> None:
        """Each shared family has the same devices, CPUs, mount points and modes in both exporters."""
        assert compare_labels(scrapes.ne1, scrapes.ours) == []

    def test_values_agree_within_tolerance(self, scrapes: Scrapes) -> None:
        """Counters lie between the two node_exporter readings; gauges match exactly or within their band."""
        assert compare_values(scrapes.ne1, scrapes.ours, scrapes.ne2) == []

    def test_memtotal_is_exact(self, scrapes: Scrapes) -> None:
        """node_memory_MemTotal_bytes is byte-for-byte node_exporter's."""
        ours = scrapes.ours["node_memory_MemTotal_bytes"].samples[0].value
        assert ours == scrapes.ne1["node_memory_MemTotal_bytes"].samples[0].value
        assert ours > 0

    def test_cpu_modes_cover_every_cpu(self, scrapes: Scrapes) -> None:
        """node_cpu_seconds_total has all eight modes and one cpu label per online CPU."""
        samples = scrapes.ours["node_cpu_seconds"].samples
        assert len({s.labels["cpu"] for s in samples}) == os.sysconf("SC_NPROCESSORS_ONLN")
        assert {s.labels["mode"] for s in samples} == {
            "user",
            "nice",
            "system",
            "idle",
            "iowait",
            "irq",
            "softirq",
            "steal",
        }


def _mutated(
    fams: dict[str, Metric],
    name: str,
    rename: tuple[str, str] | None = None,
    drop_label_value: tuple[str, str] | None = None,
    scale: float = 1.0,
) -> dict[str, Metric]:
    """A copy of ``fams`` where one family has a label renamed, a series dropped or its values scaled."""
    out = dict(fams)
    src = fams[name]
    fam = Metric(src.name, src.documentation, src.type)
    for s in src.samples:
        labels = dict(s.labels)
        if drop_label_value and labels.get(drop_label_value[0]) == drop_label_value[1]:
            continue
        if rename and rename[0] in labels:
            labels[rename[1]] = labels.pop(rename[0])
        fam.samples.append(Sample(s.name, labels, s.value * scale))
    out[name] = fam
    return out


class TestComparatorCanFail:
    """The parity checks above must catch real regressions; these feed them deliberately broken output."""

    def test_renamed_label_is_reported(self, scrapes: Scrapes) -> None:
        """A netdev family whose ``device`` label is renamed to ``interface`` fails the label-name check."""
        broken = _mutated(scrapes.ours, "node_network_receive_bytes", rename=("device", "interface"))
        assert any(
            "node_network_receive_bytes: label names" in p for p in compare_metadata(scrapes.ne1, broken)
        )

    def test_missing_device_is_reported(self, scrapes: Scrapes) -> None:
        """Dropping one interface from a netdev family fails the label-value check."""
        device = scrapes.ne1["node_network_receive_bytes"].samples[0].labels["device"]
        broken = _mutated(scrapes.ours, "node_network_receive_bytes", drop_label_value=("device", device))
        assert any(f"device': '{device}'" in p for p in compare_labels(scrapes.ne1, broken))

    def test_wrong_unit_is_reported(self, scrapes: Scrapes) -> None:
        """CPU seconds exported in ticks (100x) fall outside what the time between scrapes allows."""
        broken = _mutated(scrapes.ours, "node_cpu_seconds", scale=100.0)
        assert any(
            p.startswith("node_cpu_seconds_total") for p in compare_values(scrapes.ne1, broken, scrapes.ne2)
        )

    def test_missing_family_is_reported(self, scrapes: Scrapes) -> None:
        """A family node_exporter emits and we drop is reported as missing."""
        broken = dict(scrapes.ours)
        del broken["node_network_up"]
        assert missing_families(scrapes.ne1, broken) == {"node_network_up"}
