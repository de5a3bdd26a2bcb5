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
from .._files import read_text
from .memory import Memory, is_unified, nvml_memory, unified_memory

NVLINK_FIELDS = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)
#: NVML's "not available" sentinels (unsigned int and unsigned long long all ones).
NOT_AVAILABLE = frozenset({0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF})
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


@dataclass(frozen=True)
class Process:
    """A process on a GPU: pid, name, and used GPU memory in bytes (``None`` when NVML does not know)."""

    pid: int
    name: str
    used: int | None  # bytes; None: NVML does not know


@dataclass(frozen=True)
class ReadingContext:
    """What a reading needs from outside NVML's per-device calls."""

    pcie: Callable[[str], Any]  # uuid -> PcieSample | None
    xid_last: Callable[[str], float | None]  # uuid -> last XID code
    process_name: Callable[[int], str]  # pid -> name
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

    def once(self, key: Any, fn: Callable[[], Any]) -> Any:
        """``fn()`` the first time ``key`` is asked for in this collection, the cached answer afterwards."""
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def q(self, fn: str, *args: Any) -> Any:
        """``Nvml.query(fn, handle, *args)``, at most once per collection; ``None`` when unavailable.

        GpuLost or NvmlFatal propagate.
        """
        return self.once((fn, *args), lambda: self.nvml.query(fn, self.h, *args))

    def chain(self, fns: tuple[str, ...], *args: Any) -> Any:
        """``Nvml.query_chain(fns, handle, *args)`` (newest variant first), at most once per collection.

        GpuLost or NvmlFatal propagate.
        """
        return self.once((fns, *args), lambda: self.nvml.query_chain(fns, self.h, *args))

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

    def processes(self) -> list[Process] | None:
        """Compute and graphics processes, one entry per pid; None if NVML cannot list them."""
        return self.once("processes", self._read_processes)  # type: ignore[no-any-return]

    def _read_processes(self) -> list[Process] | None:
        lists = [self.chain(COMPUTE_PROCESSES), self.chain(GRAPHICS_PROCESSES)]
        if all(lst is None for lst in lists):
            return None
        info = self.memory_info()
        limit = num(info.total) if info is not None else None
        used: dict[int, int | None] = {}
        for lst in lists:
            for p in lst or ():
                pid = int(p.pid)
                if not 0 < pid <= self.ctx.pid_max:
                    continue  # cannot be a process
                mem = None if num(p.usedGpuMemory) is None else int(p.usedGpuMemory)
                if mem is not None and limit is not None and mem > limit:
                    mem = None  # more than the device holds
                prev = used.get(pid)
                used[pid] = mem if prev is None else (prev if mem is None else max(prev, mem))
        return [Process(pid, self.ctx.process_name(pid), mem) for pid, mem in sorted(used.items())]

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
                return unified_memory(host, None if procs is None else [p.used for p in procs])
        return None if info is None else nvml_memory(info)

    def memory_value(self, attr: str) -> float | None:
        """One Memory attribute (``total``, ``free``, ``used``, ``reserved``), bytes; ``None`` when unknown."""
        m = self.memory()
        return None if m is None else getattr(m, attr)

    def pcie(self, attr: str) -> float | None:
        """One attribute of the PCIe sampler's latest reading for this GPU; ``None`` when there is none."""
        s = self.ctx.pcie(self.device.uuid)
        return None if s is None else getattr(s, attr)


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
