"""The simulator's ``pynvml`` call surface, for ``--gpu.simulate=PROFILE``, ``gpu record`` and tests.

The collector is handed either the ``pynvml`` module or a :class:`SimulatedNvml` and calls the same
function names with the same arguments; failures are raised as ``pynvml``'s own error classes, so the
facade maps them exactly as it maps real ones. Device facts live in :mod:`.profiles`, the load over time
in :mod:`.load`. Fault injection (lost GPUs, hung calls, driver reloads) is test-only and lives in the
test tree (``tests/helpers/sim_faults.py``), which overrides :meth:`SimulatedNvml._enter`.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pynvml

from .gpm import opaque_sample, sample_id
from .load import LoadModel, unit
from .profiles import MIB, MODELS, PROCESS_NAMES, parse_profile

NVLINK_FIELDS = (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)
NVLINK_KIB_PER_S = 25 * 1024 * 1024  # KiB/s per link and direction at full load (~25 GiB/s)

#: GPM metric id -> share of the average load over the interval (percent = 100 x share x load; MiB/s for the
#: bandwidth metrics: peak x load). Roughly an LLM's decode step: tensor-heavy, little FP64.
GPM_SHARES: dict[int, float] = {
    pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL: 1.0,
    pynvml.NVML_GPM_METRIC_SM_UTIL: 0.9,
    pynvml.NVML_GPM_METRIC_SM_OCCUPANCY: 0.45,
    pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL: 0.6,
    pynvml.NVML_GPM_METRIC_HMMA_TENSOR_UTIL: 0.55,
    pynvml.NVML_GPM_METRIC_IMMA_TENSOR_UTIL: 0.05,
    pynvml.NVML_GPM_METRIC_DFMA_TENSOR_UTIL: 0.0,
    pynvml.NVML_GPM_METRIC_FP16_UTIL: 0.12,
    pynvml.NVML_GPM_METRIC_FP32_UTIL: 0.25,
    pynvml.NVML_GPM_METRIC_FP64_UTIL: 0.01,
    pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL: 0.5,
}
GPM_PCIE_MIB_PER_S = {pynvml.NVML_GPM_METRIC_PCIE_TX_PER_SEC: 8600.0, pynvml.NVML_GPM_METRIC_PCIE_RX_PER_SEC: 5700.0}
GPM_NVLINK_MIB_PER_S = {pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC: 18 * 0.7 * 25 * 1024.0,
                        pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC: 18 * 0.6 * 25 * 1024.0}

F = TypeVar("F", bound=Callable[..., Any])


def _err(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


@dataclass(frozen=True)
class SimHandle:
    """Stands in for ``c_nvmlDevice_t``."""

    index: int


class SimEventSet:
    """Stands in for ``c_nvmlEventSet_t``: a queue of XID event data and the GPU indices registered on it."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Any] = queue.Queue()
        self.devices: set[int] = set()
        self.freed = False


@dataclass
class SimGpu:
    """One simulated GPU: index, UUID, PCI bus id, load model and the pids of its processes."""

    index: int
    uuid: str
    bus_id: str
    load: LoadModel
    pids: tuple[int, ...]


def _api(fn: F) -> F:
    """Run :meth:`SimulatedNvml._enter` (counting, initialisation, test faults) before every call."""

    @functools.wraps(fn)
    def wrapper(self: SimulatedNvml, *args: Any) -> Any:
        self._enter(fn.__name__, args)
        return fn(self, *args)

    return wrapper  # type: ignore[return-value]


