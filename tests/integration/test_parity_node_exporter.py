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
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from helpers.procs import Proc, exporter, http_get, node_exporter, wait_for
from helpers.reference import reference_file
from spark_exporter.collectors import load_all

# The node_exporter collectors this project implements (all of them; see docs/host-collectors.md). systemd
# reads D-Bus, not files: its parity test runs both exporters on a stand-in bus (test_systemd_dbus.py).
COLLECTORS = tuple(sorted(set(load_all()) - {"gpu", "textfile", "systemd"}))

# Upstream node_exporter 1.5.0's defaults, written out here on purpose: our collectors are not told
# them, so the comparison checks that our defaults equal upstream's.
UPSTREAM_FLAGS = (
    "--collector.filesystem.mount-points-exclude="
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "--collector.filesystem.fs-types-exclude="
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|"
    r"overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
    "--collector.netdev.device-exclude=",
    # Ours leaves out a speed of -1 (what cannot be true); node_exporter does so with this flag (its 2.x default).
    "--collector.netclass.ignore-invalid-speed",
    r"--collector.diskstats.device-exclude=^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",
)

# Opt-in options turned on for both exporters, so their families are compared too.
OPT_IN_FLAGS = (
    "--collector.stat.softirq",
    "--collector.cpu.info",
    "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc|fp|asimd)$",
    "--collector.cpu.info.bugs-include=^(spectre_.*|mds)$",
)

# Families node_exporter's collectors above can emit that we do not: none at present (the mechanism stays so
# that a gap, if one is ever accepted, is named here with its reason).
KNOWN_GAPS: frozenset[str] = frozenset()

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
    own_fraction: float = 0.0  # a share of the node_exporter reading itself


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
    # The rest move with whatever the other tenants of this shared machine do between two scrapes.
    "node_filefd_allocated": Band(absolute=200, own_fraction=0.1),
    "node_sockstat_": Band(absolute=50, own_fraction=0.3),
    "node_netstat_": Band(absolute=100, own_fraction=0.05),  # untyped counters and a few gauges
    "node_vmstat_": Band(absolute=1000, own_fraction=0.01),  # untyped counters
    "node_nf_conntrack_entries": Band(absolute=50, own_fraction=0.2),
    "node_arp_entries": Band(absolute=2),
    "node_entropy_available_bits": Band(absolute=256),
    "node_thermal_zone_temp": Band(absolute=2.0),
    "node_cpu_scaling_frequency_hertz": Band(own_fraction=1.0),  # the governor moves it freely
    "node_cpu_frequency_hertz": Band(own_fraction=1.0),
    "node_timex_": Band(absolute=1e-3, own_fraction=1e-3),  # the kernel PLL adjusts between reads
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
                own = rule.own_fraction * max(abs(a), abs(b))
                slack = rule.absolute + rule.fraction * scale + own + 1e-9 * max(abs(a), abs(b), 1.0)
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
                f"{name}: label names {sorted(map(sorted, our_labels))}, node_exporter {sorted(map(sorted, ne_labels))}"
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
    ne_args = [
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in COLLECTORS),
        *UPSTREAM_FLAGS,
        *OPT_IN_FLAGS,
    ]
    our_args = ["--no-collector.gpu", "--collect.min-age=0s", *OPT_IN_FLAGS]  # node_exporter's flags, verbatim
    with node_exporter(*ne_args) as ne, exporter(*our_args) as ours:
        text_ne1 = _scrape(ne)
        ne1_done = time.time()
        text_ours = wait_for(
            lambda: (t := _scrape(ours)) and _cycle_start(t) > ne1_done and t,
            timeout=20,
            interval=0.1,
            what="a collection cycle after the node_exporter scrape",
        )
        text_ne2 = _scrape(ne)
        yield Scrapes(
            _normalised(families(text_ne1), ours=False),
            _normalised(families(text_ours), ours=True),
            _normalised(families(text_ne2), ours=False),
        )


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

    def test_help_texts_match(self, scrapes: Scrapes) -> None:
        """Each shared family has node_exporter's HELP text."""
        assert compare_help(scrapes.ne1, scrapes.ours) == []

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
        assert any("node_network_receive_bytes: label names" in p for p in compare_metadata(scrapes.ne1, broken))

    def test_missing_device_is_reported(self, scrapes: Scrapes) -> None:
        """Dropping one interface from a netdev family fails the label-value check."""
        device = scrapes.ne1["node_network_receive_bytes"].samples[0].labels["device"]
        broken = _mutated(scrapes.ours, "node_network_receive_bytes", drop_label_value=("device", device))
        assert any(f"device': '{device}'" in p for p in compare_labels(scrapes.ne1, broken))

    def test_wrong_unit_is_reported(self, scrapes: Scrapes) -> None:
        """CPU seconds exported in ticks (100x) fall outside what the time between scrapes allows."""
        broken = _mutated(scrapes.ours, "node_cpu_seconds", scale=100.0)
        assert any(p.startswith("node_cpu_seconds_total") for p in compare_values(scrapes.ne1, broken, scrapes.ne2))

    def test_missing_family_is_reported(self, scrapes: Scrapes) -> None:
        """A family node_exporter emits and we drop is reported as missing."""
        broken = dict(scrapes.ours)
        del broken["node_network_up"]
        assert missing_families(scrapes.ne1, broken) == {"node_network_up"}


