"""History for a fresh Prometheus: simulated GPU series over the past, written as TSDB blocks before it starts.

The demo starts Prometheus on an empty data directory, so every chart of the Command Center would open
empty. :func:`backfill` fills the last ``span`` seconds instead: for each simulated node it replays the
NVML simulator (:class:`~spark_exporter.nvml.sim.SimulatedNvml`, the same profile and seed the node's
exporter runs) at past instants, labels each series exactly as Prometheus labels the live scrape (the
exporter's own labels, read from one scrape, plus ``job``, ``instance``, ``cluster`` and ``node``), writes
OpenMetrics text and turns it into blocks with ``promtool tsdb create-blocks-from openmetrics``. The
backfilled series and the live ones are then one series each, continuing at the first scrape.

Only the families the history charts read are written (:data:`FAMILIES`), in their exporter units.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ..nvml.sim import SimHandle, SimulatedNvml

MIB = 1024 * 1024  # bytes

# family -> what the simulator's value is read from (a GPU handle in, the exporter's unit out)
FAMILIES: dict[str, Callable[[SimulatedNvml, SimHandle], float]] = {
    "DCGM_FI_DEV_GPU_UTIL": lambda nv, h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu),  # %
    "DCGM_FI_DEV_GPU_TEMP": lambda nv, h: float(nv.nvmlDeviceGetTemperature(h, 0)),  # C (NVML_TEMPERATURE_GPU)
    "DCGM_FI_DEV_POWER_USAGE": lambda nv, h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,  # mW -> W
    # MiB: on unified memory (GB10) the exporter's FB_USED is the sum of its processes' memory
    "DCGM_FI_DEV_FB_USED": lambda nv, h: sum(p.usedGpuMemory for p in nv.nvmlDeviceGetComputeRunningProcesses(h))
    / MIB,
}
PROMTOOL_TIMEOUT = 120.0  # s
MAX_SCRAPE_TEXT = 8 * 1024 * 1024  # characters of one exporter scrape parsed for its labels


class BackfillError(Exception):
    """promtool failed or the scrape had no GPU series; the demo goes on without history."""


@dataclass(frozen=True)
class SimulatedNode:
    """One node of the demo: its exporter's NVML profile and seed, its scrape target labels and one scrape."""

    profile: str  # --gpu.simulate
    seed: int  # --gpu.seed
    target: Mapping[str, str]  # job, instance, cluster, node: what Prometheus adds to every series
    scrape: str  # the exporter's /metrics text


def gpu_labels(scrape: str) -> dict[str, dict[str, dict[str, str]]]:
    """family -> gpu index label -> the exporter's label set of that GPU's series, from one scrape's text."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for fam in text_string_to_metric_families(scrape[:MAX_SCRAPE_TEXT]):
        if fam.name not in FAMILIES:
            continue
        for s in fam.samples:
            if s.name == fam.name and "gpu" in s.labels:
                out.setdefault(fam.name, {})[s.labels["gpu"]] = dict(s.labels)
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series_line(name: str, labels: Mapping[str, str], value: float, t: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}} {value:g} {t:.3f}"


class _Clock:
    """A settable clock for the simulator: it answers the past instant being written."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def openmetrics(nodes: Iterable[SimulatedNode], start: float, end: float, step: float) -> str:
    """OpenMetrics text of every FAMILIES series of ``nodes`` from ``start`` to before ``end`` (s since epoch),
    every ``step`` s, grouped by family as the format requires. BackfillError when no scrape has a GPU series."""
    if step <= 0 or not math.isfinite(start) or end <= start:
        raise BackfillError(f"bad backfill window: start={start} end={end} step={step}")
    times = [start + i * step for i in range(int((end - start) // step))]
    lines: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for node in nodes:
        labels = gpu_labels(node.scrape)
        clock = _Clock(start)
        nv = SimulatedNvml(node.profile, seed=node.seed, clock=clock)
        nv.nvmlInit()
        try:
            for name, read in FAMILIES.items():
                for gpu, own in sorted(labels.get(name, {}).items()):
                    handle = nv.nvmlDeviceGetHandleByIndex(int(gpu))
                    full = {**own, **node.target}
                    for t in times:
                        clock.now = t
                        lines[name].append(_series_line(name, full, read(nv, handle), t))
        finally:
            nv.nvmlShutdown()
    if not any(lines.values()):
        raise BackfillError("no GPU series in the exporters' scrapes to backfill")
    out: list[str] = []
    for name, body in lines.items():
        if body:
            out += [f"# TYPE {name} gauge", *body]
    return "\n".join([*out, "# EOF", ""])


def write_blocks(promtool: str, text: str, workdir: Path, data_dir: Path, timeout: float = PROMTOOL_TIMEOUT) -> None:
    """``promtool tsdb create-blocks-from openmetrics`` of ``text`` into ``data_dir`` (created when missing).

    BackfillError with promtool's last output line when it fails or runs past ``timeout`` s.
    """
    source = workdir / "backfill.om"
    source.write_text(text)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(  # noqa: S603 - a fixed argv, no shell
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackfillError(f"promtool did not finish within {timeout:g}s") from None
    finally:
        source.unlink(missing_ok=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BackfillError(f"promtool exited with {proc.returncode}: {last[0][:300]}")


def backfill(promtool: str, nodes: list[SimulatedNode], workdir: Path, data_dir: Path, now: float,
             span: float = 3600.0, step: float = 15.0) -> int:
    """Write ``span`` s of history before ``now`` for ``nodes`` into ``data_dir``; the number of samples written.

    BackfillError when promtool fails or no scrape has a GPU series.
    """
    text = openmetrics(nodes, now - span, now - step, step)
    write_blocks(promtool, text, workdir, data_dir)
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))
