"""The background collection loop and the pre-rendered snapshot that ``/metrics`` serves.

Each cycle runs the enabled collectors one after another on a worker thread, each under its own
deadline (``collect.timeout``). A collector that raises or overruns is scored ``success=0`` and its
series are left out of that snapshot; the others are served. A collector whose previous call is
still in flight (a hung NVML call) is not called again, so at most one thread per collector can
ever be stuck, and no scrape ever waits for one: scrapes only read the last published snapshot.
"""

from __future__ import annotations

import gzip
import platform
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from .. import __version__
from ..collectors.base import Collector
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


@dataclass
class _Job:
    collector: Collector
    future: Future[list[Metric]] = field(default_factory=Future)
    started: threading.Event = field(default_factory=threading.Event)
    t0: float = 0.0  # monotonic start of the call
    t1: float = 0.0  # monotonic end of the call


class _Runner:
    """One worker thread that runs a cycle's collector calls back to back.

    Collectors run in sequence rather than in parallel: they are short, mostly Python-bound calls,
    and running a dozen at once costs more in GIL hand-offs and thread start-ups than the calls
    themselves. When a call overruns its deadline the loop abandons this runner (it stays stuck in
    that one call, skips the cancelled jobs queued behind it, and exits once the call returns) and
    runs the remaining collectors on a fresh one.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._work, name="collector-runner", daemon=True)
        self.thread.start()

    def submit(self, collector: Collector) -> _Job:
        job = _Job(collector)
        self._queue.put(job)
        return job

    def retire(self) -> None:
        """Exit after the call in progress (if any) returns."""
        self._queue.put(None)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            job.t0 = time.monotonic()
            job.started.set()
            try:
                result = list(job.collector.collect())
            except BaseException as e:  # noqa: BLE001 - scored, logged and served as success=0
                job.t1 = time.monotonic()
                job.future.set_exception(e)
            else:
                job.t1 = time.monotonic()
                job.future.set_result(result)


class CollectionLoop:
    """Runs collectors every ``interval`` seconds in a background thread and publishes snapshots."""

    def __init__(self, collectors: Sequence[Collector], interval: float, timeout: float,
                 extra_info: dict[str, str] | None = None) -> None:
        self.collectors = list(collectors)
        self.interval = interval
        self.timeout = timeout
        self.extra_info = dict(extra_info or {})
        self._in_flight: dict[str, Future[list[Metric]]] = {}
        self._runner: _Runner | None = None
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
        families: list[Metric] = []
        results: dict[str, CollectorResult] = {}
        todo: list[Collector] = []
        for c in self.collectors:
            prev = self._in_flight.get(c.name)
            if prev is not None and not prev.done():
                # Still stuck in an earlier call: never stack a second call on a hung device.
                results[c.name] = CollectorResult(c.name, False, 0.0, "previous collection still running")
            else:
                todo.append(c)
        while todo:
            todo = self._run_batch(todo, families, results)
        ordered = [results[c.name] for c in self.collectors]
        return self._publish(families, ordered)

    def _run_batch(self, batch: list[Collector], families: list[Metric],
                   results: dict[str, CollectorResult]) -> list[Collector]:
        """Queue ``batch`` on the runner and gather results; return what is left if one call hangs."""
        if self._runner is None:
            self._runner = _Runner()
        jobs = [self._runner.submit(c) for c in batch]
        for i, job in enumerate(jobs):
            name = job.collector.name
            self._in_flight[name] = job.future
            try:
                # A job starts as soon as the one before it returns, which was waited for already.
                if not job.started.wait(self.timeout):
                    raise TimeoutError
                fams = job.future.result(timeout=max(0.0, job.t0 + self.timeout - time.monotonic()))
            except TimeoutError:
                results[name] = CollectorResult(name, False, time.monotonic() - (job.t0 or time.monotonic()),
                                                f"timed out after {self.timeout:g}s")
                for rest in jobs[i + 1:]:
                    rest.future.cancel()
                self._runner.retire()
                self._runner = None
                return [j.collector for j in jobs[i + 1:]]
            except Exception as e:  # noqa: BLE001
                results[name] = CollectorResult(name, False, job.t1 - job.t0, f"{type(e).__name__}: {e}")
                continue
            families.extend(fams)
            results[name] = CollectorResult(name, True, job.t1 - job.t0)
        return []

    def _publish(self, families: list[Metric], results: list[CollectorResult]) -> Snapshot:
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
        if self._runner is not None:
            self._runner.retire()
            self._runner = None
        for c in self.collectors:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                log.exception("collector_close_failed", collector=c.name)