# --- node_exporter's own end-to-end fixture trees -------------------------------------------------------------
#
# Debian's node_exporter 1.5.0 and ours read the same captured /proc, /sys and udev trees (the ones node_exporter's
# end-to-end test reads) with the same flags. The trees are static, so every value of a shared series must be equal.


REPO = Path(__file__).resolve().parents[2]

# Every registered collector runs on node_exporter's end-to-end trees (found by discovery, so a new collector is
# compared without editing this test) except these, each with the reason. time runs; its clock readings are
# LIVE_FAMILIES. The ones left out here are compared on the live machine by TestParityWithNodeExporter.
NOT_ON_FIXTURE_TREES = {
    "filesystem": "off in node_exporter's end-to-end test: it reads the live machine's mounts",
    "timex": "off in node_exporter's end-to-end test: it reads the live kernel (adjtimex)",
    "uname": "off in node_exporter's end-to-end test: it reads the live kernel (uname)",
    "netdev": "both read it over netlink from the live kernel (the trees have no /proc/net/dev)",
    "os": "the trees have no os-release",
    "textfile": "the trees have no text files",
    "gpu": "NVML, not node_exporter's",
    "systemd": "D-Bus, not files: compared on a stand-in bus in test_systemd_dbus.py",
}
FIXTURE_COLLECTORS = tuple(sorted(set(load_all()) - set(NOT_ON_FIXTURE_TREES)))

# The end-to-end test's flags that both 1.5.0 and we accept. Left out, with the reason: --no-collector.arp.netlink,
# --collector.hwmon.chip-include (1.5.0 has neither; 1.5.0 reads /proc/net/arp and every hwmon chip anyway),
# qdisc/wifi/sysctl (collectors we do not have). The cpu.info flags are the ones node_exporter's test uses
# on x86_64: the captured cpuinfo is an x86 one, and node_exporter parses it by the architecture it runs on.
FIXTURE_FLAGS = (
    "--collector.arp.device-exclude=nope",
    "--collector.bcache.priorityStats",
    "--collector.netclass.ignored-devices=(dmz|int)",
    "--collector.netclass.ignore-invalid-speed",
    "--collector.stat.softirq",
    "--collector.cpu.info",
    "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
    "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
)


# Families whose 1.5.0 output comes from the live machine, not the tree, so values cannot be compared.
LIVE_FAMILIES = frozenset({"node_time_seconds", "node_time_zone_offset_seconds"})

