"""Background NVML work that must stay off the collection path: XID events and PCIe throughput.

Each runs in one daemon thread that checks a stop flag at least every poll interval (``POLL_MS`` for
the XID wait on a real driver, ``LIBRARY_POLL_MS`` for the simulator or a replay; the PCIe sampler waits
on the flag itself) and is joined on ``stop()``. A new one is only started once the previous thread has
ended, so a hung NVML call can pin at most one thread of each kind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pynvml
import structlog

from .base import handle_key
from .facade import FunctionMissing, GpuLost, Nvml, NvmlFatal, error_code, error_name, to_str

log = structlog.get_logger(component="nvml")

POLL_MS = 500  # ms one nvmlEventSetWait blocks on a real driver before the stop flag is checked again
LIBRARY_POLL_MS = 20  # ms for an in-process library (simulator, replay): a wait there costs no driver call
JOIN_TIMEOUT = 2.0  # seconds stop() waits for a thread

# The most common XID codes and what they mean (NVIDIA's XID catalogue), for the err_msg label.
XID_MESSAGES = {
    0: "No Error",
    8: "GPU stopped processing",
    13: "Graphics Engine Exception",
    31: "GPU memory page fault",
    32: "Invalid or corrupted push buffer stream",
    38: "Driver firmware error",
    43: "GPU stopped processing",
    45: "Preemptive cleanup, due to previous errors",
    48: "Double Bit ECC Error",
    61: "Internal micro-controller breakpoint/warning",
    62: "Internal micro-controller halt",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    68: "NVDEC0 Exception",
    69: "Graphics Engine class error",
    74: "NVLINK Error",
    79: "GPU has fallen off the bus",
    92: "High single-bit ECC error rate",
    94: "Contained ECC error",
    95: "Uncontained ECC error",
    109: "Context Switch Timeout Error",
    119: "GSP RPC Timeout",
    120: "GSP Error",
    140: "Unrecovered ECC Error",
}


def xid_message(code: int) -> str:
    """NVIDIA's description of XID ``code``, or ``"Unknown Error"``."""
    return XID_MESSAGES.get(code, "Unknown Error")


@dataclass(frozen=True)
class WatchedDevice:
    """A GPU the background threads watch: its NVML handle and UUID."""

    handle: Any
    uuid: str


