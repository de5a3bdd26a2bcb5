"""The background collection loop and the pre-rendered snapshot that ``/metrics`` serves.

Each cycle runs every enabled collector in its own worker thread under a deadline. A collector that
raises or overruns is scored ``success=0`` and its series are left out of that snapshot; the others
are served. A collector whose previous call is still in flight (a hung NVML call) is not called
again, so at most one thread per collector can ever be stuck, and no scrape ever waits for one.
"""

from __future__ import annotations

import gzip
import platform
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from . import __version__
from .collectors.base import Collector
from .exposition import render

log = structlog.get_logger(component="collection")


@dataclass(frozen=True)
class CollectorResult:
    name: str
    success: bool
    duration: float  # seconds
    error: str | None = None


@dataclass
class Snapshot:
    """One collection's rendered output. Immutable once published; gzip is computed on first use."""

    body: bytes
    timestamp: float  # unix seconds, end of the collection
    results: tuple[CollectorResult, ...]
    _gz: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gzipped(self) -> bytes:
        if self._gz is None:
            with self._lock:
                if self._gz is None:
                    self._gz = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self._gz


def _run_in_thread(name: str, collector: Collector) -> Future[list[Metric]]:
    """Start ``collector.collect()`` on a fresh daemon thread and return its future.

    A fresh thread per call (rather than a pool) means a call that never returns pins exactly one
    thread, which the loop knows about and will not add to.
    """
    fut: Future[list[Metric]] = Future()

    def target() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(list(collector.collect()))
        except BaseException as e:  # noqa: BLE001 - scored, logged and served as success=0
            fut.set_exception(e)

    threading.Thread(target=target, name=f"collector-{name}", daemon=True).start()
    return fut


class CollectionLoop:
    """Runs collectors every ``interval`` seconds in a background thread and publishes snapshots."""

    def __init__(self, collectors: Sequence[Collector], interval: float, timeout: float,
                 extra_info: dict[str, str] | None = None) -> None:
        self.collectors = list(collectors)
        self.interval = interval
        self.timeout = timeout
        self.extra_info = dict(extra_info or {})
        self._in_flight: dict[str, Future[list[Metric]]] = {}
        self._last_error: dict[str, str | None] = {}  # collector -> reason of its last failure
        self._snapshot: Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = ProcessCollector(registry=None)
        self._ready = threading.Event()

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def collect_once(self) -> Snapshot:
        """Run one cycle synchronously and publish its snapshot."""
        started = time.monotonic()
        deadline = started + self.timeout
        pending: dict[str, tuple[Collector, Future[list[Metric]] | None, float]] = {}
        for c in self.collectors:
            prev = self._in_flight.get(c.name)
            if prev is not None and not prev.done():
                pending[c.name] = (c, None, time.monotonic())
                continue
            t0 = time.monotonic()
            fut = _run_in_thread(c.name, c)
            self._in_flight[c.name] = fut
            pending[c.name] = (c, fut, t0)

        families: list[Metric] = []
        results: list[CollectorResult] = []
        for name, (_c, fut, t0) in pending.items():
            if fut is None:
                results.append(CollectorResult(name, False, 0.0, "previous collection still running"))
                continue
            try:
                fams = fut.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                results.append(CollectorResult(name, False, time.monotonic() - t0,
                                               f"timed out after {self.timeout:g}s"))
                continue
            except Exception as e:  # noqa: BLE001
                results.append(CollectorResult(name, False, time.monotonic() - t0, f"{type(e).__name__}: {e}"))
                continue
            duration = time.monotonic() - t0
            families.extend(fams)
            results.append(CollectorResult(name, True, duration))

        for r in results:
            # A failure is logged at warning when its reason changes (a machine without NVML would
            # otherwise log the same line every cycle); repeats go to debug.
            previous = self._last_error.get(r.name)
            if not r.success:
                level = log.warning if r.error != previous else log.debug
                level("collector_failed", collector=r.name, error=r.error,
                      duration_seconds=round(r.duration, 4))
            elif previous is not None:
                log.info("collector_recovered", collector=r.name)
            self._last_error[r.name] = None if r.success else r.error
        now = time.time()
        families.extend(self._self_metrics(results, now))
        snap = Snapshot(body=render(families), timestamp=now, results=tuple(results))
        self._snapshot = snap
        self._ready.set()
        return snap

    def _self_metrics(self, results: Sequence[CollectorResult], now: float) -> list[Metric]:
        success = GaugeMetricFamily("spark_exporter_collector_success",
                                    "Whether the collector succeeded in the last collection (1) or not (0).",
                                    labels=["collector"])
        duration = GaugeMetricFamily("spark_exporter_collector_duration_seconds",
                                     "Time the collector took in the last collection.", labels=["collector"])
        for r in results:
            success.add_metric([r.name], 1.0 if r.success else 0.0)
            duration.add_metric([r.name], r.duration)
        last = GaugeMetricFamily("spark_exporter_last_collection_timestamp_seconds",
                                 "Unix time at which the last collection finished.", value=now)
        info_labels = {"version": __version__, "python_version": platform.python_version(), **self.extra_info}
        build = GaugeMetricFamily("spark_exporter_build_info",
                                  "A metric with a constant '1' value labeled by version and build facts.",
                                  labels=list(info_labels))
        build.add_metric(list(info_labels.values()), 1.0)
        return [success, duration, last, build, *self._process.collect()]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="collection-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.collect_once()
            except Exception:  # noqa: BLE001 - the loop must outlive any bug in one cycle
                log.exception("collection_cycle_failed")
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # overran: skip missed ticks rather than bursting
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for c in self.collectors:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                log.exception("collector_close_failed", collector=c.name)