# Differences that come from the 1.5.0 oracle being older than the node_exporter we follow (see the issue).
# family -> label names 1.5.0 does not have; dropped from both sides before comparing.
NEWER_LABELS: dict[str, frozenset[str]] = {
    "node_network_info": frozenset({"adminstate"}),  # added after 1.5.0, from the IFF_UP flag
    "node_nvme_info": frozenset({"cntlid"}),  # controller id, added after 1.5.0
    "node_disk_info": frozenset(
        {
            "rotational",  # added after 1.5.0
            "serial",  # now falls back to ID_SERIAL (mmcblk0 has only that); checked on its own below
        }
    ),
}
# hwmon chips whose directories share one device: 1.5.0 gives them one chip label (and duplicate-series errors),
# current node_exporter appends the hwmon name. Their series are left out of the comparison; checked on their own.
COLLIDING_CHIPS = frozenset({"ieee80211_phy0", "platform_asus_nb_wmi"})
# hwmon sensor types 1.5.0 does not know: their sensor labels are ours only.
NEWER_SENSOR_TYPES = ("freq",)
# Families 1.5.0's collectors serve that we do not, with the reason.
OLDER_ONLY: dict[str, str] = {}
# Series whose value 1.5.0 gets wrong and current node_exporter right: family -> (label, value) pairs. Their values
# are checked against current node_exporter's expected output in tests/integration/test_node_exporter_e2e.py.
FIXED_AFTER_1_5: dict[str, frozenset[tuple[str, str]]] = {
    # 1.5.0's procfs swapped the two NFSv4 client columns (its GetDeviceInfo is the file's LayoutGet and back).
    "node_nfs_requests_total": frozenset({("method", "GetDeviceInfo"), ("method", "LayoutGet")}),
}
# Series current node_exporter added after 1.5.0: family -> (label, value); ours only, left out before comparing.
NEWER_SERIES: dict[str, tuple[str, str]] = {
    "node_zfs_zpool_state": ("state", "suspended"),
}
# Label values 1.5.0 cuts short and current node_exporter keeps whole: family prefix -> (label, how 1.5.0 cuts it).
# Ours are cut the same way before comparing; the whole values are checked by the e2e test (tests/integration).
CUT_BY_1_5: dict[str, tuple[str, Callable[[str], str]]] = {
    "node_zfs_zpool_dataset_": ("dataset", lambda v: v.split()[0] if v.split() else v),  # up to the first blank
}
# Families whose HELP text changed in node_exporter after 1.5.0: we serve the current text.
NEWER_HELP: dict[str, str] = {}


def _normalised(fams: dict[str, Metric], ours: bool) -> dict[str, Metric]:
    """``fams`` with the listed version differences taken out (newer labels, colliding chips, newer sensors)."""
    out = {}
    for name, src in fams.items():
        drop = NEWER_LABELS.get(name, frozenset())
        fam = Metric(src.name, src.documentation, src.type)
        for s in src.samples:
            chip = s.labels.get("chip", "")
            if chip in COLLIDING_CHIPS or (ours and any(chip.startswith(c + "_") for c in COLLIDING_CHIPS)):
                continue
            if ours and name == "node_hwmon_sensor_label" and s.labels["sensor"].startswith(NEWER_SENSOR_TYPES):
                continue
            newer = NEWER_SERIES.get(name)
            if ours and newer is not None and s.labels.get(newer[0]) == newer[1]:
                continue
            labels = {k: v for k, v in s.labels.items() if k not in drop}
            cut = next((c for prefix, c in CUT_BY_1_5.items() if name.startswith(prefix)), None)
            if ours and cut is not None and cut[0] in labels:
                labels[cut[0]] = cut[1](labels[cut[0]])
            fam.samples.append(Sample(s.name, labels, s.value))
        out[name] = fam
    return out


def compare_help(ne: dict[str, Metric], ours: dict[str, Metric]) -> list[str]:
    """HELP text of every shared family, except the listed newer texts."""
    return [
        f"{name}: HELP {ours[name].documentation!r}, node_exporter {ne[name].documentation!r}"
        for name in sorted(set(ne) & set(ours))
        if name not in NEWER_HELP and ne[name].documentation != ours[name].documentation
    ]


def compare_exact(ne: dict[str, Metric], ours: dict[str, Metric]) -> list[str]:
    """Every shared series has exactly node_exporter's value (the trees do not change)."""
    problems = []
    for name in sorted((set(ne) & set(ours)) - LIVE_FAMILIES):
        theirs = {_key(s): float(s.value) for s in ne[name].samples}
        for s in ours[name].samples:
            want = theirs.get(_key(s))
            if want is None or set(s.labels.items()) & FIXED_AFTER_1_5.get(s.name, frozenset()):
                continue
            got = float(s.value)
            if not (got == want or (math.isnan(got) and math.isnan(want)) or math.isclose(got, want, rel_tol=1e-12)):
                problems.append(f"{s.name}{dict(s.labels)}: ours {got!r}, node_exporter {want!r}")
    return problems


