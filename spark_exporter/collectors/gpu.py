"""GPU metrics from NVML under dcgm-exporter's names and labels (see docs/gpu.md).

The collector talks to NVML only through :class:`~spark_exporter.nvml.facade.Nvml`, which wraps either
the real ``pynvml`` module or the simulator (``--gpu.simulate``): the code path is the same. Which DCGM
fields are exposed, with which type, HELP text and scale, is data: ``spark_exporter/dcgm_fields.csv``.

Failure handling: NVML missing or failing makes ``collect()`` raise, so the loop scores
``spark_exporter_collector_success{collector="gpu"} 0`` and serves the host metrics; the facade
re-initialises NVML with a doubling backoff, and logs a reason only when it changes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pynvml
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..exporter.exposition import ExactCounterFamily
from ..nvml.background import PcieSampler, WatchedDevice, XidWatcher, xid_message
from ..nvml.catalogue import CatalogueError, Field, load_catalogue
from ..nvml.facade import Nvml, NvmlFatal, load_library, to_str
from ..nvml.sim import parse_profile
from ..settings import (
    ConfigError,
    ExporterConfig,
    Option,
    bool_option,
    duration_option,
    int_option,
    str_option,
)
from . import register
from .base import Collector, Paths

UNIFIED_TOLERANCE = 0.01  # a reported total within 1% of host MemTotal means unified memory
KIB = 1024  # /proc/meminfo reports kB (KiB)
NVLINK_FIELDS = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)


def _parse_simulate(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    parse_profile(text)  # raises ValueError naming the accepted forms
    return text


OPTIONS: tuple[Option, ...] = (
    Option("gpu.simulate", _parse_simulate, None,
           "Use a simulated NVML instead of the real one: gb10, h100, or with a GPU count, h100x8.",
           metavar="PROFILE"),
    int_option("gpu.seed", 0, "Seed of the simulated load patterns."),
    str_option("gpu.hostname-label", "Hostname",
               "Name of the host label on GPU series (released dcgm-exporter: Hostname; newer: hostname).",
               ("Hostname", "hostname")),
    str_option("gpu.unified-memory", "auto",
               "auto: on unified memory (GB10) derive FB_USED/FB_FREE/FB_TOTAL from process memory and "
               "host meminfo; off: NVML's values only.", ("auto", "off")),
    bool_option("gpu.process-metrics", True, "Expose per-process GPU memory (pid and process name labels)."),
    duration_option("gpu.pcie-interval", 15.0,
                    "How often PCIe throughput is sampled in a separate thread (about 20 ms per direction "
                    "and GPU); 0 turns PCIe throughput off."),
    int_option("gpu.max-processes", 32,
               "Most processes per GPU in the per-process memory series (the largest are kept).", minimum=1),
)


@dataclass(frozen=True)
class Device:
    index: int
    handle: Any
    uuid: str
    labels: tuple[str, ...]  # values in the order of GpuCollector.label_names


@dataclass(frozen=True)
class Memory:
    """Framebuffer figures in bytes; ``None`` where unknown."""

    total: float | None
    free: float | None
    used: float | None
    reserved: float | None
    source: str  # "nvml" | "unified"


@dataclass(frozen=True)
class Process:
    pid: int
    name: str
    used: int | None  # bytes; None: NVML does not know


def gpu_label_names(hostname_label: str) -> list[str]:
    """dcgm-exporter's label set, in its order."""
    return ["gpu", "UUID", "pci_bus_id", "device", "modelName", hostname_label, "DCGM_FI_DRIVER_VERSION"]


def gpu_label_values(index: int, uuid: str, bus_id: str, model: str, hostname: str,
                     driver: str) -> tuple[str, ...]:
    return (str(index), uuid, bus_id, f"nvidia{index}", model, hostname, driver)


