"""Scrape-driven collection: a scrape of ``/metrics`` runs the enabled collectors and renders the result.

* **When.** Only a scrape collects (:meth:`Collection.scrape`); there is no background timer, so with
  no scrapes the daemon does no collection work. Scrapes that arrive while a collection is running
  share it (an HA pair of Prometheus servers, retries), and a collection that finished less than
  ``min_age`` seconds ago (``--collect.min-age``, default 1 s; 0 collects on every scrape) is served
  as is.
* **Deadlines.** The collectors run one after another on one reusable runner thread, each under its own
  deadline (``--collect.timeout``, default 5 s). A collector that raises or overruns is scored
  ``success=0`` and its series are left out of that collection; the others are served.
* **No pile-up.** A collector whose previous call is still in flight (a hung NVML call) is not called
  again until that call returns: it scores 0 at once with "previous collection still running". So a
  hung call costs one scrape at most the deadline, and at most one thread per collector is ever stuck.
"""

from __future__ import annotations

import asyncio
import gzip
import platform
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from .. import __version__
from ..collectors.base import Collector, ForeignFamily
from ..collectors.families import RowFamily
from .exposition import Renderer

log = structlog.get_logger(component="collection")

DEFAULT_TIMEOUT = 5.0  # seconds per collector: half of Prometheus' default scrape_timeout (10 s)
DEFAULT_MIN_AGE = 1.0  # seconds

#: A choice of collectors for one scrape (``collect[]``/``exclude[]``): their names, or None for all.
Selection = frozenset[str] | None
#: Most selections whose last collection is kept for ``--collect.min-age`` reuse.
MAX_SELECTIONS = 32
#: Namespaces a foreign family (a text file's) may never write: the textfile collector's and the exporter's.
RESERVED_PREFIXES = ("node_textfile_", "spark_exporter_")
# The sample names a family of each type may have besides its own name (prometheus-client's conventions).
_SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "summary": ("_count", "_sum", "_created"),
                    "histogram": ("_bucket", "_count", "_sum", "_created", "_gcount", "_gsum"),
                    "gaugehistogram": ("_bucket", "_gcount", "_gsum"), "info": ("_info",)}
_MAX_LOGGED_DROPS = 1000  # distinct dropped names logged once each; beyond that, counted only


@dataclass(frozen=True)
class CollectorResult:
    """One collector's outcome in a snapshot: success, duration in seconds, and the error text on failure."""

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
    finished: float = 0.0  # time.monotonic() at the end of the collection
    _gz: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gzipped(self) -> bytes:
        """The exposition body gzip-compressed (level 1, mtime 0), computed once on first use."""
        if self._gz is None:
            with self._lock:
                if self._gz is None:
                    # Level 1: a scrape body compresses about 8x at level 1 and barely more at 6,
                    # for several times the CPU (measured in bench/bench_host.py).
                    self._gz = gzip.compress(self.body, compresslevel=1, mtime=0)
        return self._gz


class _Batch:
    """Collector calls queued on one runner, run back to back; results come back in one hand-off.

    The waiting thread sleeps until the whole batch is done, waking only at the running call's
    deadline: one wake-up per collection instead of several per collector.
    """

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = list(collectors)
        # One per finished call: (families or the exception raised, monotonic start, monotonic end).
        self.results: list[tuple[list[Metric] | BaseException, float, float]] = []
        self.running: tuple[int, float] | None = None  # (index, monotonic start) of the call in progress
        self.abandoned = False  # set by the waiter when a call overran: run nothing more
        self.lock = threading.Lock()
        self.done = threading.Event()

    def call_returned(self, index: int) -> bool:
        return len(self.results) > index