@dataclass
class FixtureScrapes:
    ne_raw: dict[str, Metric]
    ne: dict[str, Metric]
    ours: dict[str, Metric]
    ours_raw: dict[str, Metric]
    ours_text: str


@pytest.fixture(scope="module")
def fixture_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ne-fixtures")
    with tarfile.open(reference_file("node-exporter-fixtures/fixtures.tar.gz")) as tar:
        tar.extractall(root, filter="tar")
    return root


def _path_flags(root: Path) -> list[str]:
    return [
        f"--path.procfs={root}/proc",
        f"--path.sysfs={root}/sys",
        f"--path.rootfs={root}",
        f"--path.udev.data={root}/udev/data",
    ]


@pytest.fixture(scope="module")
def fixture_scrapes(fixture_tree: Path) -> Iterator[FixtureScrapes]:
    # One command line for both: node_exporter's flags, verbatim.
    args = [
        *_path_flags(fixture_tree),
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in FIXTURE_COLLECTORS),
        *FIXTURE_FLAGS,
    ]
    with node_exporter(*args) as ne, exporter(*args) as ours:
        text_ne = _scrape(ne)
        text_ours = _scrape(ours)
    ne_raw, ours_raw = families(text_ne), families(text_ours)
    yield FixtureScrapes(ne_raw, _normalised(ne_raw, ours=False), _normalised(ours_raw, ours=True), ours_raw, text_ours)


class TestParityOnNodeExporterFixtures:
    def test_every_collector_succeeds(self, fixture_scrapes: FixtureScrapes) -> None:
        """No collector of ours fails on node_exporter's trees (missing files are tolerated as upstream does)."""
        fams = {f.name: f for f in text_string_to_metric_families(fixture_scrapes.ours_text)}
        failed = {s.labels["collector"] for s in fams["spark_exporter_collector_success"].samples if s.value != 1}
        assert failed == set()

    def test_every_node_exporter_family_is_emitted(self, fixture_scrapes: FixtureScrapes) -> None:
        """Every family the matching node_exporter collectors serve from the trees is ours too."""
        assert fixture_scrapes.ne, "node_exporter emitted no host families"
        assert set(fixture_scrapes.ne) - set(fixture_scrapes.ours) - set(OLDER_ONLY) == set()

    def test_types_and_label_names_match(self, fixture_scrapes: FixtureScrapes) -> None:
        """Each shared family has node_exporter's type and label names (newer labels set aside)."""
        assert compare_metadata(fixture_scrapes.ne, fixture_scrapes.ours) == []

    def test_series_match(self, fixture_scrapes: FixtureScrapes) -> None:
        """Each shared family has exactly node_exporter's label-value combinations."""
        assert compare_labels(fixture_scrapes.ne, fixture_scrapes.ours) == []

    def test_values_are_equal(self, fixture_scrapes: FixtureScrapes) -> None:
        """Each shared series has node_exporter's value: units, scales and word sizes agree."""
        assert compare_exact(fixture_scrapes.ne, fixture_scrapes.ours) == []

    def test_help_texts_match(self, fixture_scrapes: FixtureScrapes) -> None:
        """Each shared family has node_exporter's HELP text."""
        assert compare_help(fixture_scrapes.ne, fixture_scrapes.ours) == []

    def test_newer_labels_are_served(self, fixture_scrapes: FixtureScrapes) -> None:
        """The labels current node_exporter added after 1.5.0 are on our series (the list above is not a blind spot)."""
        for name, labels in NEWER_LABELS.items():
            assert all(labels <= set(s.labels) for s in fixture_scrapes.ours_raw[name].samples), name

    def test_disk_serial_and_rotational_follow_udev_and_sysfs(self, fixture_scrapes: FixtureScrapes) -> None:
        """The disk serial is the short serial where udev has one, else ID_SERIAL; rotational is the queue flag."""
        info = {s.labels["device"]: s.labels for s in fixture_scrapes.ours_raw["node_disk_info"].samples}
        ne_info = {s.labels["device"]: s.labels for s in fixture_scrapes.ne_raw["node_disk_info"].samples}
        assert info["sda"]["serial"] == ne_info["sda"]["serial"] != ""  # ID_SERIAL_SHORT, as 1.5.0
        assert (ne_info["mmcblk0"]["serial"], info["mmcblk0"]["serial"]) == ("", "0x83e36d93")  # ID_SERIAL only
        assert (info["sda"]["rotational"], info["nvme0n1"]["rotational"]) == ("1", "0")

    def test_chips_sharing_a_device_get_distinct_names(self, fixture_scrapes: FixtureScrapes) -> None:
        """hwmon directories under one device are each served, named by device plus hwmon name."""
        chips = {
            s.labels["chip"]: s.labels["chip_name"] for s in fixture_scrapes.ours_raw["node_hwmon_chip_names"].samples
        }
        assert {c: n for c, n in chips.items() if c.startswith("ieee80211_phy0")} == {
            f"ieee80211_phy0_mt7996_phy0_{i}": f"mt7996_phy0_{i}" for i in range(3)
        }
        temps = fixture_scrapes.ours_raw["node_hwmon_temp_celsius"].samples
        assert len({s.labels["chip"] for s in temps if s.labels["chip"].startswith("ieee80211_phy0")}) == 3


