"""One GPU's NVML readings in one collection, and which NVML call each DCGM field is read from.

A :class:`DeviceReading` makes each NVML call at most once per collection and holds no reference to the
collector: what it needs from outside (PCIe samples, the last XID, process names, host memory) comes
in a :class:`ReadingContext`. Values that cannot be true are dropped here (``None``), never exported:
NVML's "not available" sentinels, a pid of 0 or above the kernel's ``pid_max``, memory figures beyond
the device total.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from ...nvml.facade import Nvml
from ...nvml.gpm import GPM_SOURCES, GpmReading
from .._files import read_text
from .memory import Memory, is_unified, nvml_memory, unified_memory

NVLINK_FIELDS = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)
#: NVML's "not available" sentinels (unsigned int and unsigned long long all ones).
NOT_AVAILABLE = frozenset({0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF})
_ABSENT = object()
PID_MAX_DEFAULT = 4_194_304  # the kernel's PID_MAX_LIMIT on 64-bit, when /proc/sys/kernel/pid_max is unreadable

# Newest variant first; the facade falls back down the chain where the driver lacks one.
COMPUTE_PROCESSES = ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2")
GRAPHICS_PROCESSES = ("nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2")
CLOCK_REASONS = ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
TEMPERATURE = ("nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature")  # the latter deprecated in NVML 13


@dataclass(frozen=True)
class Device:
    """A discovered GPU: NVML index, handle, UUID and its label values (order of gpu_label_names())."""

    index: int
    handle: Any
    uuid: str
    labels: tuple[str, ...]  # values in the order of gpu_label_names()


class Pending(Exception):
    """A value whose first sample has simply not arrived yet (PCIe, GPM): left out without an "unsupported" log."""


@dataclass(frozen=True)
class ReadingContext:
    """What a reading needs from outside NVML's per-device calls."""

    pcie: Callable[[str], Any]  # uuid -> PcieSample | None
    pcie_pending: Callable[[str], bool]  # uuid -> no PCIe sample taken yet (but not known unsupported)
    gpm: Callable[[Any, str], GpmReading]  # (handle, uuid) -> this interval's GPM metrics
    xid_last: Callable[[str], float | None]  # uuid -> last XID code
    host_memory: Callable[[], tuple[int, int] | None]  # (MemTotal, MemAvailable) bytes
    unified_mode: str  # auto | off
    pid_max: int


def num(v: Any) -> float | None:
    """A number from NVML, or ``None`` for no answer or NVML's "not available" sentinel."""
    if v is None:
        return None
    if isinstance(v, int) and v in NOT_AVAILABLE:
        return None
    return float(v)


def read_pid_max(proc_root: str) -> int:
    """The kernel's pid_max from <proc_root>/sys/kernel/pid_max; PID_MAX_DEFAULT when unreadable or invalid."""
    try:
        return int(read_text(os.path.join(proc_root, "sys", "kernel", "pid_max"), 32).strip())
    except (OSError, ValueError):
        return PID_MAX_DEFAULT


