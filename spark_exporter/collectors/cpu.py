"""node_cpu_seconds_total{cpu,mode} and node_cpu_guest_seconds_total from /proc/stat (node_exporter's cpu).

node_cpu_guest_seconds_total{cpu,mode} (modes user, nice; guest time is also counted in node_cpu_seconds_total's
user and nice) is served unless ``--no-collector.cpu.guest``, as in node_exporter.

Also, as node_exporter's cpu collector: ``node_cpu_isolated{cpu}`` from <sysfs>/devices/system/cpu/isolated
(CPUs taken out of scheduling with ``isolcpus=``), and the x86 thermal throttle counters
``node_cpu_core_throttles_total{package,core}`` and ``node_cpu_package_throttles_total{package}`` from each
CPU's ``thermal_throttle/`` directory, read once per core and per package (sibling threads share them).
Either is left out where the kernel does not provide it (GB10 has no thermal_throttle directory).

With ``--collector.cpu.info`` (off by default, as in node_exporter): ``node_cpu_info{package,core,cpu,vendor,family,
model,model_name,microcode,stepping,cachesize}`` = 1 per CPU from <procfs>/cpuinfo, and, for the first
CPU, ``node_cpu_flag_info{flag}`` and ``node_cpu_bug_info{bug}`` for the flags and bugs that
``--collector.cpu.info.flags-include`` / ``--collector.cpu.info.bugs-include`` select (none unless set). On arm64 (GB10)
the file has other keys: ``CPU implementer`` fills vendor, ``CPU architecture`` family, ``CPU part``
model, ``CPU revision`` stepping and ``Features`` the flags; package, core, microcode and cache size
are empty there. While the cpufreq collector is enabled, ``--collector.cpu.info`` also serves
``node_cpu_frequency_hertz{package,core,cpu}`` from cpuinfo's ``cpu MHz`` (x86; left out where the line is
missing, as on arm64, where node_exporter writes 0).

/proc/stat is read directly rather than through ``psutil.cpu_times(percpu=True)``: psutil ignores
``--path.procfs`` unless its process-global ``PROCFS_PATH`` is flipped, and it folds guest time into
user on some versions. One read of one small file gives every CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, bool_option, compile_option, regex_option
from . import register
from ._files import list_dir, read_int, read_text
from .base import Collector, Paths

# Column order of a "cpuN" line in /proc/stat (see proc(5)); values are in USER_HZ ticks.
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = ("user", "nice")  # columns 9 and 10: guest, guest_nice


def user_hz() -> float:
    """Ticks per second of /proc/stat counters (USER_HZ, 100 on every Linux build we know of)."""
    return float(os.sysconf("SC_CLK_TCK"))


def parse_cpu_lines(text: str) -> dict[str, list[int]]:
    """Map CPU number ("0", "1", ...) to its tick columns; the aggregate "cpu" line is skipped."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *cols = line.split()
        out[name[3:]] = [int(c) for c in cols]
    return out


# /proc/cpuinfo key -> node_cpu_info label; x86 keys first, then the arm64 ones.
CPUINFO_KEYS = {
    "physical id": "package",
    "core id": "core",
    "vendor_id": "vendor",
    "cpu family": "family",
    "model": "model",
    "model name": "model_name",
    "microcode": "microcode",
    "stepping": "stepping",
    "cache size": "cachesize",
    "CPU implementer": "vendor",
    "CPU architecture": "family",
    "CPU part": "model",
    "CPU revision": "stepping",
}
INFO_LABELS = [
    "package",
    "core",
    "cpu",
    "vendor",
    "family",
    "model",
    "model_name",
    "microcode",
    "stepping",
    "cachesize",
]


def parse_cpuinfo(text: str) -> list[dict[str, str | list[str]]]:
    """One dict per processor block: the node_cpu_info labels, "flags" and "bugs" as lists, and "mhz"
    (the ``cpu MHz`` line, x86 only) where present."""
    out: list[dict[str, str | list[str]]] = []
    cur: dict[str, str | list[str]] | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            cur = {"cpu": value, "flags": [], "bugs": []}
            out.append(cur)
        elif cur is None:
            continue
        elif key in ("flags", "Features"):
            cur["flags"] = value.split()
        elif key == "bugs":
            cur["bugs"] = value.split()
        elif key == "cpu MHz":
            cur["mhz"] = value
        elif key in CPUINFO_KEYS:
            cur[CPUINFO_KEYS[key]] = value
    return out