class TestFixtureComparatorCanFail:
    """The fixture checks above must catch real regressions; these feed them deliberately broken output."""

    def test_wrong_word_size_is_reported(self, fixture_scrapes: FixtureScrapes) -> None:
        """InfiniBand data served in 4-byte words instead of bytes fails the value check."""
        broken = _mutated(fixture_scrapes.ours, "node_infiniband_port_data_received_bytes", scale=0.25)
        assert any(
            p.startswith("node_infiniband_port_data_received_bytes_total")
            for p in compare_exact(fixture_scrapes.ne, broken)
        )

    def test_changed_help_is_reported(self, fixture_scrapes: FixtureScrapes) -> None:
        """A family whose HELP differs from node_exporter's fails the HELP check."""
        broken = dict(fixture_scrapes.ours)
        src = broken["node_memory_MemTotal_bytes"]
        fam = Metric(src.name, "Memory information field MemTotal.x", src.type)
        fam.samples = list(src.samples)
        broken["node_memory_MemTotal_bytes"] = fam
        assert [p.split(":")[0] for p in compare_help(fixture_scrapes.ne, broken)] == ["node_memory_MemTotal_bytes"]


# --- missing files ------------------------------------------------------------------------------------------------


def _success(text: str, name: str) -> dict[str, float]:
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["collector"]: float(s.value) for s in fams[name].samples}


class TestMissingFiles:
    def test_no_collector_fails_where_node_exporter_does_not(self, tmp_path: Path) -> None:
        """On an empty root every collector of ours succeeds wherever node_exporter's same collector succeeds."""
        (tmp_path / "proc").mkdir()
        (tmp_path / "sys").mkdir()
        collectors = sorted(set(load_all()) - {"gpu"})
        paths = [f"--path.procfs={tmp_path}/proc", f"--path.sysfs={tmp_path}/sys", f"--path.rootfs={tmp_path}"]
        ne_args = [
            *paths,
            "--collector.disable-defaults",
            *(f"--collector.{c}" for c in collectors),
            "--collector.textfile.directory=",
        ]
        # systemd is off by default in both: switched on in ours too, so both try it (it reads D-Bus, not the root).
        with node_exporter(*ne_args) as ne, exporter(*paths, "--no-collector.gpu", "--collector.systemd") as ours:
            theirs = _success(_scrape(ne), "node_scrape_collector_success")
            mine = _success(_scrape(ours), "spark_exporter_collector_success")
        assert set(theirs) == set(mine) == set(collectors)
        worse = sorted(c for c in collectors if theirs[c] == 1 and mine[c] != 1)
        assert worse == []
        assert any(v == 0 for v in mine.values()), "an empty root must fail some collectors (the check is live)"


class TestFixtureCollectorList:
    def test_exclusions_name_registered_collectors(self) -> None:
        """Every collector left out of the fixture comparison is registered, so a stale entry cannot hide one."""
        assert set(NOT_ON_FIXTURE_TREES) <= set(load_all())
        assert set(FIXTURE_COLLECTORS) | set(NOT_ON_FIXTURE_TREES) == set(load_all())
