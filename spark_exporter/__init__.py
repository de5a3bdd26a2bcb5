"""spark-exporter: DCGM- and node_exporter-compatible telemetry for NVIDIA DGX Spark clusters."""

from __future__ import annotations

__version__ = "0.1.0"
