"""NVML's GPM API (GPU performance monitoring, Hopper and newer): DCGM's profiling fields without DCGM.

GPM answers a metric (SM activity, tensor pipe activity, DRAM bandwidth, PCIe and NVLink bytes, ...) for the
interval between two samples of the device's counters: ``nvmlGpmSampleGet`` twice, then ``nvmlGpmMetricsGet``
with both. :class:`GpmSampler` keeps each GPU's previous sample between scrapes and differences the new one
against it, so a scrape never sleeps to take two samples:

* the first scrape of a GPU (and the first after a sample older than :data:`MAX_SAMPLE_AGE`) serves nothing;
* a scrape less than :data:`MIN_INTERVAL` after the previous sample (nvml.h asks for more than 100 ms) serves
  the previous interval's values again and keeps the previous sample;
* a device whose ``nvmlGpmQueryDeviceSupport`` does not say supported (or a driver without GPM) serves none
  of these metrics, ever: never 0.

Every call goes through :class:`~spark_exporter.nvml.facade.Nvml`, so failures map to the usual outcomes
(one metric left out, one GPU lost, the library gone). Metric ids and units are nvml.h's
(``NVML_GPM_METRIC_*``): percentages 0-100 and MiB/s; the DCGM field catalogue scales them.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pynvml

from .facade import FunctionMissing, GpuLost, Nvml, NvmlFatal

#: Seconds: a previous sample older than this is replaced, not differenced. A difference over a longer
#: interval would report a five-minute average as "now" (Prometheus' default staleness is 5 minutes too).
MAX_SAMPLE_AGE = 300.0
#: Seconds: nvml.h asks for more than 100 ms between the two samples of one metrics call.
MIN_INTERVAL = 0.1

CLOSE_WAIT = 1.0  # seconds close() waits for a read in flight
PERCENT = "percent"  # 0.0-100.0
MIB_PER_S = "MiB/s"

#: The catalogue's ``gpm.*`` sources: NVML GPM metric id and unit.
GPM_SOURCES: dict[str, tuple[int, str]] = {
    "gpm.graphics": (pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL, PERCENT),
    "gpm.sm_active": (pynvml.NVML_GPM_METRIC_SM_UTIL, PERCENT),
    "gpm.sm_occupancy": (pynvml.NVML_GPM_METRIC_SM_OCCUPANCY, PERCENT),
    "gpm.tensor": (pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL, PERCENT),
    "gpm.tensor_hmma": (pynvml.NVML_GPM_METRIC_HMMA_TENSOR_UTIL, PERCENT),
    "gpm.tensor_imma": (pynvml.NVML_GPM_METRIC_IMMA_TENSOR_UTIL, PERCENT),
    "gpm.tensor_dfma": (pynvml.NVML_GPM_METRIC_DFMA_TENSOR_UTIL, PERCENT),
    "gpm.fp16": (pynvml.NVML_GPM_METRIC_FP16_UTIL, PERCENT),
    "gpm.fp32": (pynvml.NVML_GPM_METRIC_FP32_UTIL, PERCENT),
    "gpm.fp64": (pynvml.NVML_GPM_METRIC_FP64_UTIL, PERCENT),
    "gpm.dram": (pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL, PERCENT),
    "gpm.pcie_tx": (pynvml.NVML_GPM_METRIC_PCIE_TX_PER_SEC, MIB_PER_S),
    "gpm.pcie_rx": (pynvml.NVML_GPM_METRIC_PCIE_RX_PER_SEC, MIB_PER_S),
    "gpm.nvlink_tx": (pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC, MIB_PER_S),
    "gpm.nvlink_rx": (pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC, MIB_PER_S),
}
UNITS = {mid: unit for mid, unit in GPM_SOURCES.values()}
PERCENT_SLACK = 1.0  # percentage points over 100 still read as 100 (rounding in the counters' difference)


def sample_id(sample: Any) -> int | None:
    """The address of an opaque ``c_nvmlGpmSample_t`` (an identity; never dereferenced); None if NULL."""
    return ctypes.cast(sample, ctypes.c_void_p).value


def opaque_sample(n: int) -> Any:
    """A ``c_nvmlGpmSample_t`` whose address is ``n`` (> 0), for NVML stand-ins; never dereferenced."""
    return ctypes.cast(ctypes.c_void_p(n), pynvml.c_nvmlGpmSample_t)


def plausible(metric_id: int, value: float) -> float | None:
    """``value`` if it can be true for ``metric_id``'s unit (a percentage in [0, 100], a rate >= 0), else None."""
    if math.isnan(value) or value < 0:
        return None
    if UNITS.get(metric_id) == PERCENT:
        if value > 100 + PERCENT_SLACK:
            return None
        return min(value, 100.0)
    return value if math.isfinite(value) else None


@dataclass
class _GpuState:
    supported: bool
    samples: list[Any] = field(default_factory=list)  # two allocated sample buffers, used in turn
    prev: int | None = None  # index into samples of the previous sample
    prev_at: float = 0.0  # monotonic seconds
    last: dict[int, float] | None = None  # the previous interval's values