class _Runner:
    """One worker thread that runs batches of collector calls back to back.

    Collectors run in sequence rather than in parallel: they are short, mostly Python-bound calls,
    and running a dozen at once costs more in GIL hand-offs and thread start-ups than the calls
    themselves. When a call overruns its deadline the collection abandons this runner (it stays stuck
    in that one call, runs nothing after it, and exits once the call returns) and runs the remaining
    collectors on a fresh one.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._work, name="collector-runner", daemon=True)
        self.thread.start()

    def submit(self, batch: _Batch) -> None:
        self._queue.put(batch)

    def retire(self) -> None:
        """Exit after the call in progress (if any) returns."""
        self._queue.put(None)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            for i, collector in enumerate(batch.collectors):
                with batch.lock:
                    if batch.abandoned:
                        break
                    t0 = time.monotonic()
                    batch.running = (i, t0)
                try:
                    out: list[Metric] | BaseException = list(collector.collect())
                except BaseException as e:  # noqa: BLE001 - scored, logged and served as success=0
                    out = e
                batch.results.append((out, t0, time.monotonic()))
            batch.done.set()


class Collection:
    """Runs the collectors when scraped, shares in-flight collections and serves recent ones.

    ``timeout`` is the per-collector deadline in seconds; ``min_age`` the age in seconds below which
    the last collection is served again instead of collecting (0: every scrape collects).
    """

    def __init__(self, collectors: Sequence[Collector], timeout: float = DEFAULT_TIMEOUT,
                 min_age: float = DEFAULT_MIN_AGE, extra_info: dict[str, str] | None = None,
                 exporter_metrics: bool = True) -> None:
        self.collectors = list(collectors)
        self.exporter_metrics = exporter_metrics  # serve process_* (off: --web.disable-exporter-metrics)
        # Collectors whose health is also served under node_exporter's self-metric names: the host ones,
        # as each collector class says (Collector.kind).
        self._host = frozenset(c.name for c in self.collectors if c.kind == "host")
        self.timeout = timeout
        self.min_age = min_age
        # collector -> (batch, index) of a call that overran its deadline and may still be running
        self._stuck: dict[str, tuple[_Batch, int]] = {}
        self._runner: _Runner | None = None
        self._last_error: dict[str, str | None] = {}  # collector -> reason of its last failure
        self._shadowed: set[str] = set()  # self-metric names a collector also served (logged once each)
        # Every name (family and sample) a built-in collector has served or says it may serve
        # (Collector.names): a text file may not take one over even in a collection where that collector
        # failed or has no sample yet. Finite: built-in names are fixed.
        self._builtin_names: set[str] = {n for c in self.collectors if not c.foreign for n in c.names()}
        self._builtin_families: set[tuple[str, str]] = set()  # (name, type) of built-in families seen
        self._foreign = frozenset(c.name for c in self.collectors if c.foreign)  # collectors serving text files
        self._renderer = Renderer()  # keeps the warned-once set and label text across collections
        # The last collection of each selection of collectors (None: all of them), oldest first, and the
        # collection scrapes of each selection are waiting for.
        self._snapshots: dict[Selection, Snapshot] = {}
        self._last: Snapshot | None = None
        self._pending: dict[Selection, asyncio.Future[Snapshot]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._process = ProcessCollector(registry=None)
        info_labels = {"version": __version__, "python_version": platform.python_version(), **(extra_info or {})}
        # Constant, so built once; rendering never modifies a family.
        self._build_info = GaugeMetricFamily(
            "spark_exporter_build_info", "A metric with a constant '1' value labeled by version and build facts.",
            labels=list(info_labels))
        self._build_info.add_metric(list(info_labels.values()), 1.0)
        self.collections = 0  # collections run so far (shown on the landing page, read by tests)

    @property
    def snapshot(self) -> Snapshot | None:
        """The last collection (of any selection), or None before the first scrape."""
        return self._last

    def selection(self, names: Iterable[str]) -> Selection:
        """The key of a collection of the enabled collectors among ``names``: None when that is all of them."""
        chosen = frozenset(names) & {c.name for c in self.collectors}
        return None if chosen == {c.name for c in self.collectors} else chosen

    def fresh_snapshot(self, selection: Selection = None) -> Snapshot | None:
        """The last collection of ``selection`` if it finished less than ``min_age`` seconds ago, else None."""
        snap = self._snapshots.get(selection)
        if snap is not None and time.monotonic() - snap.finished < self.min_age:
            return snap
        return None

    @property
    def collections_in_flight(self) -> int:
        """Collections running or queued now (one per selection being scraped)."""
        return len(self._pending)

    def joins(self, selection: Selection = None) -> bool:
        """Whether a scrape of ``selection`` now would start no collection: a recent one or one in flight
        serves it."""
        return selection in self._pending or self.fresh_snapshot(selection) is not None

    async def scrape(self, selection: Selection = None) -> Snapshot:
        """The snapshot a scrape serves: a fresh enough one, the one in flight, or a new collection.

        ``selection`` (from :meth:`selection`; None: every enabled collector) picks the collectors, as
        node_exporter's ``collect[]``/``exclude[]`` do; scrapes share collections of the same selection
        only. The collection runs on a worker thread (one collection at a time); the event loop only
        awaits it. Cancelling one waiting scrape (a client that went away) does not cancel the
        collection the others wait for.
        """
        snap = self.fresh_snapshot(selection)
        if snap is not None:
            return snap
        pending = self._pending.get(selection)
        if pending is None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collection")
            pending = asyncio.get_running_loop().run_in_executor(self._executor, self.collect_once, selection)
            self._pending[selection] = pending

            def done(_: object) -> None:
                self._pending.pop(selection, None)
            pending.add_done_callback(done)
        return await asyncio.shield(pending)

    def collect_once(self, selection: Selection = None) -> Snapshot:
        """Run one collection of ``selection`` (None: every collector) now, on the calling thread
        (blocking), and publish its snapshot."""
        families: list[Metric] = []
        results: dict[str, CollectorResult] = {}
        todo: list[Collector] = []
        chosen = [c for c in self.collectors if selection is None or c.name in selection]
        for c in chosen:
            stuck = self._stuck.get(c.name)
            if stuck is not None and not stuck[0].call_returned(stuck[1]):
                # Still stuck in an earlier call: never stack a second call on a hung device.
                results[c.name] = CollectorResult(c.name, False, 0.0, "previous collection still running")
            else:
                self._stuck.pop(c.name, None)
                todo.append(c)
        while todo:
            todo = self._run_batch(todo, families, results)
        ordered = [results[c.name] for c in chosen]
        return self._publish(families, ordered, selection)

    def _run_batch(self, todo: list[Collector], families: list[Metric],
                   results: dict[str, CollectorResult]) -> list[Collector]:
        """Run ``todo`` on the runner and gather results; return what is left if one call overruns."""
        if self._runner is None:
            self._runner = _Runner()
        batch = _Batch(todo)
        self._runner.submit(batch)
        wait = self.timeout
        hung: int | None = None
        while not batch.done.wait(wait):
            with batch.lock:
                if batch.done.is_set():
                    break
                running = batch.running
                now = time.monotonic()
                if running is not None and running[0] == len(batch.results) and now - running[1] >= self.timeout:
                    batch.abandoned = True
                    hung = running[0]
                    break
                # A call is running (wait for its deadline) or the batch has not started (a full one).
                wait = (running[1] + self.timeout - now) if running is not None and running[0] == len(
                    batch.results) else self.timeout
        finished = batch.results[:hung] if hung is not None else batch.results
        for c, (out, t0, t1) in zip(batch.collectors, finished, strict=False):
            if isinstance(out, BaseException):
                results[c.name] = CollectorResult(c.name, False, t1 - t0, f"{type(out).__name__}: {out}")
            else:
                families.extend(out)
                results[c.name] = CollectorResult(c.name, True, t1 - t0)
        if hung is None:
            return []
        name = batch.collectors[hung].name
        assert batch.running is not None
        results[name] = CollectorResult(name, False, time.monotonic() - batch.running[1],
                                        f"timed out after {self.timeout:g}s")
        self._stuck[name] = (batch, hung)
        self._runner.retire()
        self._runner = None
        return batch.collectors[hung + 1:]

    def _publish(self, families: list[Metric], results: list[CollectorResult], selection: Selection = None) -> Snapshot:
        for r in results:
            # A failure is logged at warning when its reason changes (a machine without NVML would
            # otherwise log the same line every scrape); repeats go to debug.
            previous = self._last_error.get(r.name)
            if not r.success:
                level = log.warning if r.error != previous else log.debug
                level("collector_failed", collector=r.name, error=r.error,
                      duration_seconds=round(r.duration, 4))
            elif previous is not None:
                log.info("collector_recovered", collector=r.name)
            self._last_error[r.name] = None if r.success else r.error
        now = time.time()
        own = self._self_metrics(results, now)
        # The exporter's own families win a name clash (e.g. a textfile that writes
        # spark_exporter_collector_success): a collector must not hide the health of the others.
        reserved = {m.name for m in own}
        families, dropped = self._yield_foreign(families, reserved | {s.name for m in own for s in m.samples})
        for m in families:
            if m.name in reserved and m.name not in self._shadowed:
                self._shadowed.add(m.name)
                log.warning("self_metric_shadowed", metric=m.name, served="exporter")
        families = [m for m in families if m.name not in reserved]
        families.extend(own)
        if any(r.name in self._foreign for r in results):  # only where a text-file collector ran (collect[])
            families.append(dropped)
        snap = Snapshot(body=self._renderer.render(families), timestamp=now, results=tuple(results),
                        finished=time.monotonic())
        self._snapshots.pop(selection, None)
        self._snapshots[selection] = snap
        while len(self._snapshots) > MAX_SELECTIONS:  # drop the oldest: selections come from URLs
            del self._snapshots[next(iter(self._snapshots))]
        self._last = snap
        self.collections += 1
        return snap

    def _yield_foreign(self, families: list[Metric], own: set[str]) -> tuple[list[Metric], Metric]:
        """Drop the foreign series (a text file's) that would write a built-in or the exporter's own
        name or a reserved namespace; return the families kept and the drop counts by reason.

        Names are compared sample by sample, so a file's ``node_cpu_seconds_total`` cannot pass as a
        family of its own next to the built-in counter ``node_cpu_seconds``.
        """
        for m in families:
            if not isinstance(m, ForeignFamily):
                # A family's sample names follow from its name and type, so a built-in family seen before
                # adds nothing: its samples are not walked again (0.3 ms of a 7 ms scrape on this host).
                seen = (m.name, m.type)
                if seen in self._builtin_families:
                    continue
                self._builtin_families.add(seen)
                self._builtin_names.add(m.name)
                self._builtin_names.update(m.name + suffix for suffix in _SAMPLE_SUFFIXES.get(m.type, ()))
                if isinstance(m, RowFamily):  # one sample name; its samples are built only on demand
                    self._builtin_names.add(m.sample_name)
                else:
                    self._builtin_names.update(s.name for s in m.samples)
        counts = {"builtin": 0, "reserved": 0}
        kept: list[Metric] = []
        for m in families:
            if not isinstance(m, ForeignFamily):
                kept.append(m)
                continue
            reasons = [self._foreign_conflict(name, own) for name in {m.name, *(s.name for s in m.samples)}]
            reason = next((r for r in reasons if r is not None), None)
            if reason is None:
                kept.append(m)
                continue
            counts[reason] += max(1, len(m.samples))
            if m.name not in self._shadowed and len(self._shadowed) < _MAX_LOGGED_DROPS:
                self._shadowed.add(m.name)
                log.warning("textfile_series_dropped", metric=m.name, reason=reason, samples=len(m.samples))
        dropped = GaugeMetricFamily(
            "spark_exporter_textfile_series_dropped",
            "Series of text files left out in the last collection because their name is served by a built-in "
            "collector (builtin) or lies in a reserved namespace (reserved: node_textfile_, spark_exporter_, "
            "the exporter's own families).", labels=["reason"])
        for reason, n in counts.items():
            dropped.add_metric([reason], float(n))
        return kept, dropped

    def _foreign_conflict(self, name: str, own: set[str]) -> str | None:
        if name in own or name.startswith(RESERVED_PREFIXES):
            return "reserved"
        if name in self._builtin_names:
            return "builtin"
        return None

    def _self_metrics(self, results: Sequence[CollectorResult], now: float) -> list[Metric]:
        success = GaugeMetricFamily("spark_exporter_collector_success",
                                    "Whether the collector succeeded in the last collection (1) or not (0).",
                                    labels=["collector"])
        duration = GaugeMetricFamily("spark_exporter_collector_duration_seconds",
                                     "Time the collector took in the last collection.", labels=["collector"])
        # node_exporter's own names and HELP texts, so its dashboards and alerts work unchanged.
        node_success = GaugeMetricFamily("node_scrape_collector_success",
                                         "node_exporter: Whether a collector succeeded.", labels=["collector"])
        node_duration = GaugeMetricFamily("node_scrape_collector_duration_seconds",
                                          "node_exporter: Duration of a collector scrape.", labels=["collector"])
        for r in results:
            ok = 1.0 if r.success else 0.0
            success.add_metric([r.name], ok)
            duration.add_metric([r.name], r.duration)
            if r.name in self._host:
                node_success.add_metric([r.name], ok)
                node_duration.add_metric([r.name], r.duration)
        last = GaugeMetricFamily("spark_exporter_last_collection_timestamp_seconds",
                                 "Unix time at which the last collection finished.", value=now)
        own: list[Metric] = [success, duration, node_duration, node_success, last, self._build_info]
        if self.exporter_metrics:
            own.extend(self._process.collect())
        return own

    def stop(self) -> None:
        """Release the worker threads and close every collector (once, at shutdown)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._runner is not None:
            self._runner.retire()
            self._runner = None
        for c in self.collectors:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                log.exception("collector_close_failed", collector=c.name)
