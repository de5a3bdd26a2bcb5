"""The gpu collector's life cycle: NVML initialisation, discovery, lost GPUs, background threads, families.

The collector talks to NVML only through :class:`~spark_exporter.nvml.facade.Nvml`, which wraps the real
``pynvml`` module, the simulator (``--gpu.simulate``) or a recording (``--gpu.replay``): one code path.
Which DCGM fields are exposed, with which type, HELP text and scale, is data:
``spark_exporter/dcgm_fields.csv``.

Fault isolation (the outcome table is in docs/gpu.md):

* a field NVML cannot answer is left out of that GPU alone; the collection still succeeds;
* a GPU that answers GpuIsLost or ResetRequired (also from ``nvmlDeviceGetHandleByIndex``) is taken out:
  its series disappear, ``spark_exporter_gpu_up`` shows it as 0, and it counts as XID 79 ("fallen off
  the bus") once per loss unless the driver delivered that XID itself; it is looked for again with a
  doubling backoff and comes back when found;
* only a library-wide error (library missing, driver not loaded, uninitialised, version mismatch) fails
  the collection; then NVML is re-initialised with a doubling backoff.
"""

from __future__ import annotations

import heapq
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvml
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ...nvml.background import LIBRARY_POLL_MS, POLL_MS, PcieSampler, WatchedDevice, XidWatcher, xid_message
from ...nvml.catalogue import CatalogueError, Field, load_catalogue
from ...nvml.facade import FunctionMissing, GpuLost, Nvml, NvmlFatal, error_name, to_str
from ...nvml.gpm import GPM_SOURCES, GpmSampler
from ...nvml.library import load_library
from ...nvml.profiles import parse_profile
from ...settings import (
    ConfigError,
    ExporterConfig,
    Option,
    bool_option,
    duration_option,
    int_option,
    str_option,
)
from .. import register
from .._files import read_text
from ..base import Collector, Paths
from ..families import LabelTexts, RowFamily
from .memory import read_host_memory
from .readings import READERS, Device, DeviceReading, Pending, ReadingContext, read_pid_max

_MAX_COMM = 256  # bytes; the kernel's comm is at most 16

XID_FALLEN_OFF_THE_BUS = 79
REDISCOVER_INITIAL = 1.0  # seconds before a lost GPU is looked for again
REDISCOVER_MAX = 60.0  # seconds; the cap of the doubling backoff
# A device count above this cannot be true (the largest NVIDIA systems hold 16 GPUs; DCGM handles at most 32):
# a broken driver or recording must not make discovery walk (and log) a billion indices.
MAX_GPUS = 64


def _parse_simulate(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    parse_profile(text)  # raises ValueError naming the accepted forms
    return text


def _parse_replay(value: Any) -> str | None:
    if value is None or value == "":
        return None
    path = str(value)
    if not Path(path).exists():
        raise ValueError(f"no such recording file: {path}")
    if not Path(path).is_file():  # a FIFO or /dev/zero would block or never end
        raise ValueError(f"not a regular file: {path}")
    from ...nvml.replay import ReplayedNvml

    ReplayedNvml.from_file(path)  # so that --check-config and start-up refuse a malformed recording
    return path


OPTIONS: tuple[Option, ...] = (
    Option("gpu.simulate", _parse_simulate, None,
           "Use a simulated NVML instead of the real one: gb10, h100, or with a GPU count, h100x8.",
           metavar="PROFILE"),
    Option("gpu.replay", _parse_replay, None,
           "Serve a recording made by 'spark-exporter gpu record' instead of the real NVML.",
           metavar="FILE"),
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
                    "and GPU); 0 turns PCIe throughput off; otherwise at least 1s.", minimum=1.0),
    int_option("gpu.max-processes", 32,
               "Most processes per GPU in the per-process memory series (the largest are kept).", minimum=1),
)


def gpu_label_names(hostname_label: str) -> list[str]:
    """dcgm-exporter's label set, in its order."""
    return ["gpu", "UUID", "pci_bus_id", "device", "modelName", hostname_label, "DCGM_FI_DRIVER_VERSION"]