@dataclass(frozen=True)
class GpmReading:
    """One GPU's GPM metrics for the interval since the previous scrape.

    ``values``: metric id -> value in nvml.h's unit (only metrics that answered and are plausible);
    ``None`` when the device has no GPM. ``pending``: there is no interval yet (first scrape, or the previous
    sample was too old or failed): the values are not unsupported, just not there yet.
    """

    values: dict[int, float] | None
    pending: bool = False


UNSUPPORTED = GpmReading(None)
PENDING = GpmReading(None, pending=True)


class GpmSampler:
    """Per-GPU GPM state between scrapes (support, two sample buffers, the previous sample, its time).

    :meth:`read` is called once per GPU and scrape; GpuLost and NvmlFatal propagate from it.
    """

    def __init__(self, nvml: Nvml, metric_ids: Iterable[int], clock: Callable[[], float]) -> None:
        self.nvml = nvml
        self.metric_ids = tuple(dict.fromkeys(metric_ids))
        self._clock = clock
        self._state: dict[str, _GpuState] = {}
        self._lock = threading.Lock()
        self._request: Any = None  # a c_nvmlGpmMetricsGet_t, reused (about 19 KB)

    def read(self, handle: Any, uuid: str) -> GpmReading:
        """This interval's metrics of one GPU (see :class:`GpmReading`)."""
        if not self.metric_ids:
            return UNSUPPORTED
        with self._lock:
            st = self._state.get(uuid)
            if st is None:
                st = self._state[uuid] = _GpuState(self._supported(handle))
            if not st.supported:
                return UNSUPPORTED
            return self._read(handle, st)

    def _supported(self, handle: Any) -> bool:
        support = self.nvml.query("nvmlGpmQueryDeviceSupport", handle)
        return bool(support is not None and getattr(support, "isSupportedDevice", 0))

    def _read(self, handle: Any, st: _GpuState) -> GpmReading:
        now = self._clock()
        if st.prev is not None and now - st.prev_at < MIN_INTERVAL:
            return GpmReading(dict(st.last)) if st.last is not None else PENDING
        if len(st.samples) < 2:
            for _ in range(2 - len(st.samples)):
                s = self.nvml.query("nvmlGpmSampleAlloc")
                if s is None:
                    return PENDING
                st.samples.append(s)
        cur = 0 if st.prev is None else 1 - st.prev
        if self.nvml.query("nvmlGpmSampleGet", handle, st.samples[cur]) is None:
            st.prev, st.last = None, None
            return PENDING
        prev, prev_at = st.prev, st.prev_at
        st.prev, st.prev_at = cur, now
        if prev is None or now - prev_at > MAX_SAMPLE_AGE:
            st.last = None
            return PENDING
        values = self._metrics(st.samples[prev], st.samples[cur])
        st.last = values
        return PENDING if values is None else GpmReading(values)

    def _metrics(self, older: Any, newer: Any) -> dict[int, float] | None:
        mg = self._request
        if mg is None:  # ids, count and version are set once: NVML writes only nvmlReturn and value
            mg = self._request = pynvml.c_nvmlGpmMetricsGet_t()
            mg.version = pynvml.NVML_GPM_METRICS_GET_VERSION
            mg.numMetrics = len(self.metric_ids)
            metrics = mg.metrics
            for i, mid in enumerate(self.metric_ids):
                metrics[i].metricId = mid
        mg.sample1, mg.sample2 = older, newer
        answer = self.nvml.query("nvmlGpmMetricsGet", mg)
        if answer is None:
            return None
        out: dict[int, float] = {}
        metrics = answer.metrics  # pynvml's structs resolve every attribute in Python: read each once
        for i, mid in enumerate(self.metric_ids):
            m = metrics[i]
            if m.nvmlReturn != pynvml.NVML_SUCCESS:
                continue
            v = plausible(mid, float(m.value))
            if v is not None:
                out[mid] = v
        return out

    def supported_count(self) -> int:
        """How many GPUs seen so far have GPM."""
        with self._lock:
            return sum(1 for st in self._state.values() if st.supported)

    def forget(self, uuid: str) -> None:
        """Drop one GPU's state (it was lost): its samples are freed, support is asked again when it returns."""
        with self._lock:
            st = self._state.pop(uuid, None)
        if st is not None:
            self._free(st)

    def close(self) -> None:
        """Free every sample buffer (best effort: NVML may already be gone).

        Waits at most CLOSE_WAIT seconds for a read in flight: a GPM call hung in the driver must not hang
        shut-down or an NVML reset too; its buffers are then left to NVML's own shut-down.
        """
        if not self._lock.acquire(timeout=CLOSE_WAIT):
            return
        try:
            states, self._state = list(self._state.values()), {}
        finally:
            self._lock.release()
        for st in states:
            self._free(st)

    def _free(self, st: _GpuState) -> None:
        for s in st.samples:
            try:
                self.nvml.call("nvmlGpmSampleFree", s)
            except (pynvml.NVMLError, NvmlFatal, GpuLost, FunctionMissing):
                pass  # the device or the library is gone; the buffer goes with it
        st.samples.clear()
