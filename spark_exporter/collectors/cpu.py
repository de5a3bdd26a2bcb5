"""node_cpu_seconds_total{cpu,mode} and node_cpu_guest_seconds_total from /proc/stat (node_exporter's cpu).

/proc/stat is read directly rather than through ``psutil.cpu_times(percpu=True)``: psutil ignores
``--path.procfs`` unless its process-global ``PROCFS_PATH`` is flipped, and it folds guest time into
user on some versions. One read of one small file gives every CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from ..settings import ExporterConfig
from . import register
from .base import Collector, Paths, read_file

# Column order of a "cpuN" line in /proc/stat (see proc(5)); values are in USER_HZ ticks.
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = ("user", "nice")  # columns 9 and 10: guest, guest_nice


def user_hz() -> float:
    """Ticks per second of /proc/stat counters (USER_HZ, 100 on every Linux build we know of)."""
    return float(os.sysconf("SC_CLK_TCK"))


def parse_cpu_lines(text: str) -> dict[str, list[int]]:
    """Map CPU number ("0", "1", ...) to its tick columns; the aggregate "cpu" line is skipped."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *cols = line.split()
        out[name[3:]] = [int(c) for c in cols]
    return out


@register
class CpuCollector(Collector):
    name = "cpu"

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._hz = user_hz()
        # Last value seen per (cpu, column): some kernels let idle/iowait step backwards by a tick;
        # node_exporter holds the previous value then, so a counter never decreases. Same here.
        self._last: dict[tuple[str, int], int] = {}

    def _monotonic(self, cpu: str, col: int, value: int) -> int:
        prev = self._last.get((cpu, col))
        if prev is not None and value < prev:
            self.log.debug("cpu_counter_went_backwards", cpu=cpu, column=col, previous=prev, value=value)
            return prev
        self._last[(cpu, col)] = value
        return value

    def collect(self) -> Iterable[Metric]:
        cpus = parse_cpu_lines(read_file(self.paths.proc("stat")))
        seconds = CounterMetricFamily(
            "node_cpu_seconds", "Seconds the CPUs spent in each mode.", labels=["cpu", "mode"]
        )
        guest = CounterMetricFamily(
            "node_cpu_guest_seconds",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            labels=["cpu", "mode"],
        )
        for cpu, cols in cpus.items():
            for i, mode in enumerate(MODES):
                if i < len(cols):
                    seconds.add_metric([cpu, mode], self._monotonic(cpu, i, cols[i]) / self._hz)
            for j, mode in enumerate(GUEST_MODES, start=len(MODES)):
                if j < len(cols):
                    guest.add_metric([cpu, mode], self._monotonic(cpu, j, cols[j]) / self._hz)
        yield seconds
        if guest.samples:
            yield guest