class XidWatcher:
    """Waits on an NVML event set for critical XID events and reports ``(uuid, xid)`` to ``on_xid``.

    ``poll_ms`` is how long one wait blocks before the stop flag is checked again, so ``stop()`` returns
    within about that long (plus any hung call, bounded by ``join_timeout`` seconds).
    """

    def __init__(self, nvml: Nvml, on_xid: Callable[[str, int], None], poll_ms: int = POLL_MS,
                 join_timeout: float = JOIN_TIMEOUT) -> None:
        self.nvml = nvml
        self.on_xid = on_xid
        self.poll_ms = poll_ms
        self.join_timeout = join_timeout
        self.watched: set[str] = set()  # UUIDs registered for XID events
        self._uuids: dict[Any, str] = {}  # handle_key -> UUID, so a lost GPU's XID still finds its GPU
        self._event_set: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, devices: Sequence[WatchedDevice]) -> bool:
        """Register every device; start the thread if at least one accepted. Returns whether any did."""
        try:
            self._event_set = self.nvml.call("nvmlEventSetCreate")
        except (pynvml.NVMLError, FunctionMissing, GpuLost) as e:
            log.warning("gpu_xid_events_unsupported", reason=f"nvmlEventSetCreate: {error_name(e)}")
            return False
        refused: dict[str, str] = {}
        for d in devices:
            try:
                self.nvml.call("nvmlDeviceRegisterEvents", d.handle, pynvml.nvmlEventTypeXidCriticalError,
                               self._event_set)
                self.watched.add(d.uuid)
                self._uuids[handle_key(d.handle)] = d.uuid
            except (pynvml.NVMLError, FunctionMissing, GpuLost) as e:
                refused[d.uuid] = error_name(e)
        if refused:
            log.warning("gpu_xid_events_unsupported", devices=",".join(sorted(refused)),
                        reason=",".join(sorted(set(refused.values()))))
        if not self.watched:
            self._free()
            return False
        self._thread = threading.Thread(target=self._run, name="gpu-xid-events", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.nvml.call("nvmlEventSetWait_v2", self._event_set, self.poll_ms)
            except pynvml.NVMLError as e:
                if error_code(e) == pynvml.NVML_ERROR_TIMEOUT:
                    continue
                log.warning("gpu_xid_wait_failed", error=error_name(e))
                return
            except (NvmlFatal, GpuLost, FunctionMissing) as e:
                # The collector sees the same failure on its next call and acts on it.
                log.warning("gpu_xid_wait_failed", error=str(e))
                return
            if data.eventType & pynvml.nvmlEventTypeXidCriticalError:
                self._deliver(data)

    def _deliver(self, data: Any) -> None:
        uuid = self._uuids.get(handle_key(data.device))
        if uuid is None:  # a handle NVML made anew for the event: ask for its UUID
            try:
                uuid = to_str(self.nvml.call("nvmlDeviceGetUUID", data.device))
            except (pynvml.NVMLError, NvmlFatal, GpuLost, FunctionMissing) as e:
                log.warning("gpu_xid_device_unknown", xid=int(data.eventData), error=str(e))
                return
        xid = int(data.eventData)
        log.warning("gpu_xid_error", uuid=uuid, xid=xid, message=xid_message(xid))
        self.on_xid(uuid, xid)

    @property
    def alive(self) -> bool:
        """True while the watcher thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Ask the thread to stop, join it for up to ``join_timeout`` s, and free the event set once it has exited."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_timeout)
        if not self.alive:
            self._free()

    def _free(self) -> None:
        if self._event_set is not None:
            try:
                self.nvml.call("nvmlEventSetFree", self._event_set)
            except (pynvml.NVMLError, NvmlFatal, GpuLost, FunctionMissing):
                pass  # NVML is being torn down; the set goes with it
            self._event_set = None


@dataclass(frozen=True)
class PcieSample:
    """One PCIe throughput reading: tx and rx in KB/s (``None`` when unavailable), taken at ``at``
    (monotonic seconds).
    """

    tx: float | None  # KB/s
    rx: float | None  # KB/s
    at: float  # monotonic seconds


class PcieSampler:
    """Samples PCIe TX/RX throughput every ``interval`` seconds in its own thread.

    ``nvmlDeviceGetPcieThroughput`` blocks for about 20 ms per direction and GPU (320 ms for 8 GPUs),
    so it never runs inside ``collect()``: the collector reads the latest sample, and drops one that is
    older than three intervals. A device that answers NotSupported in both directions is not asked again.
    """

    def __init__(self, nvml: Nvml, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.nvml = nvml
        self.interval = interval
        self._clock = clock
        self._samples: dict[str, PcieSample] = {}
        self._unsupported: set[str] = set()
        self._lost: set[str] = set()  # GPUs that answered GpuIsLost; the collector re-discovers them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, devices: Sequence[WatchedDevice]) -> None:
        """Start the daemon sampling thread over ``devices``."""
        self._thread = threading.Thread(target=self._run, args=(list(devices),), name="gpu-pcie-sampler",
                                        daemon=True)
        self._thread.start()

    def _run(self, devices: list[WatchedDevice]) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once(devices)
            except NvmlFatal as e:
                log.warning("gpu_pcie_sampling_stopped", error=str(e))
                return
            self._stop.wait(self.interval)

    def sample_once(self, devices: Sequence[WatchedDevice]) -> None:
        """Read nvmlDeviceGetPcieThroughput TX and RX (KB/s) for each device once and store the samples.

        A GPU that is lost or answers neither direction is skipped from then on.
        """
        for d in devices:
            if self._stop.is_set():
                return
            if d.uuid in self._unsupported or d.uuid in self._lost:
                continue
            try:
                tx = self.nvml.query("nvmlDeviceGetPcieThroughput", d.handle, pynvml.NVML_PCIE_UTIL_TX_BYTES)
                rx = self.nvml.query("nvmlDeviceGetPcieThroughput", d.handle, pynvml.NVML_PCIE_UTIL_RX_BYTES)
            except GpuLost:
                self._lost.add(d.uuid)
                continue
            if tx is None and rx is None:
                self._unsupported.add(d.uuid)
                continue
            with self._lock:
                self._samples[d.uuid] = PcieSample(tx, rx, self._clock())

    def latest(self, uuid: str) -> PcieSample | None:
        """The latest sample for ``uuid``, or None when there is none or it is older than 3 intervals."""
        with self._lock:
            s = self._samples.get(uuid)
        if s is None or self._clock() - s.at > 3 * self.interval:
            return None
        return s

    def pending(self, uuid: str) -> bool:
        """True while ``uuid`` has never been sampled and is not known to lack PCIe throughput (or lost)."""
        with self._lock:
            return uuid not in self._samples and uuid not in self._unsupported and uuid not in self._lost

    @property
    def alive(self) -> bool:
        """True while the sampling thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Ask the thread to stop and join it for up to JOIN_TIMEOUT s."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
