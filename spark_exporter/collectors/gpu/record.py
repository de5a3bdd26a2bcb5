"""One collection of the gpu collector over a recording NVML library: the recording's document.

The recording library itself is :class:`spark_exporter.nvml.record.RecordingLibrary`; the command
line is ``spark-exporter gpu record`` (:mod:`spark_exporter.commands.gpu`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from ...nvml.background import WatchedDevice
from ...nvml.gpm import MIN_INTERVAL
from ...nvml.record import RecordingLibrary
from ...nvml.recording import FORMAT
from ..base import Paths
from .collector import GpuCollector


def record_library(cfg: Any, paths: Paths, lib: Any, source: str, clock: Any = None,
                   wait: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Record one collection (and one PCIe sample) of a gpu collector over ``lib``.

    Where a GPU has GPM, a second collection follows after ``wait(2 * MIN_INTERVAL)`` (0.2 s), so the GPM
    metrics of that interval are recorded too (the first collection's other answers are kept).

    Returns the recording: ``format``, ``driver``, ``models``, ``source`` (as given), ``nvidia_ml_py``
    (the binding's version), ``recorded_at`` (ISO 8601, UTC) and ``calls`` (each ``fn``, ``args`` and
    ``value`` or ``error``/``code``). NVML errors other than per-call ones propagate (NvmlUnavailable,
    NvmlFatal).
    """
    recorder = RecordingLibrary(lib)
    collector = GpuCollector(cfg, paths, nvml_lib=recorder, **({"clock": clock} if clock else {}))
    try:
        collector.collect()
        if collector.pcie is not None and collector._devices:
            collector.pcie.sample_once([WatchedDevice(d.handle, d.uuid) for d in collector._devices])
        if collector.gpm.supported_count():
            wait(2 * MIN_INTERVAL)
            collector.collect()
    finally:
        collector.close()
    calls = recorder.calls
    driver = next((c.get("value") for c in calls if c["fn"] == "nvmlSystemGetDriverVersion"), None)
    models = sorted({c["value"] for c in calls if c["fn"] == "nvmlDeviceGetName" and "value" in c})
    try:
        binding = metadata.version("nvidia-ml-py")
    except metadata.PackageNotFoundError:
        binding = "unknown"
    return {"format": FORMAT, "driver": driver, "models": models, "source": source,
            "nvidia_ml_py": binding, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "calls": calls}