def read_host_memory(paths: Paths) -> tuple[int, int] | None:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo, or None if either is missing."""
    found: dict[str, int] = {}
    try:
        with open(paths.proc("meminfo"), encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    found[key] = int(rest.split()[0]) * KIB
    except (OSError, ValueError, IndexError):
        return None
    if len(found) != 2:
        return None
    return found["MemTotal"], found["MemAvailable"]


class DeviceReading:
    """One device's NVML readings in one collection; each NVML call is made at most once."""

    device: Device

    def __init__(self, collector: GpuCollector, device: Device) -> None:
        self.c = collector
        self.nvml = collector.nvml
        self.device = device
        self.h = device.handle
        self._cache: dict[Any, Any] = {}

    def once(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def q(self, fn: str, *args: Any) -> Any:
        return self.once((fn, *args), lambda: self.nvml.query(fn, self.h, *args))

    def q_index(self, fn: str, i: int) -> float | None:
        v = self.q(fn)
        return None if v is None else float(v[i])

    def q_attr(self, fn: str, attr: str) -> float | None:
        v = self.q(fn)
        return None if v is None else float(getattr(v, attr))

    def fields(self) -> dict[int, float | None]:
        ids = [pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT]
        return dict(zip(ids, self.once("fields", lambda: self.nvml.field_values(self.h, ids)), strict=True))

    def nvlink_total(self) -> float | None:
        """TX + RX data over all links, KiB (cumulative)."""
        links = self.fields()[pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT]
        if not links:
            return None
        ids = [(f, link) for link in range(int(links)) for f in NVLINK_FIELDS]
        values = self.nvml.field_values(self.h, ids)
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    def ecc(self, error_type: int) -> float | None:
        mode = self.q("nvmlDeviceGetEccMode")
        if mode is None or mode[0] != pynvml.NVML_FEATURE_ENABLED:
            return None
        return self.q("nvmlDeviceGetTotalEccErrors", error_type, pynvml.NVML_VOLATILE_ECC)

    def processes(self) -> list[Process] | None:
        return self.once("processes", lambda: self.c.read_processes(self.h))  # type: ignore[no-any-return]

    def memory(self) -> Memory | None:
        return self.once("memory", lambda: self.c.read_memory(self))  # type: ignore[no-any-return]

    def memory_value(self, attr: str) -> float | None:
        m = self.memory()
        return None if m is None else getattr(m, attr)

    def pcie(self, attr: str) -> float | None:
        s = self.c.pcie.latest(self.device.uuid) if self.c.pcie is not None else None
        return None if s is None else getattr(s, attr)


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


# NVML source name (the catalogue's "source" column) -> how to read it; raw NVML units.
READERS: dict[str, Callable[[DeviceReading], float | None]] = {
    "clock.sm": lambda r: _num(r.q("nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_SM)),  # MHz
    "clock.mem": lambda r: _num(r.q("nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_MEM)),  # MHz
    "clocks.event_reasons": lambda r: _num(r.q("nvmlDeviceGetCurrentClocksEventReasons")),  # bitmask
    "temperature.gpu": lambda r: _num(r.q("nvmlDeviceGetTemperature", pynvml.NVML_TEMPERATURE_GPU)),  # C
    "temperature.memory": lambda r: r.fields()[pynvml.NVML_FI_DEV_MEMORY_TEMP],  # C
    "power.usage": lambda r: _num(r.q("nvmlDeviceGetPowerUsage")),  # mW
    "power.limit": lambda r: _num(r.q("nvmlDeviceGetPowerManagementLimit")),  # mW
    "energy.total": lambda r: _num(r.q("nvmlDeviceGetTotalEnergyConsumption")),  # mJ
    "pcie.tx": lambda r: r.pcie("tx"),  # KB/s
    "pcie.rx": lambda r: r.pcie("rx"),  # KB/s
    "pcie.replay": lambda r: _num(r.q("nvmlDeviceGetPcieReplayCounter")),
    "util.gpu": lambda r: r.q_attr("nvmlDeviceGetUtilizationRates", "gpu"),  # %
    "util.memory": lambda r: r.q_attr("nvmlDeviceGetUtilizationRates", "memory"),  # %
    "util.encoder": lambda r: r.q_index("nvmlDeviceGetEncoderUtilization", 0),  # %
    "util.decoder": lambda r: r.q_index("nvmlDeviceGetDecoderUtilization", 0),  # %
    "xid.last": lambda r: r.c.xid_last(r.device.uuid),
    "memory.free": lambda r: r.memory_value("free"),  # bytes
    "memory.used": lambda r: r.memory_value("used"),  # bytes
    "memory.reserved": lambda r: r.memory_value("reserved"),  # bytes
    "memory.total": lambda r: r.memory_value("total"),  # bytes
    "ecc.sbe_volatile": lambda r: _num(r.ecc(pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED)),
    "ecc.dbe_volatile": lambda r: _num(r.ecc(pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)),
    "nvlink.bandwidth_total": lambda r: r.nvlink_total(),  # KiB
    "remap.correctable": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 0),
    "remap.uncorrectable": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 1),
    "remap.failure": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 3),
}


@register
class GpuCollector(Collector):
    name = "gpu"
    options = OPTIONS

    def __init__(self, config: ExporterConfig, paths: Paths, nvml_lib: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, paths)
        try:
            self.catalogue: tuple[Field, ...] = load_catalogue(READERS)
        except CatalogueError as e:
            raise ConfigError(f"DCGM field catalogue: {e}") from None
        self.simulate: str | None = config["gpu.simulate"]
        self.seed: int = config["gpu.seed"]
        self.hostname_label: str = config["gpu.hostname-label"]
        self.unified_mode: str = config["gpu.unified-memory"]
        self.process_metrics: bool = config["gpu.process-metrics"]
        self.pcie_interval: float = config["gpu.pcie-interval"]
        self.max_processes: int = config["gpu.max-processes"]
        self.hostname = socket.gethostname()
        self.label_names = gpu_label_names(self.hostname_label)
        self.nvml = Nvml(nvml_lib if nvml_lib is not None else load_library(self.simulate, self.seed), clock)
        self._clock = clock
        self._devices: list[Device] | None = None
        self._driver = ""
        self.xid: XidWatcher | None = None
        self.pcie: PcieSampler | None = None
        self._xid_lock = threading.Lock()
        self._xid_last: dict[str, int] = {}  # uuid -> last XID code
        self._xid_counts: dict[tuple[str, int], int] = {}  # (uuid, xid) -> events
        self._logged_unsupported: set[tuple[str, str]] = set()
        self._logged_truncated: set[str] = set()
        if self.simulate:
            self.log.warning("gpu_simulation_enabled", profile=self.simulate, seed=self.seed)

    # -- life cycle ---------------------------------------------------------------------------------

    def collect(self) -> Iterable[Metric]:
        self.nvml.ensure_initialized()
        try:
            devices = self._discover()
            families = self._families(devices)
        except NvmlFatal as e:
            self._teardown()
            self.nvml.reset(str(e))
            raise
        if self.simulate:
            info = GaugeMetricFamily("spark_exporter_gpu_simulated_info",
                                     "Present (1) when GPU metrics come from the simulator, not real NVML.",
                                     labels=["profile", "seed"])
            info.add_metric([self.simulate, str(self.seed)], 1.0)
            families.append(info)
        return families

    def _discover(self) -> list[Device]:
        if self._devices is not None:
            return self._devices
        self._driver = to_str(self.nvml.call("nvmlSystemGetDriverVersion"))
        devices = []
        for i in range(int(self.nvml.call("nvmlDeviceGetCount"))):
            h = self.nvml.call("nvmlDeviceGetHandleByIndex", i)
            uuid = to_str(self.nvml.call("nvmlDeviceGetUUID", h))
            bus_id = to_str(self.nvml.call("nvmlDeviceGetPciInfo", h).busId)
            model = to_str(self.nvml.call("nvmlDeviceGetName", h))
            labels = gpu_label_values(i, uuid, bus_id, model, self.hostname, self._driver)
            devices.append(Device(i, h, uuid, labels))
        self.log.info("gpu_devices_found", count=len(devices), driver=self._driver,
                      models=",".join(sorted({d.labels[4] for d in devices})))
        self._start_background(devices)
        self._devices = devices
        return devices

    def _start_background(self, devices: list[Device]) -> None:
        watched = [WatchedDevice(d.handle, d.uuid) for d in devices]
        # A previous thread still stuck in an NVML call is never joined by a second one.
        if self.xid is None or not self.xid.alive:
            self.xid = XidWatcher(self.nvml, self._record_xid)
            self.xid.start(watched)
        if self.pcie_interval > 0 and (self.pcie is None or not self.pcie.alive):
            self.pcie = PcieSampler(self.nvml, self.pcie_interval, self._clock)
            self.pcie.start(watched)

    def _teardown(self) -> None:
        self._devices = None
        for worker in (self.xid, self.pcie):
            if worker is not None:
                worker.stop()

    def close(self) -> None:
        self._teardown()
        self.nvml.shutdown()

    def info(self) -> dict[str, Any]:
        nvml = f"simulated {self.simulate} (seed {self.seed})" if self.simulate else "real"
        out: dict[str, Any] = {"nvml": nvml}
        if self._devices is not None:
            out["gpus"] = len(self._devices)
        if self.nvml.last_error:
            out["nvml_error"] = self.nvml.last_error
        return out

    # -- XID ----------------------------------------------------------------------------------------

    def _record_xid(self, uuid: str, xid: int) -> None:
        with self._xid_lock:
            self._xid_last[uuid] = xid
            self._xid_counts[(uuid, xid)] = self._xid_counts.get((uuid, xid), 0) + 1

    def xid_last(self, uuid: str) -> float | None:
        """The last XID code, 0 if none yet; None if this device is not watched for XIDs."""
        if self.xid is None or uuid not in self.xid.watched:
            return None
        with self._xid_lock:
            return float(self._xid_last.get(uuid, 0))

    # -- readings -----------------------------------------------------------------------------------

    def read_processes(self, handle: Any) -> list[Process] | None:
        """Compute and graphics processes on a device, one entry per pid; None if NVML cannot list them."""
        lists = [self.nvml.query(fn, handle) for fn in
                 ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses")]
        if all(lst is None for lst in lists):
            return None
        used: dict[int, int | None] = {}
        for lst in lists:
            for p in lst or ():
                pid, mem = int(p.pid), None if p.usedGpuMemory is None else int(p.usedGpuMemory)
                prev = used.get(pid)
                used[pid] = mem if prev is None else (prev if mem is None else max(prev, mem))
        return [Process(pid, self._process_name(pid), mem) for pid, mem in sorted(used.items())]

    def _process_name(self, pid: int) -> str:
        name = self.nvml.query("nvmlSystemGetProcessName", pid)
        if name:
            return os.path.basename(to_str(name)) or to_str(name)
        try:  # NVML may not see other namespaces' processes; the host's procfs often does
            with open(self.paths.proc(str(pid), "comm"), encoding="utf-8", errors="replace") as fh:
                return fh.read().strip() or "unknown"
        except OSError:
            return "unknown"

    def read_memory(self, r: DeviceReading) -> Memory | None:
        info = self.nvml.query("nvmlDeviceGetMemoryInfo", r.h, pynvml.nvmlMemory_v2)
        if info is None:
            info = self.nvml.query("nvmlDeviceGetMemoryInfo", r.h)
        if self.unified_mode == "auto":
            host = read_host_memory(self.paths)
            if host is not None and (
                    info is None or abs(info.total - host[0]) <= UNIFIED_TOLERANCE * host[0]):
                return self._unified_memory(r, host)
        if info is None:
            return None
        reserved = getattr(info, "reserved", None)
        return Memory(float(info.total), float(info.free), float(info.used), _num(reserved), "nvml")

    def _unified_memory(self, r: DeviceReading, host: tuple[int, int]) -> Memory:
        """GB10: used = the sum of per-process GPU memory, free = MemAvailable, total = MemTotal."""
        procs = r.processes()
        used: float | None = None
        if procs is not None and all(p.used is not None for p in procs):
            used = float(sum(p.used or 0 for p in procs))
        return Memory(float(host[0]), float(host[1]), used, None, "unified")

    # -- families -----------------------------------------------------------------------------------

    def _families(self, devices: list[Device]) -> list[Metric]:
        readings = [DeviceReading(self, d) for d in devices]
        families: list[Metric] = []
        for f in self.catalogue:
            fam = self._field_family(f, readings)
            if fam is not None:
                families.append(fam)
        families.extend(self._own_families(readings))
        return families

    def _field_family(self, f: Field, readings: list[DeviceReading]) -> Metric | None:
        extra = ["err_code", "err_msg"] if f.source == "xid.last" else []
        cls = ExactCounterFamily if f.type == "counter" else GaugeMetricFamily
        fam = cls(f.name, f.help, labels=self.label_names + extra)
        for r in readings:
            raw = READERS[f.source](r)
            if raw is None:
                self._log_unsupported(r.device, f.name)
                continue
            values = list(r.device.labels)
            if extra:
                values += [str(int(raw)), xid_message(int(raw))]
            fam.add_metric(values, f.scale(raw))
        return fam if fam.samples else None

    def _log_unsupported(self, d: Device, field: str) -> None:
        key = (d.uuid, field)
        if key not in self._logged_unsupported:
            self._logged_unsupported.add(key)
            self.log.info("gpu_field_unsupported", gpu=d.index, uuid=d.uuid, field=field)

    def _own_families(self, readings: list[DeviceReading]) -> list[Metric]:
        mem_info = GaugeMetricFamily(
            "spark_exporter_gpu_memory_info",
            "Where the DCGM_FI_DEV_FB_* values come from: nvml (device memory) or unified (GB10: process "
            "memory and host meminfo).", labels=[*self.label_names, "memory_source"])
        xid_total = CounterMetricFamily("spark_exporter_gpu_xid_errors",
                                        "XID error events seen, by XID code.",
                                        labels=[*self.label_names, "xid"])
        procs = GaugeMetricFamily("spark_exporter_gpu_process_memory_bytes",
                                  "GPU memory used by a process, in bytes.",
                                  labels=[*self.label_names, "pid", "process_name"])
        with self._xid_lock:
            counts = dict(self._xid_counts)
        for r in readings:
            labels = list(r.device.labels)
            m = r.memory()
            if m is not None:
                mem_info.add_metric([*labels, m.source], 1.0)
            for (uuid, xid), n in sorted(counts.items()):
                if uuid == r.device.uuid:
                    xid_total.add_metric([*labels, str(xid)], float(n))
            if self.process_metrics:
                self._add_processes(procs, r, labels)
        return [f for f in (mem_info, xid_total, procs) if f.samples]

    def _add_processes(self, fam: GaugeMetricFamily, r: DeviceReading, labels: list[str]) -> None:
        known = [p for p in r.processes() or () if p.used is not None]
        if len(known) > self.max_processes and r.device.uuid not in self._logged_truncated:
            self._logged_truncated.add(r.device.uuid)
            self.log.warning("gpu_processes_truncated", gpu=r.device.index, processes=len(known),
                             kept=self.max_processes)
        known.sort(key=lambda p: (-(p.used or 0), p.pid))
        for p in known[: self.max_processes]:
            fam.add_metric([*labels, str(p.pid), p.name], float(p.used or 0))