class DeviceReading:
    """One device's NVML readings in one collection; each NVML call is made at most once.

    Raises :class:`~spark_exporter.nvml.facade.GpuLost` (this GPU is gone) and
    :class:`~spark_exporter.nvml.facade.NvmlFatal` (the library is gone) from any reading.
    """

    def __init__(self, nvml: Nvml, device: Device, ctx: ReadingContext) -> None:
        self.nvml = nvml
        self.device = device
        self.h = device.handle
        self.ctx = ctx
        self._cache: dict[Any, Any] = {}
        self._gpm: GpmReading | None = None
        #: The process list held an impossible record (a pid of 0 or above pid_max, more memory than the
        #: device holds): read with the wrong record size by an older binding, so none of it is trusted.
        self.processes_implausible = False

    def once(self, key: Any, fn: Callable[[], Any]) -> Any:
        """``fn()`` the first time ``key`` is asked for in this collection, the cached answer afterwards."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def q(self, fn: str, *args: Any) -> Any:
        """``Nvml.query(fn, handle, *args)``, at most once per collection; ``None`` when unavailable.

        GpuLost or NvmlFatal propagate.
        """
        # once() inlined: some 20 of these per GPU and collection
        key = (fn, *args)
        cache = self._cache
        if key in cache:
            return cache[key]
        value = cache[key] = self.nvml.query(fn, self.h, *args)
        return value

    def chain(self, fns: tuple[str, ...], *args: Any) -> Any:
        """``Nvml.query_chain(fns, handle, *args)`` (newest variant first), at most once per collection.

        GpuLost or NvmlFatal propagate.
        """
        key = (fns, *args)
        cache = self._cache
        if key in cache:
            return cache[key]
        value = cache[key] = self.nvml.query_chain(fns, self.h, *args)
        return value

    def q_index(self, fn: str, i: int) -> float | None:
        """Element ``i`` of ``fn``'s answer as a number (via num()).

        ``None`` when unavailable. GpuLost or NvmlFatal propagate.
        """
        v = self.q(fn)
        return None if v is None else num(v[i])

    def q_attr(self, fn: str, attr: str) -> float | None:
        """Attribute ``attr`` of ``fn``'s answer as a number (via num()).

        ``None`` when unavailable. GpuLost or NvmlFatal propagate.
        """
        v = self.q(fn)
        return None if v is None else num(getattr(v, attr))

    def fields(self) -> dict[int, float | None]:
        """nvmlDeviceGetFieldValues for memory temperature (°C) and NVLink link count, by field id; ``None`` where
        unavailable.
        """
        ids = [pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT]
        return dict(zip(ids, self.once("fields", lambda: self.nvml.field_values(self.h, ids)), strict=True))

    def nvlink_total(self) -> float | None:
        """TX + RX data over all links, KiB (cumulative)."""
        links = self.fields()[pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT]
        if not links:
            return None
        # A link count above NVML's maximum cannot be true: read at most that many links.
        ids = [(f, link) for link in range(min(int(links), pynvml.NVML_NVLINK_MAX_LINKS)) for f in NVLINK_FIELDS]
        values = self.nvml.field_values(self.h, ids)
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    def ecc(self, error_type: int) -> float | None:
        """Volatile ECC error count of ``error_type`` (nvmlDeviceGetTotalEccErrors); ``None`` unless ECC is enabled."""
        mode = self.q("nvmlDeviceGetEccMode")
        if mode is None or mode[0] != pynvml.NVML_FEATURE_ENABLED:
            return None
        return num(self.q("nvmlDeviceGetTotalEccErrors", error_type, pynvml.NVML_VOLATILE_ECC))

    def memory_info(self) -> Any:
        """``nvmlDeviceGetMemoryInfo_v2`` (with reserved), else the v1 call; ``None`` if neither answers."""
        def read() -> Any:
            info = self.nvml.query("nvmlDeviceGetMemoryInfo", self.h, pynvml.nvmlMemory_v2)
            return info if info is not None else self.nvml.query("nvmlDeviceGetMemoryInfo", self.h)
        return self.once("memory_info", read)

    def processes(self) -> dict[int, int | None] | None:
        """Compute and graphics processes: pid -> used GPU memory in bytes (``None`` when NVML does not know),
        one entry per pid, in NVML's order; None if NVML cannot list them, or if the list holds a record that
        cannot be true (see :attr:`processes_implausible`).

        A plain dictionary: a GPU may list thousands of processes, and an object per process cost a third
        of the collector's own time at 1,000 processes a GPU. Not named here: the collector names only the
        processes it keeps (``--gpu.max-processes``).
        """
        return self.once("processes", self._read_processes)  # type: ignore[no-any-return]

    def _read_processes(self) -> dict[int, int | None] | None:
        lists = [self.chain(COMPUTE_PROCESSES), self.chain(GRAPHICS_PROCESSES)]
        if all(lst is None for lst in lists):
            return None
        info = self.memory_info()
        total = num(info.total) if info is not None else None
        limit = float("inf") if total is None else total
        pid_max = self.ctx.pid_max
        used: dict[int, int | None] = {}
        seen = used.get
        for lst in lists:
            for p in lst or ():  # kept lean: a GPU may list thousands of processes
                pid = int(p.pid)
                raw = p.usedGpuMemory
                mem = None if raw is None or raw in NOT_AVAILABLE else int(raw)
                if not 0 < pid <= pid_max or (mem is not None and mem > limit):
                    # Cannot be a process: the records were misread (wrong size), so the plausible-looking
                    # ones are as wrong; summing them would understate memory (issue 20).
                    self.processes_implausible = True
                    return None
                prev = seen(pid, _ABSENT)  # one entry per pid: the largest figure NVML gives for it
                if prev is _ABSENT or (mem is not None and (prev is None or mem > prev)):  # type: ignore[operator]
                    used[pid] = mem
        return used

    def memory(self) -> Memory | None:
        """Framebuffer figures (bytes): NVML's memory info, or host memory on a unified-memory GPU.

        ``None`` if unknown.
        """
        return self.once("memory", self._read_memory)  # type: ignore[no-any-return]

    def _read_memory(self) -> Memory | None:
        info = self.memory_info()
        if self.ctx.unified_mode == "auto":
            host = self.ctx.host_memory()
            if host is not None and is_unified(info, host):
                procs = self.processes()
                return unified_memory(host, None if procs is None else list(procs.values()))
        return None if info is None else nvml_memory(info)

    def memory_value(self, attr: str) -> float | None:
        """One Memory attribute (``total``, ``free``, ``used``, ``reserved``), bytes; ``None`` when unknown."""
        m = self.memory()
        return None if m is None else getattr(m, attr)

    def pcie(self, attr: str) -> float | None:
        """One attribute of the PCIe sampler's latest reading for this GPU; ``None`` when there is none.

        Raises :class:`Pending` while the sampler has not sampled this GPU yet.
        """
        s = self.ctx.pcie(self.device.uuid)
        if s is None and self.ctx.pcie_pending(self.device.uuid):
            raise Pending("pcie")
        return None if s is None else getattr(s, attr)

    def gpm(self, metric_id: int) -> float | None:
        """GPM metric ``metric_id`` over the interval since the previous scrape, in nvml.h's unit (percent or
        MiB/s); ``None`` when the device has no GPM or this metric did not answer.

        Raises :class:`Pending` when there is no interval yet (the first scrape). GpuLost or NvmlFatal propagate.
        """
        reading = self._gpm
        if reading is None:  # one GPM reading per collection, for all its metrics
            reading = self._gpm = self.ctx.gpm(self.h, self.device.uuid)
        if reading.values is None:
            if reading.pending:
                raise Pending("gpm")
            return None
        return reading.values.get(metric_id)


# NVML source name (the catalogue's "source" column) -> how to read it; raw NVML units.
READERS: dict[str, Callable[[DeviceReading], float | None]] = {
    "clock.sm": lambda r: num(r.q("nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_SM)),  # MHz
    "clock.mem": lambda r: num(r.q("nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_MEM)),  # MHz
    "clocks.event_reasons": lambda r: num(r.chain(CLOCK_REASONS)),  # bitmask
    "temperature.gpu": lambda r: num(r.chain(TEMPERATURE, pynvml.NVML_TEMPERATURE_GPU)),  # C
    "temperature.memory": lambda r: r.fields()[pynvml.NVML_FI_DEV_MEMORY_TEMP],  # C
    "power.usage": lambda r: num(r.q("nvmlDeviceGetPowerUsage")),  # mW
    "power.limit": lambda r: num(r.q("nvmlDeviceGetPowerManagementLimit")),  # mW
    "energy.total": lambda r: num(r.q("nvmlDeviceGetTotalEnergyConsumption")),  # mJ
    "pcie.tx": lambda r: r.pcie("tx"),  # KB/s
    "pcie.rx": lambda r: r.pcie("rx"),  # KB/s
    "pcie.replay": lambda r: num(r.q("nvmlDeviceGetPcieReplayCounter")),
    "util.gpu": lambda r: r.q_attr("nvmlDeviceGetUtilizationRates", "gpu"),  # %
    "util.memory": lambda r: r.q_attr("nvmlDeviceGetUtilizationRates", "memory"),  # %
    "util.encoder": lambda r: r.q_index("nvmlDeviceGetEncoderUtilization", 0),  # %
    "util.decoder": lambda r: r.q_index("nvmlDeviceGetDecoderUtilization", 0),  # %
    "xid.last": lambda r: r.ctx.xid_last(r.device.uuid),
    "memory.free": lambda r: r.memory_value("free"),  # bytes
    "memory.used": lambda r: r.memory_value("used"),  # bytes
    "memory.reserved": lambda r: r.memory_value("reserved"),  # bytes
    "memory.total": lambda r: r.memory_value("total"),  # bytes
    "ecc.sbe_volatile": lambda r: r.ecc(pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
    "ecc.dbe_volatile": lambda r: r.ecc(pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
    "nvlink.bandwidth_total": lambda r: r.nvlink_total(),  # KiB
    "remap.correctable": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 0),
    "remap.uncorrectable": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 1),
    "remap.failure": lambda r: r.q_index("nvmlDeviceGetRemappedRows", 3),
}


def _gpm_reader(metric_id: int) -> Callable[[DeviceReading], float | None]:
    return lambda r: r.gpm(metric_id)


READERS.update({source: _gpm_reader(mid) for source, (mid, _unit) in GPM_SOURCES.items()})  # % or MiB/s