def parse_cpu_list(text: str) -> list[int]:
    """CPU numbers of a kernel cpulist ("1,3-5,9" -> [1, 3, 4, 5, 9]); "" gives []. Raises ValueError."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        out.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    return out


@register
class CpuCollector(Collector):
    """Serves node_cpu_* from <procfs>/stat, <procfs>/cpuinfo and <sysfs>/devices/system/cpu (see module docstring)."""

    name = "cpu"
    options = (
        bool_option("collector.cpu.guest", True, "Enables metric node_cpu_guest_seconds_total."),
        bool_option("collector.cpu.info", False, "Enables metric node_cpu_info."),
        regex_option(
            "collector.cpu.info.flags-include",
            "",
            "Filter the `flags` field in cpuInfo with a value that must be a regular expression",
        ),
        regex_option(
            "collector.cpu.info.bugs-include",
            "",
            "Filter the `bugs` field in cpuInfo with a value that must be a regular expression",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._hz = user_hz()
        self._guest = bool(config["collector.cpu.guest"])
        self._info = bool(config["collector.cpu.info"])
        self._flags = compile_option(config, "collector.cpu.info.flags-include")
        self._bugs = compile_option(config, "collector.cpu.info.bugs-include")
        # Last value seen per (cpu, column): some kernels let idle/iowait step backwards by a tick;
        # node_exporter holds the previous value then, so a counter never decreases. Same here.
        self._last: dict[tuple[str, int], int] = {}

    def _monotonic(self, cpu: str, col: int, value: int) -> int:
        prev = self._last.get((cpu, col))
        if prev is not None and value < prev:
            self.log.debug("cpu_counter_went_backwards", cpu=cpu, column=col, previous=prev, value=value)
            return prev
        self._last[(cpu, col)] = value
        return value

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        cpus = parse_cpu_lines(read_text(self.paths.proc("stat")))
        seconds = CounterMetricFamily(
            "node_cpu_seconds", "Seconds the CPUs spent in each mode.", labels=["cpu", "mode"]
        )
        guest = CounterMetricFamily(
            "node_cpu_guest_seconds",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            labels=["cpu", "mode"],
        )
        for cpu, cols in cpus.items():
            for i, mode in enumerate(MODES):
                if i < len(cols):
                    seconds.add_metric([cpu, mode], self._monotonic(cpu, i, cols[i]) / self._hz)
            for j, mode in enumerate(GUEST_MODES if self._guest else (), start=len(MODES)):
                if j < len(cols):
                    guest.add_metric([cpu, mode], self._monotonic(cpu, j, cols[j]) / self._hz)
        yield seconds
        if guest.samples:
            yield guest
        yield from self._isolated()
        yield from self._throttles()
        if self._info:
            yield from self._cpu_info()

    def _cpu_info(self) -> Iterable[Metric]:
        cpus = parse_cpuinfo(read_text(self.paths.proc("cpuinfo")))
        info = GaugeMetricFamily("node_cpu_info", "CPU information from /proc/cpuinfo.", labels=INFO_LABELS)
        for cpu in cpus:
            info.add_metric([str(cpu.get(label, "")) for label in INFO_LABELS], 1.0)
        if not cpus:
            return
        yield info
        if self.config.collectors.get("cpufreq"):
            yield from self._cpuinfo_frequency(cpus)
        for field, pattern, name in (("flags", self._flags, "flag"), ("bugs", self._bugs, "bug")):
            if pattern is None:
                continue
            fam = GaugeMetricFamily(
                f"node_cpu_{name}_info",
                f"The `{field}` field of CPU information from /proc/cpuinfo taken from the first core.",
                labels=[name],
            )
            for value in dict.fromkeys(cpus[0][field]):
                if pattern.search(str(value)):
                    fam.add_metric([str(value)], 1.0)
            if fam.samples:
                yield fam

    @staticmethod
    def _cpuinfo_frequency(cpus: list[dict[str, str | list[str]]]) -> Iterable[Metric]:
        """node_cpu_frequency_hertz{package,core,cpu} from cpuinfo's ``cpu MHz``, as current node_exporter's cpu
        collector serves it with --collector.cpu.info while cpufreq is enabled. A CPU without the line (arm64)
        is left out, where node_exporter writes 0."""
        fam = GaugeMetricFamily("node_cpu_frequency_hertz", "CPU frequency in hertz from /proc/cpuinfo.",
                                labels=["package", "core", "cpu"])
        for cpu in cpus:
            try:
                mhz = float(str(cpu.get("mhz", "")))
            except ValueError:
                continue
            fam.add_metric([str(cpu.get("package", "")), str(cpu.get("core", "")), str(cpu["cpu"])], mhz * 1e6)
        if fam.samples:
            yield fam

    def _isolated(self) -> Iterable[Metric]:
        try:
            text = read_text(self.paths.sys("devices", "system", "cpu", "isolated")).strip()
        except FileNotFoundError:
            return
        cpus = parse_cpu_list(text)
        if not cpus:
            return
        fam = GaugeMetricFamily(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            labels=["cpu"],
        )
        for cpu in cpus:
            fam.add_metric([str(cpu)], 1.0)
        yield fam

    def _throttles(self) -> Iterable[Metric]:
        base = self.paths.sys("devices", "system", "cpu")
        packages: dict[int, int] = {}
        cores: dict[tuple[int, int], int] = {}
        for entry in list_dir(base):
            if not (entry.startswith("cpu") and entry[3:].isdigit()):
                continue
            cpu = os.path.join(base, entry)
            package = read_int(os.path.join(cpu, "topology", "physical_package_id"))
            core = read_int(os.path.join(cpu, "topology", "core_id"))
            if package is None or core is None:
                continue
            if (package, core) not in cores:
                count = read_int(os.path.join(cpu, "thermal_throttle", "core_throttle_count"))
                if count is not None:
                    cores[(package, core)] = count
            if package not in packages:
                count = read_int(os.path.join(cpu, "thermal_throttle", "package_throttle_count"))
                if count is not None:
                    packages[package] = count
        if cores:
            core_fam = CounterMetricFamily(
                "node_cpu_core_throttles",
                "Number of times this CPU core has been throttled.",
                labels=["package", "core"],
            )
            for (package, core), count in sorted(cores.items()):
                core_fam.add_metric([str(package), str(core)], count)
            yield core_fam
        if packages:
            pkg_fam = CounterMetricFamily(
                "node_cpu_package_throttles",
                "Number of times this CPU package has been throttled.",
                labels=["package"],
            )
            for package, count in sorted(packages.items()):
                pkg_fam.add_metric([str(package)], count)
            yield pkg_fam
