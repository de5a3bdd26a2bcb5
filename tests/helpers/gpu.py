"""Shared set-up for the GPU tests (no tests here): a collector on the simulator with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.gpu import GpuCollector
from spark_exporter.exporter.daemon import load_config
from spark_exporter.exporter.exposition import render
from spark_exporter.nvml.sim import SimulatedNvml

T0 = 1_790_000_000.0  # a fixed instant (unix seconds) for simulated readings
GIB = 1024**3
MIB = 1024**2
MEM_TOTAL_KB = 128_452_636  # a DGX Spark's MemTotal (kB)
MEM_AVAILABLE_KB = 97_320_144  # kB
DCGM_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION")


class Clock:
    """A settable clock, used both as the simulator's wall clock and the collector's monotonic clock."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def write_meminfo(root: Path, total_kb: int = MEM_TOTAL_KB, available_kb: int = MEM_AVAILABLE_KB) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "meminfo").write_text(
        f"MemTotal:       {total_kb} kB\nMemFree:         1000000 kB\nMemAvailable:   {available_kb} kB\n")
    return root


def make_collector(sim: SimulatedNvml, procfs: Path, *flags: str,
                   clock: Callable[[], float] | None = None) -> GpuCollector:
    cfg = load_config([f"--gpu.simulate={sim.profile}", f"--gpu.seed={sim.seed}", *flags], environ={})
    return GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=sim, clock=clock or Clock())


def scrape(collector: GpuCollector) -> dict[str, Metric]:
    """One collect() rendered and parsed back, by family name."""
    text = render(list(collector.collect())).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def by_gpu(family: Metric) -> dict[str, float]:
    return {s.labels["gpu"]: s.value for s in family.samples}


GOLDEN = Path(__file__).resolve().parents[1] / "golden"


SEED = 42


def series(text: str, ignore: tuple[str, ...] = ()) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """(sample name, sorted labels) of every GPU sample, dropping ``ignore`` labels."""
    out = []
    for fam in text_string_to_metric_families(text):
        if not (fam.name.startswith("DCGM_") or fam.name.startswith("spark_exporter_gpu_")):
            continue
        for s in fam.samples:
            out.append((s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ignore))))
    return out