class SimulatedNvml:
    """The subset of ``pynvml`` the GPU collector calls, backed by a time-driven model.

    Every call but nvmlInit raises NVMLError(UNINITIALIZED) before nvmlInit or after nvmlShutdown.
    """

    def __init__(self, profile: str, seed: int = 0, clock: Callable[[], float] | None = None) -> None:
        self.profile = profile.strip().lower()
        kind, count = parse_profile(profile)
        self.model = MODELS[kind]
        self.seed = seed
        # A lambda, not time.time itself, so freezegun's patching of time.time is seen.
        self._clock = clock or (lambda: time.time())
        self._t0 = self._clock()
        self.gpus = [self._make_gpu(i) for i in range(count)]
        self._initialized = False
        self._driver = self.model.driver
        self._lock = threading.Lock()
        self._event_sets: list[SimEventSet] = []
        # Variations a subclass may set (tests/helpers/sim_faults.py); the shipped simulator never changes them.
        self._events_supported = True
        self._host_total: int | None = None  # a unified-memory driver that reports the host's total
        self._unsupported_fields: set[int] = set()
        self._gpm_unsupported: set[int] = set()  # GPU indices whose GPM support is switched off (tests)
        self._gpm_samples: dict[int, tuple[int, float, float] | None] = {}  # id -> (gpu, time, load-seconds)
        self._gpm_next = 0
        self.calls: dict[str, int] = {}

    def _make_gpu(self, i: int) -> SimGpu:
        digest = hashlib.sha256(f"spark-exporter-sim:{self.profile}:{self.seed}:{i}".encode()).digest()
        bus = self.model.bus_ids[i] if i < len(self.model.bus_ids) else f"00000000:{0x10 + i:02X}:00.0"
        nprocs = 1 + int(unit(self.seed, i, "nprocs") * len(self.model.process_mib))
        # below 32768, the kernel's default pid_max, so no host drops them as impossible pids
        pids = tuple(1000 + int(unit(self.seed, i, "pid", k) * 31000) for k in range(nprocs))
        return SimGpu(index=i, uuid=f"GPU-{uuid.UUID(bytes=digest[:16])}", bus_id=bus,
                      load=LoadModel.for_gpu(self.seed, i), pids=pids)

    def __getattr__(self, name: str) -> Any:
        # Constants and error classes (NVML_CLOCK_SM, NVMLError_NotSupported, ...) are pynvml's own.
        if name.startswith(("NVML", "nvmlClocks", "nvmlEventType", "nvmlMemory")):
            return getattr(pynvml, name)
        raise AttributeError(name)

    def _enter(self, fn: str, args: tuple[Any, ...]) -> None:
        """Runs before every simulated call: counts it and enforces initialisation."""
        self.calls[fn] = self.calls.get(fn, 0) + 1
        if fn != "nvmlInit" and not self._initialized:
            raise _err(pynvml.NVML_ERROR_UNINITIALIZED)

    # -- the load model -----------------------------------------------------------------------------

    def _now(self) -> float:
        return float(self._clock())

    def _smooth(self, g: SimGpu, t: float) -> float:
        return g.load.smooth(t)

    def _load(self, g: SimGpu, t: float) -> float:
        return g.load.load(t)

    def _elapsed(self, g: SimGpu, t: float) -> float:
        """Load-seconds since the simulator started."""
        return g.load.elapsed(self._t0, t)

    def _power(self, g: SimGpu, t: float) -> float:  # W
        m = self.model
        return m.power_idle + (m.power_max - m.power_idle) * self._load(g, t)

    def _gpu(self, h: SimHandle) -> SimGpu:
        if not isinstance(h, SimHandle) or not 0 <= h.index < len(self.gpus):
            raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[h.index]

    def _process_bytes(self, g: SimGpu, k: int, t: float) -> int:
        mib = self.model.process_mib[k % len(self.model.process_mib)]
        return int(mib * (0.6 + 0.4 * self._smooth(g, t))) * MIB

    # -- the pynvml call surface --------------------------------------------------------------------

    @_api
    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        """Mark the library initialised (never fails)."""
        self._initialized = True

    @_api
    def nvmlShutdown(self) -> None:  # noqa: N802
        """Mark the library shut down."""
        self._initialized = False

    @_api
    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        """The profile's driver version string."""
        return self._driver

    @_api
    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        """The number of simulated GPUs."""
        return len(self.gpus)

    @_api
    def nvmlDeviceGetHandleByIndex(self, index: int) -> SimHandle:  # noqa: N802
        """A SimHandle for GPU ``index``; NVMLError(INVALID_ARGUMENT) when out of range."""
        if not 0 <= index < len(self.gpus):
            raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return SimHandle(index)

    @_api
    def nvmlDeviceGetUUID(self, h: SimHandle) -> str:  # noqa: N802
        """The GPU's UUID string; NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        return self._gpu(h).uuid

    @_api
    def nvmlDeviceGetName(self, h: SimHandle) -> str:  # noqa: N802
        """The profile's model name; NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        self._gpu(h)
        return self.model.name

    @_api
    def nvmlDeviceGetPciInfo(self, h: SimHandle) -> Any:  # noqa: N802
        """An ``nvmlPciInfo_t`` with only ``busId`` set (bytes); NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        info = pynvml.nvmlPciInfo_t()
        info.busId = self._gpu(h).bus_id.encode()
        return info

    @_api
    def nvmlDeviceGetUtilizationRates(self, h: SimHandle) -> Any:  # noqa: N802
        """A ``c_nvmlUtilization_t``: gpu and memory busy, percent, from the load model.

        NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        u = pynvml.c_nvmlUtilization_t()
        u.gpu = round(100 * self._load(g, t))
        u.memory = round(55 * self._load(g, t) * self._smooth(g, t))
        return u

    @_api
    def nvmlDeviceGetMemoryInfo(self, h: SimHandle, version: int | None = None) -> Any:  # noqa: N802
        """``c_nvmlMemory_v2_t`` when ``version`` is given, else ``c_nvmlMemory_t``; bytes.

        Used is the sum of the processes' memory. NVMLError(NOT_SUPPORTED) on a unified-memory model
        without a host total; NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        m = self.model
        if m.unified and self._host_total is None:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        total = self._host_total if m.unified and self._host_total is not None else m.memory_total
        used = sum(self._process_bytes(g, k, t) for k in range(len(g.pids)))
        free = max(0, total - m.memory_reserved - used)
        if version:
            mem = pynvml.c_nvmlMemory_v2_t()
            mem.version, mem.total, mem.reserved = version, total, m.memory_reserved
            mem.free, mem.used = free, used
            return mem
        mem1 = pynvml.c_nvmlMemory_t()
        mem1.total, mem1.free, mem1.used = total, free, total - free
        return mem1

    @_api
    def nvmlDeviceGetTemperature(self, h: SimHandle, sensor: int) -> int:  # noqa: N802
        """GPU temperature in °C; NVMLError(INVALID_ARGUMENT) for a sensor other than
        NVML_TEMPERATURE_GPU or a foreign handle.
        """
        g = self._gpu(h)
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._temperature(g, self._now())

    def nvmlDeviceGetTemperatureV(self, h: SimHandle, sensor: int, version: int = 0) -> int:  # noqa: N802
        """The versioned call that replaces :meth:`nvmlDeviceGetTemperature` (deprecated in NVML 13)."""
        return self.nvmlDeviceGetTemperature(h, sensor)

    def _temperature(self, g: SimGpu, t: float) -> int:  # C
        return round(32 + 40 * self._smooth(g, t) + 3 * unit(self.seed, g.index, "temp", int(t) // 10))

    @_api
    def nvmlDeviceGetFieldValues(self, h: SimHandle, field_ids: list[Any]) -> Any:  # noqa: N802
        """A ``c_nvmlFieldValue_t`` array, one per id (``id`` or ``(id, scope)``), unsigned long long values.

        A field the model lacks gets nvmlReturn NOT_SUPPORTED; NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        out = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for i, fid in enumerate(field_ids):
            field_id, scope = fid if isinstance(fid, tuple) else (fid, 0)
            out[i].fieldId, out[i].scopeId, out[i].timestamp = field_id, scope, int(t * 1e6)
            value = self._field(g, t, field_id, scope)
            if value is None:
                out[i].nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
                continue
            out[i].nvmlReturn = pynvml.NVML_SUCCESS
            out[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
            out[i].value.ullVal = value
        return out

    def _field(self, g: SimGpu, t: float, field_id: int, scope: int) -> int | None:
        m = self.model
        if field_id in self._unsupported_fields:
            return None
        if field_id == pynvml.NVML_FI_DEV_MEMORY_TEMP:
            return None if m.unified else self._temperature(g, t) + 6
        if field_id == pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT:
            return m.nvlinks or None
        if field_id in NVLINK_FIELDS:
            if scope >= m.nvlinks:
                return None
            share = 0.7 if field_id == pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX else 0.6
            base = int(unit(self.seed, g.index, "nvlink", scope) * 2**30)  # KiB moved before start
            return base + int(self._elapsed(g, t) * share * NVLINK_KIB_PER_S / 4)
        return None

    @_api
    def nvmlDeviceGetPowerUsage(self, h: SimHandle) -> int:  # noqa: N802
        """Power draw in mW from the load model; NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        return round(self._power(self._gpu(h), self._now()) * 1000)  # mW

    @_api
    def nvmlDeviceGetPowerManagementLimit(self, h: SimHandle) -> int:  # noqa: N802
        """The profile's power limit in mW.

        NVMLError(NOT_SUPPORTED) for a model without one, or NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        self._gpu(h)
        if self.model.power_limit is None:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return round(self.model.power_limit * 1000)  # mW

    @_api
    def nvmlDeviceGetTotalEnergyConsumption(self, h: SimHandle) -> int:  # noqa: N802
        """Energy since an arbitrary origin in mJ (monotonic); NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        g, t = self._gpu(h), self._now()
        m = self.model
        joules_before = 1e6 * (1 + unit(self.seed, g.index, "energy"))  # J consumed before the start
        joules = m.power_idle * (t - self._t0) + (m.power_max - m.power_idle) * self._elapsed(g, t)
        return int((joules_before + joules) * 1000)  # mJ

    @_api
    def nvmlDeviceGetClockInfo(self, h: SimHandle, clock_type: int) -> int:  # noqa: N802
        """SM clock (scaled by load) or memory clock in MHz; NVMLError(NOT_SUPPORTED) for other
        clocks or a model without a memory clock; NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        if clock_type == pynvml.NVML_CLOCK_SM:
            lo, hi = self.model.sm_clock
            return lo + round((hi - lo) * min(1.0, 1.4 * self._load(g, t)))
        if clock_type == pynvml.NVML_CLOCK_MEM and self.model.mem_clock is not None:
            return self.model.mem_clock
        raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)

    @_api
    def nvmlDeviceGetPcieThroughput(self, h: SimHandle, counter: int) -> int:  # noqa: N802
        """PCIe TX or RX throughput in KB/s, scaled by load.

        NVMLError(NOT_SUPPORTED) for a model without PCIe, or NVMLError(INVALID_ARGUMENT) for a foreign
        handle.
        """
        g, t = self._gpu(h), self._now()
        if not self.model.pcie:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        peak = 9_000_000 if counter == pynvml.NVML_PCIE_UTIL_TX_BYTES else 6_000_000  # KB/s
        return round(peak * self._load(g, t))

    @_api
    def nvmlDeviceGetPcieReplayCounter(self, h: SimHandle) -> int:  # noqa: N802
        """A small fixed replay count per GPU.

        NVMLError(NOT_SUPPORTED) for a model without PCIe, or NVMLError(INVALID_ARGUMENT) for a foreign
        handle.
        """
        g = self._gpu(h)
        if not self.model.pcie:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return int(unit(self.seed, g.index, "replay") * 4)

    @_api
    def nvmlDeviceGetEncoderUtilization(self, h: SimHandle) -> list[int]:  # noqa: N802
        """``[percent, sampling period in us]``: always ``[0, 167000]``.

        NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        self._gpu(h)
        return [0, 167000]  # %, sampling period in us

    @_api
    def nvmlDeviceGetDecoderUtilization(self, h: SimHandle) -> list[int]:  # noqa: N802
        """``[percent, sampling period in us]``.

        Busy on even-indexed GPUs only; NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        return [round(12 * self._smooth(g, t)) if g.index % 2 == 0 else 0, 167000]

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h: SimHandle) -> int:  # noqa: N802
        """The pre-12.x name of :meth:`nvmlDeviceGetCurrentClocksEventReasons`."""
        return self.nvmlDeviceGetCurrentClocksEventReasons(h)

    @_api
    def nvmlDeviceGetCurrentClocksEventReasons(self, h: SimHandle) -> int:  # noqa: N802
        """A clocks-event-reason bitmask: GpuIdle at low load, SwPowerCap near the limit, else 0.

        NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        load = self._load(g, t)
        if load < 0.12:
            return int(pynvml.nvmlClocksEventReasonGpuIdle)
        if self.model.power_limit and self._power(g, t) > 0.9 * self.model.power_limit:
            return int(pynvml.nvmlClocksEventReasonSwPowerCap)
        return 0

    @_api
    def nvmlDeviceGetEccMode(self, h: SimHandle) -> list[int]:  # noqa: N802
        """``[current, pending]``, both NVML_FEATURE_ENABLED.

        NVMLError(NOT_SUPPORTED) for a model without ECC, or NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        self._gpu(h)
        if not self.model.ecc:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [pynvml.NVML_FEATURE_ENABLED, pynvml.NVML_FEATURE_ENABLED]

    @_api
    def nvmlDeviceGetTotalEccErrors(self, h: SimHandle, error_type: int, counter_type: int) -> int:  # noqa: N802
        """ECC error count: 0 uncorrected, a small fixed count corrected.

        NVMLError(NOT_SUPPORTED) for a model without ECC, or NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g = self._gpu(h)
        if not self.model.ecc:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED:
            return 0
        return int(unit(self.seed, g.index, "sbe") * 3)

    @_api
    def nvmlDeviceGetRemappedRows(self, h: SimHandle) -> tuple[int, int, int, int]:  # noqa: N802
        """``(correctable, uncorrectable, pending, failure)`` row remaps.

        NVMLError(NOT_SUPPORTED) for a model without ECC, or NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g = self._gpu(h)
        if not self.model.ecc:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return (int(unit(self.seed, g.index, "remap") * 2), 0, 0, 0)  # corr, unc, pending, failure

    @_api
    def nvmlDeviceGetComputeRunningProcesses(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """One object per process (pid, usedGpuMemory in bytes, instance ids 0xFFFFFFFF).

        NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        return [pynvml.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": self._process_bytes(g, k, t),
                                           "gpuInstanceId": 0xFFFFFFFF, "computeInstanceId": 0xFFFFFFFF})
                for k, pid in enumerate(g.pids)]

    @_api
    def nvmlDeviceGetGraphicsRunningProcesses(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """Always an empty list; NVMLError(INVALID_ARGUMENT) for a foreign handle."""
        self._gpu(h)
        return []

    # The versioned names the collector calls (newest first); the simulator answers all alike.
    def nvmlDeviceGetComputeRunningProcesses_v3(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """Same as nvmlDeviceGetComputeRunningProcesses."""
        return self.nvmlDeviceGetComputeRunningProcesses(h)

    def nvmlDeviceGetComputeRunningProcesses_v2(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """Same as nvmlDeviceGetComputeRunningProcesses."""
        return self.nvmlDeviceGetComputeRunningProcesses(h)

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """Same as nvmlDeviceGetGraphicsRunningProcesses."""
        return self.nvmlDeviceGetGraphicsRunningProcesses(h)

    def nvmlDeviceGetGraphicsRunningProcesses_v2(self, h: SimHandle) -> list[Any]:  # noqa: N802
        """Same as nvmlDeviceGetGraphicsRunningProcesses."""
        return self.nvmlDeviceGetGraphicsRunningProcesses(h)

    # -- GPM ----------------------------------------------------------------------------------------

    @_api
    def nvmlGpmQueryDeviceSupport(self, h: SimHandle) -> Any:  # noqa: N802
        """A ``c_nvmlGpmSupport_t``: supported on every simulated model (Hopper, Blackwell) unless switched off."""
        g = self._gpu(h)
        support = pynvml.c_nvmlGpmSupport_t()
        support.version = pynvml.NVML_GPM_SUPPORT_VERSION
        support.isSupportedDevice = int(g.index not in self._gpm_unsupported)
        return support

    @_api
    def nvmlGpmSampleAlloc(self) -> Any:  # noqa: N802
        """A new opaque ``c_nvmlGpmSample_t`` (an identity only)."""
        with self._lock:
            self._gpm_next += 1
            n = self._gpm_next * 64
            self._gpm_samples[n] = None
        return opaque_sample(n)

    @_api
    def nvmlGpmSampleFree(self, sample: Any) -> None:  # noqa: N802
        """Forget a sample; NVMLError(INVALID_ARGUMENT) for one never allocated."""
        with self._lock:
            if self._gpm_samples.pop(sample_id(sample) or 0, False) is False:
                raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    @_api
    def nvmlGpmSampleGet(self, h: SimHandle, sample: Any) -> Any:  # noqa: N802
        """Record the GPU's counters (its load-seconds so far) in ``sample``; NVMLError(NOT_SUPPORTED) without GPM,
        INVALID_ARGUMENT for an unknown sample or a foreign handle.
        """
        g, t = self._gpu(h), self._now()
        if g.index in self._gpm_unsupported:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        key = sample_id(sample) or 0
        with self._lock:
            if key not in self._gpm_samples:
                raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            self._gpm_samples[key] = (g.index, t, self._elapsed(g, t))
        return sample

    @_api
    def nvmlGpmMetricsGet(self, mg: Any) -> Any:  # noqa: N802
        """Fill ``mg`` (a ``c_nvmlGpmMetricsGet_t``) from the average load between its two samples.

        NVMLError(ARGUMENT_VERSION_MISMATCH) for another version; INVALID_ARGUMENT for samples not taken, of two
        GPUs, or not in time order. A metric the model lacks (PCIe, NVLink on GB10) answers NOT_SUPPORTED.
        """
        if mg.version != pynvml.NVML_GPM_METRICS_GET_VERSION:
            raise _err(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        with self._lock:
            s1 = self._gpm_samples.get(sample_id(mg.sample1) or 0)
            s2 = self._gpm_samples.get(sample_id(mg.sample2) or 0)
        if s1 is None or s2 is None or s1[0] != s2[0] or s2[1] <= s1[1]:
            raise _err(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        load = min(1.0, max(0.0, (s2[2] - s1[2]) / (s2[1] - s1[1])))  # average load over the interval
        for i in range(min(int(mg.numMetrics), pynvml.NVML_GPM_METRIC_MAX)):
            m = mg.metrics[i]
            value = self._gpm_value(int(m.metricId), load)
            m.nvmlReturn = pynvml.NVML_SUCCESS if value is not None else pynvml.NVML_ERROR_NOT_SUPPORTED
            m.value = value or 0.0
        return mg

    def _gpm_value(self, metric_id: int, load: float) -> float | None:
        if metric_id in GPM_SHARES:
            return 100.0 * GPM_SHARES[metric_id] * load  # percent
        if metric_id in GPM_PCIE_MIB_PER_S:
            return GPM_PCIE_MIB_PER_S[metric_id] * load if self.model.pcie else None  # MiB/s
        if metric_id in GPM_NVLINK_MIB_PER_S:
            return GPM_NVLINK_MIB_PER_S[metric_id] * load if self.model.nvlinks else None  # MiB/s
        return None

    @_api
    def nvmlSystemGetProcessName(self, pid: int) -> str:  # noqa: N802
        """A ``/usr/bin/<name>`` path chosen per pid; NVMLError(NOT_FOUND) for a pid on no GPU."""
        for g in self.gpus:
            if pid in g.pids:
                k = g.pids.index(pid)
                pick = int(unit(self.seed, g.index, "name", k) * len(PROCESS_NAMES))
                return "/usr/bin/" + PROCESS_NAMES[pick]
        raise _err(pynvml.NVML_ERROR_NOT_FOUND)

    @_api
    def nvmlEventSetCreate(self) -> SimEventSet:  # noqa: N802
        """A new SimEventSet, which simulated XID events are delivered to."""
        es = SimEventSet()
        with self._lock:
            self._event_sets.append(es)
        return es

    @_api
    def nvmlDeviceRegisterEvents(self, h: SimHandle, event_types: int, es: SimEventSet) -> None:  # noqa: N802
        """Register the GPU for XID critical errors (other event types are ignored).

        NVMLError(NOT_SUPPORTED) when simulated events are off; NVMLError(INVALID_ARGUMENT) for a foreign handle.
        """
        g = self._gpu(h)
        if not self._events_supported:
            raise _err(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if event_types & pynvml.nvmlEventTypeXidCriticalError:
            es.devices.add(g.index)

    @_api
    def nvmlEventSetWait_v2(self, es: SimEventSet, timeout_ms: int) -> Any:  # noqa: N802
        """The next event data, waiting up to ``timeout_ms`` ms; NVMLError(TIMEOUT) when none
        comes, NVMLError(UNINITIALIZED) on a freed set.
        """
        if es.freed:
            raise _err(pynvml.NVML_ERROR_UNINITIALIZED)
        try:
            return es.queue.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            raise _err(pynvml.NVML_ERROR_TIMEOUT) from None

    @_api
    def nvmlEventSetFree(self, es: SimEventSet) -> None:  # noqa: N802
        """Mark the set freed and stop delivering events to it."""
        with self._lock:
            es.freed = True
            if es in self._event_sets:
                self._event_sets.remove(es)


@dataclass(frozen=True)
class _SimEventData:
    """The fields of ``c_nvmlEventData_t`` the collector reads, with a simulated device handle."""

    device: SimHandle
    eventType: int  # noqa: N815 - pynvml's field names
    eventData: int  # noqa: N815