def gpu_label_values(index: int, uuid: str, bus_id: str, model: str, hostname: str,
                     driver: str) -> tuple[str, ...]:
    """dcgm-exporter's GPU label values as strings, in the order of gpu_label_names():
    (gpu, UUID, pci_bus_id, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION).
    """
    return (str(index), uuid, bus_id, f"nvidia{index}", model, hostname, driver)


@dataclass
class LostGpu:
    """A GPU taken out by a GPU-scoped error; looked for again at ``retry_at`` (monotonic seconds)."""

    index: int
    labels: tuple[str, ...]
    key: str  # the XID counter key: UUID, or "index:N" when it was never identified
    reason: str
    retry_at: float
    backoff: float = REDISCOVER_INITIAL


@dataclass
class DeviceResult:
    """One healthy GPU's values in one collection."""

    device: Device
    values: dict[str, float] = field(default_factory=dict)  # DCGM field -> value in DCGM units
    memory_source: str | None = None
    processes: dict[int, int | None] | None = None  # pid -> bytes (None: unknown)


@register
class GpuCollector(Collector):
    """Serves the DCGM_FI_* families and spark_exporter_gpu_* from NVML (real, simulated or replayed).

    See the module docstring. Raises ConfigError at construction when the DCGM field catalogue is invalid.
    """

    name = "gpu"
    kind = "gpu"
    options = OPTIONS

    def __init__(self, config: ExporterConfig, paths: Paths, nvml_lib: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, paths)
        try:
            self.catalogue: tuple[Field, ...] = load_catalogue(READERS)
        except CatalogueError as e:
            raise ConfigError(f"DCGM field catalogue: {e}") from None
        self._readers = [(f.name, READERS[f.source]) for f in self.catalogue]  # what each field is read with
        self.simulate: str | None = config["gpu.simulate"]
        self.replay: str | None = config["gpu.replay"]
        if self.simulate and self.replay:
            raise ConfigError("--gpu.simulate and --gpu.replay cannot be used together")
        self.seed: int = config["gpu.seed"]
        self.hostname_label: str = config["gpu.hostname-label"]
        self.unified_mode: str = config["gpu.unified-memory"]
        self.process_metrics: bool = config["gpu.process-metrics"]
        self.pcie_interval: float = config["gpu.pcie-interval"]
        self.max_processes: int = config["gpu.max-processes"]
        self.hostname = socket.gethostname()
        self.label_names = tuple(gpu_label_names(self.hostname_label))
        # Label text per label set, written once (label_text()): a GPU's changes only at discovery.
        names = self.label_names
        self._text = LabelTexts(names, 4 * MAX_GPUS)
        self._text_xid_last = LabelTexts((*names, "err_code", "err_msg"), 64 * MAX_GPUS)
        self._text_memory_info = LabelTexts((*names, "memory_source"), 4 * MAX_GPUS)
        self._text_xid = LabelTexts((*names, "xid"), 64 * MAX_GPUS)
        self._text_process = LabelTexts((*names, "pid", "process_name"), 20_000)
        if nvml_lib is None:
            try:
                nvml_lib = load_library(self.simulate, self.seed, self.replay)
            except ValueError as e:
                raise ConfigError(f"--gpu.replay: {e}") from None
        self.nvml = Nvml(nvml_lib, clock)
        self._clock = clock
        self.gpm = GpmSampler(self.nvml, (GPM_SOURCES[f.source][0] for f in self.catalogue
                                          if f.source in GPM_SOURCES), clock)
        self._devices: list[Device] | None = None
        self._lost: dict[int, LostGpu] = {}
        self._labels_seen: dict[int, tuple[tuple[str, ...], str]] = {}  # index -> (labels, key)
        self._driver = ""
        self._pid_max = read_pid_max(paths.procfs)
        self.xid: XidWatcher | None = None
        self.pcie: PcieSampler | None = None
        self._xid_lock = threading.Lock()
        self._xid_last: dict[str, int] = {}  # key -> last XID code
        self._xid_counts: dict[tuple[str, int], int] = {}  # (key, xid) -> events
        self._xid79_this_loss: set[str] = set()  # keys whose current loss has been counted as XID 79
        self._xid79_inferred: set[str] = set()  # ... counted from GpuIsLost, before the driver's event
        self._logged_unsupported: set[tuple[str, str]] = set()
        self._logged_truncated: set[str] = set()
        self._logged_implausible: set[str] = set()
        self._malformed_logged: set[tuple[str, str]] = set()
        if self.simulate:
            self.log.warning("gpu_simulation_enabled", profile=self.simulate, seed=self.seed)
        if self.replay:
            self.log.warning("gpu_replay_enabled", recording=self.replay)

    # -- life cycle ---------------------------------------------------------------------------------

    def collect(self) -> Iterable[Metric]:
        """This scrape's GPU families from NVML; a GPU that is lost is left out, the others served.

        Raises NvmlFatal (after tearing down and scheduling an NVML re-initialisation) when the library is gone.
        """
        self.nvml.ensure_initialized()
        try:
            devices = self._discover()
            ctx = self._context()
            results = [r for r in (self._read(d, ctx) for d in devices) if r is not None]
            families = self._families(results)
        except NvmlFatal as e:
            self._teardown()
            self.nvml.reset(e)
            raise
        self.nvml.healthy()
        if self.simulate or self.replay:
            info = GaugeMetricFamily("spark_exporter_gpu_simulated_info",
                                     "Present (1) when GPU metrics come from the simulator or a recording, "
                                     "not real NVML.", labels=["profile", "seed"])
            info.add_metric([self.simulate or f"replay:{os.path.basename(self.replay or '')}",
                             str(self.seed)], 1.0)
            families.append(info)
        return families

    def _discover(self) -> list[Device]:
        """The healthy devices; a full discovery after (re-)initialisation, then lost GPUs on their backoff."""
        if self._devices is None:
            self._driver = to_str(self.nvml.query("nvmlSystemGetDriverVersion") or "")
            self._lost.clear()
            devices = []
            count = int(self.nvml.call("nvmlDeviceGetCount"))
            if count > MAX_GPUS:
                self.log.warning("gpu_count_implausible", count=count, served=MAX_GPUS)
                count = MAX_GPUS
            for i in range(count):
                d = self._identify(i)
                if d is not None:
                    devices.append(d)
            self.log.info("gpu_devices_found", count=len(devices), lost=len(self._lost), driver=self._driver,
                          models=",".join(sorted({d.labels[4] for d in devices})))
            self._devices = devices
            self._start_background(devices)
            return devices
        now = self._clock()
        found = []
        for lost in list(self._lost.values()):
            if now >= lost.retry_at:
                d = self._identify(lost.index)
                if d is not None:
                    found.append(d)
        if found:
            self.log.info("gpu_found_again", gpus=",".join(str(d.index) for d in found))
            self._devices = sorted([*self._devices, *found], key=lambda d: d.index)
            self._restart_background(self._devices)
        return self._devices

    def _identify(self, i: int) -> Device | None:
        """Handle, UUID, bus id and name of GPU ``i``; a GPU that cannot be identified is marked lost."""
        try:
            h = self.nvml.call("nvmlDeviceGetHandleByIndex", i)
            uuid = to_str(self.nvml.call("nvmlDeviceGetUUID", h))
            bus_id = to_str(self.nvml.call("nvmlDeviceGetPciInfo", h).busId)
            model = to_str(self.nvml.call("nvmlDeviceGetName", h))
        except (GpuLost, FunctionMissing) as e:
            self._mark_lost(i, str(e), count_xid=isinstance(e, GpuLost))
            return None
        except pynvml.NVMLError as e:
            self._mark_lost(i, f"identification failed: {error_name(e)}", count_xid=False)
            return None
        labels = gpu_label_values(i, uuid, bus_id, model, self.hostname, self._driver)
        self._labels_seen[i] = (labels, uuid)
        was = self._lost.pop(i, None)
        if was is not None:
            with self._xid_lock:
                self._xid79_this_loss.discard(was.key)
                self._xid79_inferred.discard(was.key)
                if was.key != uuid:  # lost before it was ever identified: its XIDs move to its UUID
                    for (k, xid), n in list(self._xid_counts.items()):
                        if k == was.key:
                            del self._xid_counts[(k, xid)]
                            self._xid_counts[(uuid, xid)] = self._xid_counts.get((uuid, xid), 0) + n
        return Device(i, h, uuid, labels)

    def _mark_lost(self, i: int, reason: str, count_xid: bool) -> None:
        now = self._clock()
        prev = self._lost.get(i)
        if prev is not None:  # still lost: wait longer before the next look
            prev.backoff = min(prev.backoff * 2, REDISCOVER_MAX)
            prev.retry_at = now + prev.backoff
            return
        labels, key = self._labels_seen.get(i) or (
            gpu_label_values(i, "", "", "", self.hostname, self._driver), f"index:{i}")
        self._lost[i] = LostGpu(i, labels, key, reason, now + REDISCOVER_INITIAL)
        self.log.warning("gpu_lost", gpu=i, uuid=labels[1], reason=reason, retry_in_seconds=REDISCOVER_INITIAL)
        if count_xid:
            self._record_xid(key, XID_FALLEN_OFF_THE_BUS, from_loss=True)
        if self._devices is not None:
            self._devices = [d for d in self._devices if d.index != i]
        self.gpm.forget(labels[1])

    def _start_background(self, devices: list[Device]) -> None:
        watched = [WatchedDevice(d.handle, d.uuid) for d in devices]
        # A previous thread still stuck in an NVML call is never joined by a second one.
        if self.xid is None or not self.xid.alive:
            # The simulator and a replay answer an event wait from a queue: poll it often, so close() is quick.
            poll_ms = LIBRARY_POLL_MS if self.simulate or self.replay else POLL_MS
            self.xid = XidWatcher(self.nvml, self._record_xid, poll_ms)
            self.xid.start(watched)
        if self.pcie_interval > 0 and (self.pcie is None or not self.pcie.alive):
            self.pcie = PcieSampler(self.nvml, self.pcie_interval, self._clock)
            self.pcie.start(watched)

    def _restart_background(self, devices: list[Device]) -> None:
        for worker in (self.xid, self.pcie):
            if worker is not None:
                worker.stop()
        self._start_background(devices)

    def _teardown(self) -> None:
        self._devices = None
        for worker in (self.xid, self.pcie):
            if worker is not None:
                worker.stop()
        self.gpm.close()

    def close(self) -> None:
        """Stop the background threads and shut NVML down."""
        self._teardown()
        self.nvml.shutdown()

    def info(self) -> dict[str, Any]:
        """Landing-page facts: the NVML source (real, simulated, replay), GPU count, lost GPUs, last NVML error."""
        if self.replay:
            nvml = f"replay of {self.replay}"
        else:
            nvml = f"simulated {self.simulate} (seed {self.seed})" if self.simulate else "real"
        out: dict[str, Any] = {"nvml": nvml}
        if self._devices is not None:
            out["gpus"] = len(self._devices)
        if self._lost:
            out["gpus_lost"] = ",".join(str(i) for i in sorted(self._lost))
        if self.nvml.last_error:
            out["nvml_error"] = self.nvml.last_error
        return out

    # -- XID ----------------------------------------------------------------------------------------

    def _record_xid(self, key: str, xid: int, from_loss: bool = False) -> None:
        with self._xid_lock:
            if xid == XID_FALLEN_OFF_THE_BUS:
                # One loss is one XID 79, whether the driver's event or GpuIsLost is seen first.
                if from_loss:
                    if key in self._xid79_this_loss:
                        return
                    self._xid79_inferred.add(key)
                elif key in self._xid79_inferred:
                    self._xid79_inferred.discard(key)
                    return
                self._xid79_this_loss.add(key)
            self._xid_last[key] = xid
            self._xid_counts[(key, xid)] = self._xid_counts.get((key, xid), 0) + 1

    def names(self) -> Iterable[str]:
        """Every catalogue field (DCGM_FI_*): a GPU may serve one later (a GPM ratio from the second scrape on,
        a PCIe rate after its first sample, a field another GPU supports), so a text file may never write one."""
        return [f.name for f in self.catalogue]

    def xid_last(self, uuid: str) -> float | None:
        """The last XID code, 0 if none yet; None if this device is not watched for XIDs."""
        if self.xid is None or uuid not in self.xid.watched:
            return None
        with self._xid_lock:
            return float(self._xid_last.get(uuid, 0))

    # -- readings -----------------------------------------------------------------------------------

    def _context(self) -> ReadingContext:
        """What this collection's readings share: /proc/meminfo is read at most once per collection."""
        host: list[tuple[int, int] | None] = []

        def host_memory() -> tuple[int, int] | None:
            if not host:
                host.append(read_host_memory(self.paths))
            return host[0]

        return ReadingContext(
            pcie=(self.pcie.latest if self.pcie is not None else lambda _uuid: None),
            pcie_pending=(self.pcie.pending if self.pcie is not None else lambda _uuid: False),
            gpm=self.gpm.read, xid_last=self.xid_last,
            host_memory=host_memory, unified_mode=self.unified_mode,
            pid_max=self._pid_max)

    def _read(self, d: Device, ctx: ReadingContext) -> DeviceResult | None:
        """Every catalogue field of one GPU; ``None`` (and the GPU marked lost) if it is lost meanwhile."""
        r = DeviceReading(self.nvml, d, ctx)
        out = DeviceResult(d)
        values = out.values
        try:
            for name, reader in self._readers:
                try:
                    raw = reader(r)
                except Pending:
                    continue  # its first sample is not there yet: not "unsupported"
                except (TypeError, ValueError, OverflowError, AttributeError) as e:
                    # An answer of the wrong shape (a bad recording, a broken driver): that field only.
                    self._log_malformed(d, name, e)
                    continue
                if raw is None:
                    self._log_unsupported(d, name)
                    continue
                values[name] = raw
            m = r.memory()
            out.memory_source = None if m is None else m.source
            if self.process_metrics:
                out.processes = r.processes()
            if r.processes_implausible:
                self._log_implausible_processes(d)
        except GpuLost as e:
            self._mark_lost(d.index, str(e), count_xid=True)
            return None
        return out

    def _log_malformed(self, d: Device, field: str, e: Exception) -> None:
        key = (d.uuid, field)
        if key not in self._malformed_logged:
            self._malformed_logged.add(key)
            self.log.warning("gpu_field_malformed", gpu=d.index, field=field, error=f"{type(e).__name__}: {e}"[:200])

    def _process_name(self, pid: int) -> str:
        name = self.nvml.query("nvmlSystemGetProcessName", pid)
        if name:
            return os.path.basename(to_str(name)) or to_str(name)
        try:  # NVML may not see other namespaces' processes; the host's procfs often does
            return read_text(self.paths.proc(str(pid), "comm"), _MAX_COMM).strip() or "unknown"
        except OSError:
            return "unknown"

    def _log_implausible_processes(self, d: Device) -> None:
        if d.uuid not in self._logged_implausible:
            self._logged_implausible.add(d.uuid)
            self.log.warning("gpu_process_list_implausible", gpu=d.index, uuid=d.uuid,
                             left_out="process memory, FB_USED on unified memory")

    def _log_unsupported(self, d: Device, field_name: str) -> None:
        key = (d.uuid, field_name)
        if key not in self._logged_unsupported:
            self._logged_unsupported.add(key)
            self.log.info("gpu_field_unsupported", gpu=d.index, uuid=d.uuid, field=field_name)

    # -- families ----------------------------------------------------------------------------------------

    def _families(self, results: list[DeviceResult]) -> list[Metric]:
        families: list[Metric] = []
        names = self.label_names
        rows = [(res.values, res.device.labels, self._text(res.device.labels)) for res in results]
        for f in self.catalogue:
            exact = f.type == "counter"
            if f.source == "xid.last":
                fam = RowFamily(f.name, f.help, "gauge", self._text_xid_last.names)
                for values, labels, _text in rows:
                    raw = values.get(f.name)
                    if raw is not None:
                        lv = (*labels, str(int(raw)), xid_message(int(raw)))
                        fam.add(lv, self._text_xid_last(lv), f.scale(raw))
            else:
                fam = RowFamily(f.name, f.help, "counter" if exact else "gauge", names, exact=exact)
                scale, add = f.scale, fam.rows.append
                for values, labels, text in rows:
                    raw = values.get(f.name)
                    if raw is not None:
                        add((labels, text, scale(raw)))
            if fam.rows:
                families.append(fam)
        families.extend(self._own_families(results))
        return families

    def _own_families(self, results: list[DeviceResult]) -> list[Metric]:
        names = self.label_names
        up = RowFamily("spark_exporter_gpu_up",
                       "1 if the GPU answers NVML, 0 if it is lost (GpuIsLost, ResetRequired, or it "
                       "cannot be identified) until a re-discovery finds it.", "gauge", names)
        mem_info = RowFamily(
            "spark_exporter_gpu_memory_info",
            "Where the DCGM_FI_DEV_FB_* values come from: nvml (device memory) or unified (GB10: process "
            "memory and host meminfo).", "gauge", self._text_memory_info.names)
        xid_total = RowFamily("spark_exporter_gpu_xid_errors",
                              "XID error events seen, by XID code (a lost GPU counts as XID 79).", "counter",
                              self._text_xid.names)
        procs = RowFamily("spark_exporter_gpu_process_memory_bytes", "GPU memory used by a process, in bytes.",
                          "gauge", self._text_process.names)
        with self._xid_lock:
            counts = dict(self._xid_counts)
        if counts:
            shown: list[tuple[tuple[str, ...], str]] = [(r.device.labels, r.device.uuid) for r in results]
            shown += [(lost.labels, lost.key) for lost in self._lost.values()]
            for shown_labels, key in sorted(shown, key=lambda x: int(x[0][0])):
                for (k, xid), n in sorted(counts.items()):
                    if k == key:
                        values = (*shown_labels, str(xid))
                        xid_total.add(values, self._text_xid(values), float(n))
        for res in results:
            labels = res.device.labels
            up.add(labels, self._text(labels), 1.0)
            if res.memory_source is not None:
                values = (*labels, res.memory_source)
                mem_info.add(values, self._text_memory_info(values), 1.0)
            if self.process_metrics:
                self._add_processes(procs, res)
        for lost in sorted(self._lost.values(), key=lambda x: x.index):
            up.add(lost.labels, self._text(lost.labels), 0.0)
        return [f for f in (up, mem_info, xid_total, procs) if f.rows]

    def _add_processes(self, fam: RowFamily, res: DeviceResult) -> None:
        # (-bytes, pid): the largest first, ties by pid; plain tuples compare without a key function
        known = [(-used, pid) for pid, used in (res.processes or {}).items() if used is not None]
        d = res.device
        if len(known) > self.max_processes and d.uuid not in self._logged_truncated:
            self._logged_truncated.add(d.uuid)
            self.log.warning("gpu_processes_truncated", gpu=d.index, processes=len(known),
                             kept=self.max_processes)
        # Only the processes kept are named (an NVML call and a /proc read each): at 1,000 processes a GPU,
        # naming all of them was most of the collection.
        for neg_used, pid in heapq.nsmallest(self.max_processes, known):
            values = (*d.labels, str(pid), self._process_name(pid))
            fam.add(values, self._text_process(values), float(-neg_used))
