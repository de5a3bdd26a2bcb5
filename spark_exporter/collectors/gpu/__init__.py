"""The gpu collector: NVML readings under dcgm-exporter's names and labels (see docs/gpu.md).

Split by concern: :mod:`.readings` (one GPU's NVML readings, what each DCGM field is read from, and
which values cannot be true), :mod:`.memory` (the unified-memory policy for GB10) and
:mod:`.collector` (the collector's life cycle: discovery, lost GPUs, background threads, families).
Importing this package registers the collector.
"""

from __future__ import annotations

from .collector import OPTIONS, GpuCollector, gpu_label_names, gpu_label_values
from .readings import READERS, Device, DeviceReading, Memory

__all__ = ["OPTIONS", "READERS", "Device", "DeviceReading", "GpuCollector", "Memory",
           "gpu_label_names", "gpu_label_values"]
